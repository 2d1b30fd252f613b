"""Maintenance windows per alert source, end to end: real HTTP to the webhook, SMS at the SMS Gateway simulator.

The Maintenance switch and the entity action sms_alerts.start_maintenance open a window; while it is open the
source's alerts are held (no SMS, no page); when it ends each routed recipient gets one summary. Time passes with
the freezer and async_fire_time_changed.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sms_alerts.alert_store import storage_key
from custom_components.sms_alerts.const import DOMAIN
from custom_components.sms_alerts.diagnostics import async_get_config_entry_diagnostics

from .conftest import RECIPIENT, RunningSimulator, advance, shown_state
from .test_alert_escalation import MINUTE, NIGHT_RECIPIENT, START, escalated, sent
from .test_alert_sources import entry_with, load, post, setup, source_subentry, texts

SWITCH = "switch.prometheus_maintenance"
SENSOR = "sensor.prometheus_open_alerts"
HOUR = 60 * MINUTE


def at(text: str) -> dt.datetime:
    """A time as the switch's `ends` attribute holds it."""
    return dt.datetime.fromisoformat(text)


PROBE = "ProbeFailure https://server.example.org"


async def switch(hass: HomeAssistant, on: bool) -> None:
    """Turn the Maintenance switch on or off from the UI."""
    await hass.services.async_call("switch", "turn_on" if on else "turn_off", {"entity_id": SWITCH}, blocking=True)
    await hass.async_block_till_done(wait_background_tasks=True)


async def start_maintenance(hass: HomeAssistant, **data: Any) -> None:
    """Call the entity action sms_alerts.start_maintenance on the switch."""
    await hass.services.async_call(DOMAIN, "start_maintenance", {"entity_id": SWITCH, **data}, blocking=True)
    await hass.async_block_till_done(wait_background_tasks=True)


def grouped_with(resolved: set[str]) -> dict[str, Any]:
    """The grouped Alertmanager body (four DiskFull firing), the given instances resolved."""
    body = copy.deepcopy(load("alertmanager_grouped"))
    # The sample's sender left 2 alerts out; nothing is left out here (tests/test_alert_not_shown.py)
    body["truncatedAlerts"] = 0
    body["alerts"] = [alert for alert in body["alerts"] if alert["status"] == "firing"]
    for alert in body["alerts"]:
        if alert["labels"]["instance"].split(":")[0] in resolved:
            alert["status"] = "resolved"
    body["status"] = "firing" if any(alert["status"] == "firing" for alert in body["alerts"]) else "resolved"
    return body


@pytest.fixture
async def loaded(hass: HomeAssistant, gateway: RunningSimulator) -> MockConfigEntry:
    """An entry with one recipient and one Alertmanager source to all recipients."""
    entry = entry_with(gateway, source_subentry())
    await setup(hass, entry)
    return entry


async def test_firing_in_the_window_sends_nothing_and_the_summary_names_what_still_fires(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded: MockConfigEntry,
    gateway: RunningSimulator,
) -> None:
    """On: alerts open, count and fire the event (held), no SMS. Off: one summary; a later RESOLVED goes to them."""
    assert hass.states.get(SWITCH).state == "off"  # type: ignore[union-attr]
    events = async_capture_events(hass, "sms_alerts_alert")
    await switch(hass, on=True)
    state = hass.states.get(SWITCH)
    assert state is not None
    assert state.state == "on"
    assert state.attributes["ends"] is None
    assert await post(hass, hass_client_no_auth, grouped_with(set())) == 200
    assert await post(hass, hass_client_no_auth, grouped_with({"db2", "web1"})) == 200
    assert texts(gateway) == []
    assert (await shown_state(hass, SENSOR)).state == "2"  # type: ignore[union-attr]
    assert [(event.data["status"], event.data["maintenance"]) for event in events] == [
        *[("firing", True)] * 4,
        *[("resolved", True)] * 2,
    ]
    assert hass.states.get(SWITCH).attributes["held"] == 4  # type: ignore[union-attr]
    diagnostics = await async_get_config_entry_diagnostics(hass, loaded)
    assert diagnostics["alert_sources"][0]["maintenance"]["active"] is True
    assert diagnostics["alert_sources"][0]["maintenance"]["held"] == 4

    await switch(hass, on=False)
    assert hass.states.get(SWITCH).state == "off"  # type: ignore[union-attr]
    assert [(to.endswith(RECIPIENT[-9:]), text) for to, text in texts(gateway)] == [
        (
            True,
            "Maintenance of Prometheus ended: 4 alerts held, 2 still firing: DiskFull db1, DiskFull web2",
        )
    ]
    # Still firing after the window: told by the summary, so their resolution goes to the same number
    assert await post(hass, hass_client_no_auth, grouped_with({"db1", "db2", "web1", "web2"})) == 200
    assert [text for _to, text in texts(gateway)[1:]] == ["RESOLVED DiskFull db1", "RESOLVED DiskFull web2"]
    assert events[-1].data["maintenance"] is False


