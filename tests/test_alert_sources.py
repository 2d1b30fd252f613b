"""Alert sources end to end: real HTTP to each source's webhook, SMS at the SMS Gateway simulator.

Bodies are the sample bodies of tests/fixtures/alerts (their sources are named in test_alert_sources_parse.py).
"""

from __future__ import annotations

import base64
import copy
import json
import logging
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sms_alerts import alert_webhooks
from custom_components.sms_alerts.alert_store import storage_key
from custom_components.sms_alerts.const import DOMAIN
from custom_components.sms_alerts.diagnostics import async_get_config_entry_diagnostics
from custom_components.sms_alerts.outbox import parse_items
from custom_components.sms_alerts.source_sensor import WRITE_INTERVAL

from .conftest import RECIPIENT, RunningSimulator, advance, gateway_entry_for, on_disk, shown_state, until

FIXTURES = Path(__file__).parent / "fixtures" / "alerts"
TOKEN = "s3cret-token-for-tests"
HOOK = "alert-hook-1"
SOURCE_ID = "source1"
NIGHT = "+491709999999"


def load(name: str) -> dict[str, Any]:
    """A sample body."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def source_subentry(**data: Any) -> dict[str, Any]:
    """An Alertmanager source subentry, fields replaced."""
    return {
        "data": {
            "kind": "alertmanager",
            "recipients": [],
            "send_resolved": True,
            "local_only": True,
            "routes": [],
            "webhook_id": HOOK,
            "token": TOKEN,
            **data,
        },
        "subentry_type": "alert_source",
        "title": "Prometheus",
        "unique_id": HOOK,
        "subentry_id": SOURCE_ID,
    }


def entry_with(
    gateway: RunningSimulator,
    *subentries: dict[str, Any],
    options: dict[str, Any] | None = None,
    recipient: dict[str, Any] | None = None,
) -> MockConfigEntry:
    """The SMS Gateway entry, its recipient "On call" (data replaced by `recipient`; {}: none), more subentries."""
    entry = gateway_entry_for(gateway, options=options)
    on_call = {
        "data": recipient or {"target": RECIPIENT},
        "subentry_type": "recipient",
        "title": "On call",
        "unique_id": RECIPIENT,
        "subentry_id": "oncall",
    }
    return MockConfigEntry(
        domain=DOMAIN,
        title=entry.title,
        unique_id=entry.unique_id,
        options=dict(entry.options),
        data=dict(entry.data),
        subentries_data=[on_call, *subentries] if recipient != {} else list(subentries),
    )


async def setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add and set up an entry."""
    hass.config.country = "DE"
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


def bearer(token: str = TOKEN) -> dict[str, str]:
    """An Authorization header with a bearer token."""
    return {"Authorization": f"Bearer {token}"}


def basic(user: str, password: str) -> dict[str, str]:
    """An HTTP Basic Authorization header."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def post(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, body: Any, headers: dict[str, str] | None = None
) -> int:
    """Post a body to the source's webhook; return the status."""
    client = await hass_client_no_auth()
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await client.post(
        f"/api/webhook/{HOOK}",
        data=raw,
        headers={"Content-Type": "application/json", **(bearer() if headers is None else headers)},
    )
    await hass.async_block_till_done()
    return response.status


@pytest.fixture
async def loaded(hass: HomeAssistant, gateway: RunningSimulator) -> MockConfigEntry:
    """An entry with one recipient and one Alertmanager source to all recipients."""
    entry = entry_with(gateway, source_subentry())
    await setup(hass, entry)
    return entry


def texts(gateway: RunningSimulator) -> list[tuple[str, str]]:
    """What the simulator received: (to, text) pairs."""
    return [(message.to, message.text) for message in gateway.sim.messages]


