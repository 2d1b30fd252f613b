"""Alerts a body names but does not show: left out by the sender (`truncatedAlerts`) or unreadable.

Alertmanager's and Grafana's webhooks send at most `max_alerts` alerts of a group and put how many they left out
in `truncatedAlerts` (prometheus/alertmanager: notify/webhook/webhook.go, `truncateAlerts` keeps the first
`max_alerts`). Those alerts cannot be sent as themselves; they must not vanish without a word either.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sms_alerts.alerts.models import ParseResult, SourceKind
from custom_components.sms_alerts.alerts.parse import parse
from custom_components.sms_alerts.alerts.render import render_not_shown

from .conftest import RECIPIENT, RunningSimulator, until
from .test_alert_maintenance import switch
from .test_alert_sources import entry_with, load, post, setup, source_subentry, texts

URL = "http://example.com:9093"


def truncated(count: int, *, keep: int = 1) -> dict[str, Any]:
    """The grouped sample as Alertmanager sends it with max_alerts `keep`: its first alerts and the count left out."""
    body = copy.deepcopy(load("alertmanager_grouped"))
    body["alerts"] = body["alerts"][:keep]
    body["truncatedAlerts"] = count
    return body


def warnings_about(caplog: pytest.LogCaptureFixture, words: str) -> list[logging.LogRecord]:
    """The log lines at warning or above that contain some words."""
    return [r for r in caplog.records if r.levelno >= logging.WARNING and words in r.getMessage()]


async def test_alerts_the_sender_left_out_are_told_in_one_sms_and_one_warning(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """max_alerts 1 of 4: the alert it kept goes as always, then one SMS with how many more and where to look."""
    await setup(hass, entry_with(gateway, source_subentry()))
    assert await post(hass, hass_client_no_auth, truncated(3)) == 200
    await until(lambda: len(gateway.sim.messages) == 2, "both SMS")
    assert [text for _to, text in texts(gateway)] == [
        "FIRING critical DiskFull db1: / at 97%",
        f"Prometheus: 3 more alerts left out of the notification (max_alerts) {URL}",
    ]
    assert all(RECIPIENT.lstrip("+") in to for to, _text in texts(gateway))
    [line] = warnings_about(caplog, "max_alerts")
    assert line.levelname == "WARNING"
    assert "left 3 alert(s) out" in line.getMessage()
    # The sender's retry of the same notification is the same delivery: nothing again
    assert await post(hass, hass_client_no_auth, truncated(3)) == 200
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(gateway.sim.messages) == 2


async def test_one_unreadable_alert_is_told_while_the_others_go(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An alert of a body that cannot be read (here a string) costs neither the others nor a word about it."""
    await setup(hass, entry_with(gateway, source_subentry()))
    body = truncated(0)
    body["alerts"].append("not an alert")
    body.pop("externalURL")
    assert await post(hass, hass_client_no_auth, body) == 200
    await until(lambda: len(gateway.sim.messages) == 2, "both SMS")
    assert texts(gateway)[1][1] == "Prometheus: 1 alert of the notification could not be read"
    [line] = warnings_about(caplog, "could not be read")
    assert line.levelname == "WARNING"
    assert "alert 1: a text, not an object" in line.getMessage()
    assert "not an alert" not in caplog.text


async def test_what_was_left_out_goes_with_the_bodys_most_severe_alert_through_quiet_hours(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A critical alert's notification: the SMS about the others passes quiet hours as the critical one does."""
    freezer.move_to(dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC))
    quiet = {"target": RECIPIENT, "quiet_start": "00:00:00", "quiet_end": "23:59:00"}
    await setup(hass, entry_with(gateway, source_subentry(), recipient=quiet))
    assert await post(hass, hass_client_no_auth, truncated(2)) == 200
    await until(lambda: len(gateway.sim.messages) == 2, "both SMS, held by nothing")
    # A warning alert's notification waits for the end of the quiet hours, its SMS about the others too
    warning_only = truncated(5, keep=2)
    warning_only["alerts"] = warning_only["alerts"][1:]
    assert await post(hass, hass_client_no_auth, warning_only) == 200
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(gateway.sim.messages) == 2


async def test_a_window_holds_back_the_sms_about_what_was_left_out(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """In maintenance the alerts are held, and so is the SMS about those left out; the warning still says why."""
    await setup(hass, entry_with(gateway, source_subentry()))
    await switch(hass, True)
    assert await post(hass, hass_client_no_auth, truncated(3)) == 200
    await hass.async_block_till_done(wait_background_tasks=True)
    assert gateway.sim.messages == []
    assert warnings_about(caplog, "max_alerts")


def test_the_text_says_how_many_and_why() -> None:
    """Left out, unreadable, both; one alert or several; the sender's address where it gave one; one SMS at most."""
    both = ParseResult(kind=SourceKind.GRAFANA, truncated=3, unreadable=1, external_url="https://grafana.example/")
    assert (
        render_not_shown("Grafana", both)
        == "Grafana: 4 more alerts not shown: 3 left out (max_alerts), 1 unreadable https://grafana.example/"
    )
    assert (
        render_not_shown("Zabbix", ParseResult(kind=SourceKind.GENERIC, truncated=1))
        == "Zabbix: 1 more alert left out of the notification"
    )
    long = ParseResult(kind=SourceKind.ALERTMANAGER, truncated=2, external_url="http://am.example/" + "x" * 300)
    assert len(render_not_shown("Prometheus", long)) <= 160


def test_more_left_out_is_another_notification_not_a_retry() -> None:
    """The same alerts with another count left out give another digest (a sender's retry gives the same)."""
    first, again, more = (parse(SourceKind.ALERTMANAGER, truncated(count)) for count in (3, 3, 4))
    assert first.digest == again.digest != more.digest
    assert parse(SourceKind.ALERTMANAGER, truncated(0)).digest != first.digest