async def test_resolved_in_the_window_is_counted_not_sent_and_nothing_held_sends_nothing(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded: MockConfigEntry,
    gateway: RunningSimulator,
) -> None:
    """An alert that fired and resolved in the window is only counted; a window that held nothing sends nothing."""
    await switch(hass, on=True)
    await switch(hass, on=False)
    assert texts(gateway) == []
    await switch(hass, on=True)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    assert await post(hass, hass_client_no_auth, load("alertmanager_resolved")) == 200
    assert texts(gateway) == []
    await switch(hass, on=False)
    assert [text for _to, text in texts(gateway)] == [
        "Maintenance of Prometheus ended: 1 alert held, none still firing"
    ]


async def test_a_timed_window_ends_by_itself(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded: MockConfigEntry,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """start_maintenance with a duration: `ends` is shown, and at that time the window ends with its summary."""
    freezer.move_to(START)
    await start_maintenance(hass, duration={"hours": 2})
    assert hass.states.get(SWITCH).attributes["ends"] == at("2026-01-15T14:00:00+00:00")  # type: ignore[union-attr]
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    await advance(hass, freezer, 2 * HOUR - 1)
    assert texts(gateway) == []
    assert hass.states.get(SWITCH).state == "on"  # type: ignore[union-attr]
    await advance(hass, freezer, 1)
    assert hass.states.get(SWITCH).state == "off"  # type: ignore[union-attr]
    assert [text for _to, text in texts(gateway)] == [
        f"Maintenance of Prometheus ended: 1 alert held, 1 still firing: {PROBE}"
    ]


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"duration": {"hours": 1}, "end": "2026-01-15 18:00:00"}, "maintenance_duration_and_end"),
        ({"duration": {"seconds": 0}}, "maintenance_duration_short"),
    ],
)
async def test_a_window_asked_for_wrongly_is_a_translated_error(
    hass: HomeAssistant, loaded: MockConfigEntry, data: dict[str, Any], key: str
) -> None:
    """A duration and an end together, or a duration under a minute: a translated error, no window.

    Before, the action form offered both and the library's own English said "two or more values in the same group
    of exclusion"; a duration of 0 said the end had passed.
    """
    with pytest.raises(ServiceValidationError) as err:
        await start_maintenance(hass, **data)
    assert err.value.translation_key == key
    assert hass.states.get(SWITCH).state == "off"  # type: ignore[union-attr]