async def test_a_body_our_reader_fails_on_gets_400_and_one_warning_not_a_500(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded: MockConfigEntry,
    gateway: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug in reading a body (here RecursionError) answers 400 and one warning line; nothing is sent or fired."""

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RecursionError

    monkeypatch.setattr(alert_webhooks, "parse", broken)
    events = async_capture_events(hass, "sms_alerts_alert")
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 400
    assert gateway.sim.messages == []
    assert events == []
    [line] = [record for record in caplog.records if "refused an alert body" in record.getMessage()]
    assert line.levelname == "WARNING"
    assert "400: unreadable (RecursionError)" in line.getMessage()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("wrong"),
        bearer(""),
        {"Authorization": TOKEN},
        {"Authorization": f"Token {TOKEN}"},
        basic("admin", TOKEN),
        basic("sms_alerts", "wrong"),
        {"Authorization": "Basic !!!not-base64"},
    ],
    ids=[
        "none",
        "wrong-bearer",
        "empty-bearer",
        "bare-token",
        "other-scheme",
        "basic-other-user",
        "basic-wrong",
        "basic-junk",
    ],
)
async def test_request_without_the_secret_gets_401_and_sends_nothing(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded: MockConfigEntry,
    gateway: RunningSimulator,
    headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """CONTRACT: anything but the bearer token or Basic sms_alerts:token is 401, and no SMS goes out."""
    events = async_capture_events(hass, "sms_alerts_alert")
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing"), headers) == 401
    assert gateway.sim.messages == []
    assert events == []
    assert TOKEN not in caplog.text


async def test_basic_auth_with_the_token_is_accepted(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, loaded: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """HTTP Basic with user sms_alerts and the token as password is as good as the bearer token."""
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing"), basic("sms_alerts", TOKEN)) == 200
    assert len(gateway.sim.messages) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json at all", 400),
        (b"", 400),
        (b"[1, 2]", 400),
        (b'{"alerts": "many"}', 400),
        (b"[" * 5000 + b"]" * 5000, 400),
    ],
    ids=["not-json", "empty", "list", "alerts-not-list", "deep"],
)
async def test_unreadable_body_gets_400_with_one_warning_and_sends_nothing(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded: MockConfigEntry,
    gateway: RunningSimulator,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    status: int,
) -> None:
    """A body that cannot be read is a 4xx, never a 500; one short warning, no traceback (log_guard)."""
    caplog.clear()
    assert await post(hass, hass_client_no_auth, body) == status
    assert gateway.sim.messages == []
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("custom_components")]
    assert len(warnings) == 1
    assert "Prometheus" in warnings[0].getMessage()


async def test_firing_sends_once_repeat_is_counted_and_resolved_goes_to_the_same_number(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, loaded: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """Firing: one SMS naming the alert; firing again while open: counted, not sent; resolved: RESOLVED to them."""
    events = async_capture_events(hass, "sms_alerts_alert")
    firing = load("alertmanager_firing")
    assert await post(hass, hass_client_no_auth, firing) == 200
    assert len(gateway.sim.messages) == 1
    to, text = texts(gateway)[0]
    assert "ProbeFailure" in text
    assert text.startswith("FIRING critical")
    again = copy.deepcopy(firing)
    again["groupKey"] = "a later notification of the same group"
    assert await post(hass, hass_client_no_auth, again) == 200
    assert len(gateway.sim.messages) == 1
    state = await shown_state(hass, "sensor.prometheus_open_alerts")
    assert state is not None
    assert state.state == "1"
    assert state.attributes["alerts"][0]["count"] == 2
    assert await post(hass, hass_client_no_auth, load("alertmanager_resolved")) == 200
    assert len(gateway.sim.messages) == 2
    resolved_to, resolved_text = texts(gateway)[1]
    assert resolved_to == to
    assert "RESOLVED" in resolved_text
    assert "ProbeFailure" in resolved_text
    assert [(e.data["status"], e.data["source"], e.data["fingerprint"]) for e in events] == [
        ("firing", "Prometheus", "1a30ba71cca2921f"),
        ("resolved", "Prometheus", "1a30ba71cca2921f"),
    ]
    # The source's device: its page's logbook shows the alert's transitions
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), loaded.entry_id)
    [device] = [found for found in devices if (DOMAIN, f"{loaded.entry_id}_{SOURCE_ID}") in found.identifiers]
    assert {e.data["device_id"] for e in events} == {device.id}
    assert (await shown_state(hass, "sensor.prometheus_open_alerts")).state == "0"  # type: ignore[union-attr]


async def test_the_same_delivery_twice_is_acted_on_once(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, loaded: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """A sender's retry of the same body (resolved, posted twice after the firing) is acted on once."""
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    assert await post(hass, hass_client_no_auth, load("alertmanager_resolved")) == 200
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    assert len(gateway.sim.messages) == 2


async def test_a_generic_alert_that_fires_again_after_it_resolved_is_sent(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A generic body carries no time: firing anew minutes after it resolved is the same body, and is acted on.

    A sender's retry of a body acted on changes nothing, and stays one SMS. (The RESOLVED of the second time
    comes 6 minutes after the first: an identical one within the duplicate window of 5 would be a copy.)
    """
    freezer.move_to("2026-01-15 12:00:00+00:00")
    fields = {key: key for key in ("name", "status", "severity", "message", "dedup_key")}
    await setup(hass, entry_with(gateway, source_subentry(kind="generic", fields=fields)))
    firing = {"name": "DiskFull db1", "status": "firing", "severity": "critical", "message": "97%", "dedup_key": "db1"}
    resolved = {**firing, "status": "resolved"}
    for body, wait in ((firing, 0), (firing, 10), (resolved, 60), (resolved, 0), (firing, 60), (firing, 0)):
        await advance(hass, freezer, wait)
        assert await post(hass, hass_client_no_auth, body) == 200
    await advance(hass, freezer, 300)
    assert await post(hass, hass_client_no_auth, resolved) == 200
    assert [text.split()[0] for _to, text in texts(gateway)] == ["FIRING", "RESOLVED", "FIRING", "RESOLVED"]


async def test_a_new_episode_of_an_alert_whose_resolved_never_came_is_sent(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded: MockConfigEntry,
    gateway: RunningSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Its RESOLVED was lost (posted in the seconds of a start, answered by Home Assistant itself: Limits).

    The same alert firing with a later startsAt is a new episode: its FIRING goes out with a new code, and the
    earlier one is closed without a RESOLVED nobody sent. An earlier startsAt (another Prometheus replica's,
    which Alertmanager merges to the earliest) is the same episode: counted, not sent.
    """
    events = async_capture_events(hass, "sms_alerts_alert")
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    replica = load("alertmanager_firing")
    replica["alerts"][0]["startsAt"] = "2020-01-01T00:00:00Z"
    replica["groupKey"] = "a later notification"
    assert await post(hass, hass_client_no_auth, replica) == 200
    assert len(texts(gateway)) == 1
    anew = load("alertmanager_firing")
    anew["alerts"][0]["startsAt"] = "2099-01-22T12:00:00Z"
    assert await post(hass, hass_client_no_auth, anew) == 200
    assert [text.split()[0] for _to, text in texts(gateway)] == ["FIRING", "FIRING"]
    assert [(e.data["status"], e.data["reference"]) for e in events] == [
        ("firing", "A1"),
        ("resolved", "A1"),
        ("firing", "A2"),
    ]
    assert "ProbeFailure (A1) fires anew; its earlier firing never got its resolved and is closed" in caplog.text
    # Its later RESOLVED tells of the new episode
    resolved = load("alertmanager_resolved")
    resolved["alerts"][0]["startsAt"] = "2099-01-22T12:00:00Z"
    assert await post(hass, hass_client_no_auth, resolved) == 200
    assert [text.split()[0] for _to, text in texts(gateway)] == ["FIRING", "FIRING", "RESOLVED"]


async def test_uptime_kuma_a_resend_is_counted_and_a_down_after_a_lost_up_is_sent(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, gateway: RunningSimulator
) -> None:
    """Uptime Kuma marks the beat that turns a monitor down `important`; its resends while down are not.

    A resend (Resend Notification if Down X times) is counted. An important down while the alert is open came
    after an up nobody heard (Uptime Kuma never retries a notification): a new episode, sent.
    """
    await setup(hass, entry_with(gateway, source_subentry(kind="uptime_kuma")))
    assert await post(hass, hass_client_no_auth, load("uptime_kuma_down")) == 200
    resend = load("uptime_kuma_down")
    resend["heartbeat"].update(important=False, time="2024-09-24 23:56:35.527")
    assert await post(hass, hass_client_no_auth, resend) == 200
    assert [text.split()[0] for _to, text in texts(gateway)] == ["FIRING"]
    down_again = load("uptime_kuma_down")
    down_again["heartbeat"]["time"] = "2024-09-25 08:00:00.000"
    assert await post(hass, hass_client_no_auth, down_again) == 200
    assert [text.split()[0] for _to, text in texts(gateway)] == ["FIRING", "FIRING"]


async def test_resolved_is_not_sent_when_send_resolved_is_off(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, gateway: RunningSimulator
) -> None:
    """send_resolved off: the firing SMS only."""
    await setup(hass, entry_with(gateway, source_subentry(send_resolved=False)))
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    assert await post(hass, hass_client_no_auth, load("alertmanager_resolved")) == 200
    assert [text.split()[0] for _to, text in texts(gateway)] == ["FIRING"]


async def test_routes_send_each_alert_to_its_recipients(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, gateway: RunningSimulator
) -> None:
    """severity=critical -> Night: the critical alert goes to Night only; the warning ones to the default (On call)."""
    night = {
        "data": {"target": NIGHT},
        "subentry_type": "recipient",
        "title": "Night",
        "unique_id": NIGHT,
        "subentry_id": "night",
    }
    routes = [{"matchers": ["severity=critical", "alertname=~Disk.*"], "recipients": ["night"]}]
    await setup(hass, entry_with(gateway, night, source_subentry(recipients=["oncall"], routes=routes)))
    # Nothing left out (tests/test_alert_not_shown.py has what is)
    assert await post(hass, hass_client_no_auth, load("alertmanager_grouped") | {"truncatedAlerts": 0}) == 200
    by_target: dict[str, int] = {}
    for to, _text in texts(gateway):
        by_target[to] = by_target.get(to, 0) + 1
    assert sorted(by_target.values()) == [2, 2]
    assert any(NIGHT.lstrip("+") in to for to in by_target)
    assert any(RECIPIENT.lstrip("+") in to for to in by_target)
    for to, text in texts(gateway):
        assert ("critical" in text) == (NIGHT.lstrip("+") in to)


async def test_an_alert_for_removed_recipients_goes_to_all(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, gateway: RunningSimulator
) -> None:
    """A source whose chosen recipients were all removed sends to every recipient rather than to nobody."""
    await setup(hass, entry_with(gateway, source_subentry(recipients=["removed"])))
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    assert len(gateway.sim.messages) == 1


async def test_many_alerts_past_the_rate_limit_become_one_summary(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, gateway: RunningSimulator
) -> None:
    """A group of 4 firing alerts with a rate limit of 2 a minute: one SMS naming them all.

    The sample's sender left 2 more out (`truncatedAlerts`): a second SMS says so.
    """
    await setup(hass, entry_with(gateway, source_subentry(), options={"rate_limit": 2}))
    assert await post(hass, hass_client_no_auth, load("alertmanager_grouped")) == 200
    await until(lambda: len(gateway.sim.messages) == 2, "both SMS")
    assert texts(gateway)[0][1].startswith("FIRING 4 alerts (2 critical)")
    assert texts(gateway)[1][1].startswith("Prometheus: 2 more alerts left out")


async def test_resolved_before_the_held_firing_sms_went_out_sends_nothing(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A warning held by quiet hours and resolved meanwhile is taken back: neither it nor RESOLVED goes out."""
    freezer.move_to("2026-01-15 12:00:00+00:00")
    quiet = {"target": RECIPIENT, "quiet_start": "00:00:00", "quiet_end": "23:59:00"}
    entry = entry_with(gateway, source_subentry(), recipient=quiet)
    await setup(hass, entry)
    firing, resolved = load("alertmanager_firing"), load("alertmanager_resolved")
    for body in (firing, resolved):
        body["alerts"][0]["labels"]["severity"] = "warning"
    assert await post(hass, hass_client_no_auth, firing) == 200
    assert len(entry.runtime_data.outbox.items) == 1
    assert await post(hass, hass_client_no_auth, resolved) == 200
    assert entry.runtime_data.outbox.items == []
    assert gateway.sim.messages == []


async def test_a_held_sms_another_alert_was_a_copy_of_is_not_taken_back_with_the_first(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Two alerts with the same text (node-exporter's filesystem alert on / and /var of db1), in quiet hours.

    The first SMS is held, the second is its duplicate. The first alert resolves: its held SMS is not taken back,
    since it tells of the second too, which still fires. It goes out when the quiet hours end, its RESOLVED after
    it (the two in one summary). Before, it was taken back, and nobody heard of /var. The second's RESOLVED goes
    to those told.
    """
    await hass.config.async_set_time_zone("UTC")
    freezer.move_to("2026-01-15 12:00:00+00:00")
    quiet = {"target": RECIPIENT, "quiet_start": "00:00:00", "quiet_end": "12:30:00"}
    entry = entry_with(gateway, source_subentry(), recipient=quiet)
    await setup(hass, entry)
    firing = load("alertmanager_firing")
    root = firing["alerts"][0]
    root["labels"].update(severity="warning", mountpoint="/")
    var = copy.deepcopy(root)
    var["labels"]["mountpoint"] = "/var"
    var["fingerprint"] = "2b41cb82ddb3a32a"
    firing["alerts"].append(var)
    assert await post(hass, hass_client_no_auth, firing) == 200
    assert len(entry.runtime_data.outbox.items) == 1
    resolved = load("alertmanager_resolved")
    resolved["alerts"][0]["labels"].update(severity="warning", mountpoint="/")
    assert await post(hass, hass_client_no_auth, resolved) == 200
    assert len(entry.runtime_data.outbox.items) == 2
    await advance(hass, freezer, 31 * 60)
    # The quiet hours' end sends what they held in one SMS
    [(_to, text)] = texts(gateway)
    assert text.startswith("2 alerts: FIRING warning ProbeFailure")
    assert "| RESOLVED ProbeFailure" in text
    # (after the duplicate window: its text is the first's RESOLVED's)
    await advance(hass, freezer, 6 * 60)
    resolved["alerts"][0].update(fingerprint=var["fingerprint"], labels=var["labels"])
    assert await post(hass, hass_client_no_auth, resolved) == 200
    assert [text.split()[0] for _to, text in texts(gateway)] == ["2", "RESOLVED"]


async def test_open_alerts_survive_a_restart_and_resolve_after_it(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
) -> None:
    """Open alerts are written at unload and read at setup: the RESOLVED after a reload goes to who got the firing."""
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    assert await hass.config_entries.async_unload(loaded.entry_id)
    stored = hass_storage[storage_key(loaded.entry_id)]["data"]
    assert [alert["fingerprint"] for alert in stored["open"]] == ["1a30ba71cca2921f"]
    assert await hass.config_entries.async_setup(loaded.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert (await shown_state(hass, "sensor.prometheus_open_alerts")).state == "1"  # type: ignore[union-attr]
    assert await post(hass, hass_client_no_auth, load("alertmanager_resolved")) == 200
    assert [text.split()[0] for _to, text in texts(gateway)] == ["FIRING", "RESOLVED"]


async def test_acknowledge_action_marks_the_alert_and_fires_the_event(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, loaded: MockConfigEntry
) -> None:
    """sms_alerts.acknowledge by fingerprint or reference: status acknowledged, in the event and the sensor."""
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    events = async_capture_events(hass, "sms_alerts_alert")
    reference = (await shown_state(hass, "sensor.prometheus_open_alerts")).attributes["alerts"][0]["reference"]  # type: ignore[union-attr]
    await hass.services.async_call(
        DOMAIN, "acknowledge", {"config_entry_id": loaded.entry_id, "reference": reference}, blocking=True
    )
    await hass.async_block_till_done()
    assert [(e.data["status"], e.data["fingerprint"], e.data["entry_id"]) for e in events] == [
        ("acknowledged", "1a30ba71cca2921f", loaded.entry_id)
    ]
    assert (await shown_state(hass, "sensor.prometheus_open_alerts")).attributes["alerts"][0][
        "status"
    ] == "acknowledged"  # type: ignore[union-attr]
    with pytest.raises(ServiceValidationError, match="No open alert nope"):
        await hass.services.async_call(
            DOMAIN, "acknowledge", {"config_entry_id": loaded.entry_id, "fingerprint": "nope"}, blocking=True
        )


async def test_uptime_kuma_test_button_sends_a_test_sms(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, gateway: RunningSimulator
) -> None:
    """Uptime Kuma's Test button (heartbeat and monitor null) sends one TEST SMS to the source's recipients."""
    await setup(hass, entry_with(gateway, source_subentry(kind="uptime_kuma")))
    assert await post(hass, hass_client_no_auth, load("uptime_kuma_test")) == 200
    assert [text.split()[0] for _to, text in texts(gateway)] == ["TEST"]


async def test_generic_source_reads_its_fields(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, gateway: RunningSimulator
) -> None:
    """A generic source (Zabbix media type) with its field paths: problem fires, recovery resolves."""
    fields = {"name": "event.name", "status": "event.value", "severity": "event.severity", "dedup_key": "event.id"}
    await setup(hass, entry_with(gateway, source_subentry(kind="generic", fields=fields)))
    assert await post(hass, hass_client_no_auth, load("generic_zabbix_problem")) == 200
    assert await post(hass, hass_client_no_auth, load("generic_zabbix_resolved")) == 200
    assert [text.split()[0] for _to, text in texts(gateway)] == ["FIRING", "RESOLVED"]


async def test_diagnostics_show_sources_without_their_secret(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, loaded: MockConfigEntry
) -> None:
    """Diagnostics list each source and its open alerts; neither its token nor its webhook id appears."""
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    diagnostics = await async_get_config_entry_diagnostics(hass, loaded)
    assert diagnostics["alert_sources"] == [
        {
            "kind": "alertmanager",
            "local_only": True,
            "send_resolved": True,
            "recipients": 0,
            "routes": 0,
            "escalation_steps": 0,
            "maintenance": {"active": False, "started": None, "ends": None, "held": 0},
            "open": [{"status": "firing", "severity": "critical", "count": 1, "told": 1}],
        }
    ]
    assert [recipient["subentry_type"] for recipient in diagnostics["recipients"]] == ["recipient"]
    text = json.dumps(diagnostics)
    assert TOKEN not in text
    assert HOOK not in text


@pytest.mark.parametrize(
    ("recipient", "warning"),
    [
        ({"target": "ext:100"}, "could not be sent"),
        ({}, "no recipient is set up or routed"),
    ],
    ids=["target-the-provider-cannot-serve", "no-recipient"],
)
async def test_an_alert_nobody_can_get_is_a_warning_not_an_error(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    caplog: pytest.LogCaptureFixture,
    recipient: dict[str, Any],
    warning: str,
) -> None:
    """A firing alert that reaches no one is logged as a warning (never silent), the sender gets 200, no traceback."""
    await setup(hass, entry_with(gateway, source_subentry(), recipient=recipient))
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    assert gateway.sim.messages == []
    assert warning in caplog.text


@pytest.mark.parametrize(
    ("kind", "firing", "resolved", "name", "sent"),
    [
        ("grafana", "grafana_firing", "grafana_resolved", "High memory usage", ["FIRING", "FIRING", "RESOLVED"]),
        ("uptime_kuma", "uptime_kuma_down", "uptime_kuma_up", "Test", ["FIRING", "RESOLVED"]),
    ],
)
async def test_grafana_and_uptime_kuma_fire_and_resolve(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    kind: str,
    firing: str,
    resolved: str,
    name: str,
    sent: list[str],
) -> None:
    """Grafana's contact point body (two alerts, one resolved later) and Uptime Kuma's down then up."""
    await setup(hass, entry_with(gateway, source_subentry(kind=kind)))
    assert await post(hass, hass_client_no_auth, load(firing)) == 200
    assert await post(hass, hass_client_no_auth, load(resolved)) == 200
    assert [text.split()[0] for _to, text in texts(gateway)] == sent
    assert name in texts(gateway)[-1][1]


async def test_a_burst_of_refused_requests_gives_one_warning(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Refusals are rate-limited in the log: a scanner posting 20 times leaves one warning line."""
    caplog.clear()
    for _ in range(20):
        assert await post(hass, hass_client_no_auth, b"{}", bearer("guess")) == 401
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("custom_components")]
    assert len(warnings) == 1


async def test_an_open_alert_nobody_got_is_sent_on_its_next_firing(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Firing with no recipient yet: open, nobody told. A recipient added (the entry reloads), the next firing goes."""
    entry = entry_with(gateway, source_subentry(), recipient={})
    await setup(hass, entry)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    assert "no recipient is set up" in caplog.text
    hass.config_entries.async_add_subentry(
        entry,
        ConfigSubentry(
            data=MappingProxyType({"target": RECIPIENT}),
            subentry_type="recipient",
            title="On call",
            unique_id=RECIPIENT,
        ),
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    again = load("alertmanager_firing")
    again["groupKey"] = "the next notification"
    assert await post(hass, hass_client_no_auth, again) == 200
    assert [text.split()[0] for _to, text in texts(gateway)] == ["FIRING"]
    assert (await shown_state(hass, "sensor.prometheus_open_alerts")).attributes["alerts"][0]["count"] == 2  # type: ignore[union-attr]


async def test_the_webhook_answers_once_the_alert_is_on_disk_not_when_the_device_answers(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
) -> None:
    """A slow device: Alertmanager gets its 200 while the SMS request is still under way, the alert safe on disk."""
    gateway.sim.latency = 0.5
    client = await hass_client_no_auth()
    response = await client.post(
        f"/api/webhook/{HOOK}",
        data=json.dumps(load("alertmanager_firing")).encode(),
        headers={"Content-Type": "application/json", **bearer()},
    )
    assert response.status == 200
    assert gateway.sim.in_flight == 1
    assert gateway.sim.messages == []
    items, _skipped = parse_items(on_disk(hass_storage, loaded.entry_id))
    assert [item.text.split()[:2] for item in items or []] == [["FIRING", "critical"]]
    await hass.async_block_till_done()
    assert [text.split()[:2] for _to, text in texts(gateway)] == [["FIRING", "critical"]]


async def test_a_critical_resolution_keeps_to_the_rate_limit(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, gateway: RunningSimulator
) -> None:
    """A critical alert pages past the rate limit; its RESOLVED is good news and waits for the minute's summary."""
    entry = entry_with(gateway, source_subentry(), options={"rate_limit": 1})
    await setup(hass, entry)
    await hass.services.async_call(
        DOMAIN, "send", {"config_entry_id": entry.entry_id, "message": "Door open"}, blocking=True
    )
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    assert await post(hass, hass_client_no_auth, load("alertmanager_resolved")) == 200
    assert [text.split()[0] for _to, text in texts(gateway)] == ["Door", "FIRING"]
    state = hass.states.get("sensor.sms_gateway_127_0_0_1_queued_messages")
    assert state is not None
    assert state.state == "1"


async def test_a_burst_writes_the_open_alerts_sensor_about_once_a_second(
    hass: HomeAssistant, loaded: MockConfigEntry, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """Twenty alerts within a second: the first shows at once, the rest together at the second's end.

    A storm changes the open alerts hundreds of times a second; a state (and a recorder row listing
    the open alerts) per change would cost more than the alerts themselves.
    """
    writes = async_capture_events(hass, "state_changed")
    firing = load("alertmanager_firing")
    started = hass.loop.time()
    for number in range(20):
        body = copy.deepcopy(firing)
        body["alerts"][0]["fingerprint"] = f"burst{number:04d}"
        body["groupKey"] = f"burst {number}"
        assert await post(hass, hass_client_no_auth, body) == 200
    took = hass.loop.time() - started
    sensor = "sensor.prometheus_open_alerts"
    shown = [event.data["new_state"].state for event in writes if event.data["entity_id"] == sensor]
    # On a busy machine the twenty requests may take longer than a second: one more write per second they took
    assert shown[0] == "1"
    assert len(shown) <= 1 + int(took / WRITE_INTERVAL), (shown, took)
    assert (await shown_state(hass, sensor)).state == "20"  # type: ignore[union-attr]