async def test_an_end_given_as_a_time_and_one_in_the_past(
    hass: HomeAssistant, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """`end` (local time without a zone is Home Assistant's zone) sets `ends`; an end not in the future is refused."""
    freezer.move_to(START)
    await hass.config.async_set_time_zone("Europe/Berlin")
    await start_maintenance(hass, end="2026-01-15 18:00:00")
    assert hass.states.get(SWITCH).attributes["ends"] == at("2026-01-15T17:00:00+00:00")  # type: ignore[union-attr]
    with pytest.raises(ServiceValidationError) as err:
        await start_maintenance(hass, end="2026-01-15 12:00:00")
    assert err.value.translation_key == "maintenance_end_passed"
    with pytest.raises(ServiceValidationError):
        await start_maintenance(hass, duration={"seconds": 0})
    # The window stays as it was
    assert hass.states.get(SWITCH).attributes["ends"] == at("2026-01-15T17:00:00+00:00")  # type: ignore[union-attr]


async def test_a_restart_during_the_window_keeps_it_and_its_end(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded: MockConfigEntry,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """The window and what it held are kept in the alert store; after the reload it is on and ends on time."""
    freezer.move_to(START)
    await start_maintenance(hass, duration={"hours": 1})
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    assert await hass.config_entries.async_unload(loaded.entry_id)
    [window] = hass_storage[storage_key(loaded.entry_id)]["data"]["maintenance"]
    assert window["ends"] == "2026-01-15T13:00:00+00:00"
    assert [held["fingerprint"] for held in window["held"]] == ["1a30ba71cca2921f"]
    assert await hass.config_entries.async_setup(loaded.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    state = hass.states.get(SWITCH)
    assert state is not None
    assert state.state == "on"
    assert state.attributes["ends"] == at("2026-01-15T13:00:00+00:00")
    await advance(hass, freezer, HOUR)
    assert hass.states.get(SWITCH).state == "off"  # type: ignore[union-attr]
    assert [text for _to, text in texts(gateway)] == [
        f"Maintenance of Prometheus ended: 1 alert held, 1 still firing: {PROBE}"
    ]


async def test_a_window_that_ended_while_home_assistant_was_down_ends_at_start(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded: MockConfigEntry,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Down past the window's end: at start-up the window ends with its summary, once."""
    freezer.move_to(START)
    await start_maintenance(hass, duration={"hours": 1})
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    assert await hass.config_entries.async_unload(loaded.entry_id)
    freezer.tick(3 * HOUR)
    assert await hass.config_entries.async_setup(loaded.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(SWITCH).state == "off"  # type: ignore[union-attr]
    assert [text for _to, text in texts(gateway)] == [
        f"Maintenance of Prometheus ended: 1 alert held, 1 still firing: {PROBE}"
    ]
    await advance(hass, freezer, HOUR)
    assert len(texts(gateway)) == 1


async def test_no_page_in_the_window_and_the_escalation_starts_when_it_ends(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A critical alert in the window is not paged; at its end the summary goes, then the escalation's first step."""
    freezer.move_to(START)
    await escalated(hass, gateway)
    await switch(hass, on=True)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    await advance(hass, freezer, 60 * MINUTE)
    assert sent(gateway) == []
    assert "escalation" not in (await shown_state(hass, SENSOR)).attributes["alerts"][0]  # type: ignore[union-attr]
    await switch(hass, on=False)
    summary = f"Maintenance of Prometheus ended: 1 alert held, 1 still firing: {PROBE}"
    assert sorted(sent(gateway)) == sorted(
        [
            ("oncall", summary, False),
            ("night", summary, False),
            (
                "oncall",
                f"FIRING critical {PROBE}: BlackBox Probe Failure: {PROBE.split()[1]} - Ack A1 in Home Assistant",
                False,
            ),
        ]
    )
    await advance(hass, freezer, 10 * MINUTE)
    assert sent(gateway)[-1][0] == "night"


async def test_an_alert_acknowledged_in_the_window_is_not_paged_when_it_ends(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Found by tests/test_alert_model.py: a critical alert acknowledged inside the window gets the summary, no page.

    README: "Acknowledged, the escalation stops"; the window's end starts the escalation of those still firing,
    not of one somebody acknowledged meanwhile.
    """
    freezer.move_to(START)
    entry = await escalated(hass, gateway)
    await switch(hass, on=True)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    await hass.services.async_call(
        DOMAIN, "acknowledge", {"config_entry_id": entry.entry_id, "reference": "A1"}, blocking=True
    )
    await switch(hass, on=False)
    await advance(hass, freezer, 60 * MINUTE)
    summary = f"Maintenance of Prometheus ended: 1 alert held, 1 still firing: {PROBE}"
    assert sorted(sent(gateway)) == [("night", summary, False), ("oncall", summary, False)]
    assert "escalation" not in (await shown_state(hass, SENSOR)).attributes["alerts"][0]  # type: ignore[union-attr]


async def test_a_summary_held_for_quiet_hours_still_goes_when_one_alert_it_names_resolves(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Found by tests/test_alert_model.py: one alert resolving took back the whole held summary of the window.

    The recipient's quiet hours hold the summary (warnings only); README: a firing SMS still held is taken
    back when its alert resolves. The summary tells of the others still firing too: it must still go, with the
    RESOLVED after it.
    """
    freezer.move_to(START)  # 04:00 in Home Assistant's time zone (US/Pacific)
    quiet = {"target": RECIPIENT, "quiet_start": "00:00:00", "quiet_end": "06:00:00"}
    await setup(hass, entry_with(gateway, source_subentry(), recipient=quiet))

    def warnings(body: dict[str, Any]) -> dict[str, Any]:
        for alert in body["alerts"]:
            alert["labels"]["severity"] = "warning"
        return body

    await switch(hass, on=True)
    assert await post(hass, hass_client_no_auth, warnings(grouped_with(set()))) == 200
    await switch(hass, on=False)
    await advance(hass, freezer, MINUTE)
    assert await post(hass, hass_client_no_auth, warnings(grouped_with({"db1"}))) == 200
    assert texts(gateway) == []
    await advance(hass, freezer, 2 * HOUR)
    [(_to, text)] = texts(gateway)
    assert text.startswith("2 alerts: RESOLVED DiskFull db1 | Maintenance of Prometheus ended: 4 alerts held, 4 still")


async def test_an_escalation_running_when_the_window_starts_pauses_and_goes_on_after(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Paged at 12:00, step 2 due 12:10; a window 12:05-12:35 pauses it: no page inside, step 2 at 12:40."""
    freezer.move_to(START)
    await escalated(hass, gateway)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    assert [who for who, _text, _ring in sent(gateway)] == ["oncall"]
    await advance(hass, freezer, 5 * MINUTE)
    await switch(hass, on=True)
    await advance(hass, freezer, 30 * MINUTE)
    assert [who for who, _text, _ring in sent(gateway)] == ["oncall"]
    # Nothing came in the window: no summary
    await switch(hass, on=False)
    assert [who for who, _text, _ring in sent(gateway)] == ["oncall"]
    await advance(hass, freezer, 5 * MINUTE - 1)
    assert [who for who, _text, _ring in sent(gateway)] == ["oncall"]
    await advance(hass, freezer, 1)
    assert [who for who, _text, _ring in sent(gateway)] == ["oncall", "night"]


async def test_routes_give_each_recipient_a_summary_of_its_alerts(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, gateway: RunningSimulator
) -> None:
    """Warnings go to Night, the rest to On call: each gets one summary of the alerts routed to it."""
    routes = [{"matchers": ["severity=warning"], "recipients": ["night"]}]
    entry = entry_with(gateway, NIGHT_RECIPIENT, source_subentry(routes=routes, recipients=["oncall"]))
    await setup(hass, entry)
    await switch(hass, on=True)
    assert await post(hass, hass_client_no_auth, grouped_with(set())) == 200
    assert await post(hass, hass_client_no_auth, grouped_with({"web1"})) == 200
    await switch(hass, on=False)
    assert sorted(sent(gateway)) == [
        ("night", "Maintenance of Prometheus ended: 2 alerts held, 1 still firing: DiskFull db2", False),
        (
            "oncall",
            "Maintenance of Prometheus ended: 2 alerts held, 2 still firing: DiskFull db1, DiskFull web2",
            False,
        ),
    ]


async def test_send_resolved_off_still_summarizes_what_fires(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, gateway: RunningSimulator
) -> None:
    """send_resolved off: the summary names what still fires; its later resolution sends nothing (as always)."""
    await setup(hass, entry_with(gateway, source_subentry(send_resolved=False)))
    await switch(hass, on=True)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    await switch(hass, on=False)
    assert await post(hass, hass_client_no_auth, load("alertmanager_resolved")) == 200
    assert [text for _to, text in texts(gateway)] == [
        f"Maintenance of Prometheus ended: 1 alert held, 1 still firing: {PROBE}"
    ]
