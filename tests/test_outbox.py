"""The outbox: nothing lost, nothing silent. Faults, restarts, revoked logins, expiry, fallback, races."""

from __future__ import annotations

import asyncio
import errno
from datetime import datetime, timedelta
from typing import Any

import pytest
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryDisabler, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from homeassistant.util.file import WriteError
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.sms_alerts.api.base import TargetKind
from custom_components.sms_alerts.const import DOMAIN, RETRY_INITIAL, RETRY_MAX
from custom_components.sms_alerts.outbox import backoff, parse_items, storage_key
from simulators.base import Fault

from .conftest import (
    RECIPIENT,
    RunningSimulator,
    advance,
    gateway_entry_for,
    on_disk,
    send,
    start_send,
    until,
    until_queue,
)
from .options_form import nest

SENSOR = "sensor.sms_gateway_127_0_0_1_last_send_status"
QUEUE_SENSOR = "sensor.sms_gateway_127_0_0_1_queued_messages"


def stored(hass_storage: dict[str, Any], entry: MockConfigEntry) -> list[dict[str, Any]]:
    """The messages in an entry's outbox on disk (its file and its journal)."""
    return list(on_disk(hass_storage, entry.entry_id).get("items", []))


def state(hass: HomeAssistant, entity_id: str) -> str:
    """Read a state that must exist."""
    current = hass.states.get(entity_id)
    assert current is not None
    return current.state


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.HTTP_503, "HTTP 503: Service Unavailable"),
        (Fault.HTML_500, "HTTP 500 from the SMS Gateway"),
        (Fault.RESET, "cannot reach the device (ServerDisconnectedError)"),
    ],
)
async def test_fault_queues_then_delivers_exactly_once(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
    fault: Fault,
    error: str,
) -> None:
    """Queued and on disk before the action returns; delivered once after recovery; sensors follow."""
    monkeypatch.setattr(loaded_gateway.runtime_data.provider, "_timeout", 0.2)
    gateway.sim.fail(fault, delay=1)
    response = await send(hass, loaded_gateway, message="Freezer warm")
    assert response["results"] == [
        {
            "target": RECIPIENT,
            "status": "queued",
            "provider": "sms_gateway",
            "error": error,
            "parts": 1,
            "encoding": "gsm7",
            "id": None,
        }
    ]
    assert [item["text"] for item in stored(hass_storage, loaded_gateway)] == ["Freezer warm"]
    assert state(hass, SENSOR) == "queued"
    assert state(hass, QUEUE_SENSOR) == "1"
    gateway.sim.recover()
    await advance(hass, freezer, 20)
    assert gateway.sim.messages == []  # the first retry is 30 s ± 20 % away
    await advance(hass, freezer, 20)
    await advance(hass, freezer, RETRY_MAX)
    assert [m.text for m in gateway.sim.messages] == ["Freezer warm"]
    assert stored(hass_storage, loaded_gateway) == []
    assert state(hass, SENSOR) == "sent"
    assert state(hass, QUEUE_SENSOR) == "0"


async def test_timeout_queues_then_delivers_once(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No answer in time: queued with the duplicate warning, delivered once later.

    The time is frozen only after the timeout, which needs the event loop's clock to run.
    """
    monkeypatch.setattr(loaded_gateway.runtime_data.provider, "_timeout", 0.2)
    gateway.sim.fail(Fault.SLOW, times=1, delay=1)
    response = await send(hass, loaded_gateway, message="x")
    assert response["results"][0]["status"] == "queued"
    assert response["results"][0]["error"] == (
        "no answer within 0.2 s (the message may have been taken: a duplicate is possible)"
    )
    with freeze_time(dt_util.utcnow() + timedelta(seconds=40)):
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
    assert [m.text for m in gateway.sim.messages] == ["x"]
    assert loaded_gateway.runtime_data.outbox.items == []


async def test_gateway_408_is_queued(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """The gateway's own timeout answer is retried."""
    gateway.sim.answer_408 = True
    response = await send(hass, loaded_gateway, message="x")
    assert response["results"][0]["status"] == "queued"
    assert response["results"][0]["error"].startswith("HTTP 408: FAILED - Timeout")
    gateway.sim.answer_408 = False
    await advance(hass, freezer, 40)
    assert len(gateway.sim.messages) == 1


async def test_queued_send_does_not_raise(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """A queued message is not a failure: notify and the action without response return quietly."""
    gateway.sim.fail(Fault.HTTP_503)
    await hass.services.async_call(
        "notify", "send_message", {"entity_id": "notify.on_call", "message": "x"}, blocking=True
    )
    await hass.services.async_call(
        DOMAIN, "send", {"config_entry_id": loaded_gateway.entry_id, "message": "y"}, blocking=True
    )
    assert len(loaded_gateway.runtime_data.outbox.items) == 2


async def test_backoff_spaces_retries_out(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """A gateway down for an hour gets a handful of tries, not hundreds."""
    gateway.sim.fail(Fault.HTTP_503)
    await send(hass, loaded_gateway, message="x")
    for _ in range(60):
        await advance(hass, freezer, 60)
    tries = len([r for r in gateway.sim.requests if r.path == "/api.php"]) - 1  # after the start-up check
    assert 5 <= tries <= 9
    item = loaded_gateway.runtime_data.outbox.items[0]
    assert item.attempts == tries


def test_backoff_doubles_to_the_cap_and_honours_retry_after() -> None:
    """30 s doubling to 30 min with ±20 % jitter; a provider's Retry-After wins."""
    for attempts, base in ((1, 30), (2, 60), (3, 120), (7, 1800), (20, 1800)):
        assert base * 0.8 <= backoff(attempts) <= base * 1.2
    assert backoff(1, retry_after=90) == 90
    assert backoff(1, retry_after=99999) == RETRY_MAX


async def test_messages_to_one_target_keep_their_order(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """A new message to a target with messages waiting queues behind them; other targets go at once."""
    gateway.sim.fail(Fault.HTTP_503, times=1)
    first = await send(hass, loaded_gateway, message="first")
    second = await send(hass, loaded_gateway, message="second")
    other = await send(hass, loaded_gateway, message="other", target=["group:Oncall"])
    assert [r["results"][0]["status"] for r in (first, second, other)] == ["queued", "queued", "sent"]
    assert second["results"][0]["error"] == "waiting behind earlier messages to this target"
    # The one that went through shows the gateway answers again: the waiting ones follow at once
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [m.text for m in gateway.sim.messages] == ["other", "first", "second"]
    await advance(hass, freezer, 40)
    assert [m.text for m in gateway.sim.messages] == ["other", "first", "second"]


async def test_restart_with_messages_waiting(
    hass: HomeAssistant, gateway_entry: MockConfigEntry, gateway: RunningSimulator, hass_storage: dict[str, Any]
) -> None:
    """Messages on disk go out as soon as the entry is up again."""
    hass_storage[storage_key(gateway_entry.entry_id)] = {
        "version": 1,
        "minor_version": 1,
        "key": storage_key(gateway_entry.entry_id),
        "data": {
            "items": [
                {
                    "id": "a",
                    "message_id": "m",
                    "text": "UPS on battery",
                    "target": {"kind": "number", "value": RECIPIENT},
                    "options": {"flash": True},
                    "parts": 1,
                    "severity": "critical",
                    "created": 1.8e9,
                    "attempts": 3,
                    "next_attempt": 2e9,
                    "last_error": "HTTP 503",
                    "visited": [gateway_entry.entry_id],
                }
            ]
        },
    }
    hass.config.country = "DE"
    gateway_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(gateway_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [(m.text, m.options["flash"]) for m in gateway.sim.messages] == [("UPS on battery", True)]
    assert stored(hass_storage, gateway_entry) == []


async def test_reload_keeps_and_resumes_the_queue(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, hass_storage: dict[str, Any]
) -> None:
    """A reload writes the queue and the reloaded entry sends it at once."""
    gateway.sim.fail(Fault.HTTP_503)
    await send(hass, loaded_gateway, message="x")
    await send(hass, loaded_gateway, message="y", target=["group:Oncall"])
    assert await hass.config_entries.async_unload(loaded_gateway.entry_id)
    assert len(stored(hass_storage, loaded_gateway)) == 2
    gateway.sim.recover()
    assert await hass.config_entries.async_setup(loaded_gateway.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert sorted(m.text for m in gateway.sim.messages) == ["x", "y"]
    assert stored(hass_storage, loaded_gateway) == []


def under_way(entry: MockConfigEntry) -> list[str]:
    """The texts of the alerts an entry's outbox has taken and not yet settled."""
    return [item.text for item in entry.runtime_data.outbox._queue.in_flight.values()]


async def test_slow_send_is_on_disk_while_under_way(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, hass_storage: dict[str, Any]
) -> None:
    """A device that keeps a new alert waiting: the alert is on disk while it waits, and leaves it once sent."""
    gateway.gate.hold()
    task = start_send(hass, loaded_gateway, message="UPS on battery")
    await gateway.gate.until_held()
    await until(lambda: stored(hass_storage, loaded_gateway), "the alert under way is on disk")
    [item] = stored(hass_storage, loaded_gateway)
    assert (item["text"], item["target"]["value"], item["in_flight"]) == ("UPS on battery", RECIPIENT, True)
    assert gateway.sim.messages == []  # still under way
    gateway.gate.release()
    assert (await task)["results"][0]["status"] == "sent"
    await hass.async_block_till_done()
    assert stored(hass_storage, loaded_gateway) == []
    assert [m.text for m in gateway.sim.messages] == ["UPS on battery"]


async def test_quick_send_does_not_rewrite_the_outbox_file(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, hass_storage: dict[str, Any]
) -> None:
    """A device that answers at once costs two journal lines per alert, not a rewrite of the outbox file."""
    for text in ("a", "b", "c"):
        assert (await send(hass, loaded_gateway, message=text))["results"][0]["status"] == "sent"
    await hass.async_block_till_done()
    assert storage_key(loaded_gateway.entry_id) not in hass_storage


async def test_send_interrupted_by_a_crash_is_sent_after_the_restart(
    hass: HomeAssistant,
    gateway_entry: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A file written while a send was under way (the process then died): the alert goes out, with a warning."""
    item = {
        "id": "a",
        "message_id": "m",
        "text": "Freezer warm",
        "target": {"kind": "number", "value": RECIPIENT},
        "parts": 1,
        "created": dt_util.utcnow().timestamp(),
        "visited": [gateway_entry.entry_id],
        "in_flight": True,
    }
    hass_storage[storage_key(gateway_entry.entry_id)] = {
        "version": 1,
        "minor_version": 1,
        "key": storage_key(gateway_entry.entry_id),
        "data": {"items": [item]},
    }
    gateway_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(gateway_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [m.text for m in gateway.sim.messages] == ["Freezer warm"]
    assert stored(hass_storage, gateway_entry) == []
    assert "was sending 1 message(s) when it last stopped; sending them again" in caplog.text


async def test_reload_while_a_new_alert_is_under_way_loses_nothing(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The entry reloads while the device keeps a new alert waiting, then answers 504.

    The unload writes the alert under way; the reloaded outbox sends it; the old one, answered
    later, leaves the file alone: the alert arrives once and nothing stays queued in a dead outbox.
    """
    gateway.gate.hold(answer=504)
    task = start_send(hass, loaded_gateway, message="Disk full")
    await gateway.gate.until_held()
    assert await hass.config_entries.async_unload(loaded_gateway.entry_id)
    assert [(i["text"], i["in_flight"]) for i in stored(hass_storage, loaded_gateway)] == [("Disk full", True)]
    assert await hass.config_entries.async_setup(loaded_gateway.entry_id)
    await until(lambda: [m.text for m in gateway.sim.messages] == ["Disk full"], "the reloaded entry sends it")
    gateway.gate.release()
    assert (await task)["results"][0]["status"] == "queued"  # what the old request saw: 504, after the reload
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [m.text for m in gateway.sim.messages] == ["Disk full"]
    assert stored(hass_storage, loaded_gateway) == []


@pytest.mark.parametrize(
    ("data", "log"),
    [
        ({"items": "nonsense"}, "holds no list of messages"),
        ({"items": [{"text": "no target"}, 42, None, {"id": "x"}]}, "Skipped 4 unreadable message(s)"),
        ([1, 2, 3], "holds no list of messages"),
    ],
)
async def test_foreign_or_corrupt_store_is_logged_and_skipped(
    hass: HomeAssistant,
    gateway_entry: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    data: Any,
    log: str,
) -> None:
    """Unreadable data never stops the entry; what can be read is kept."""
    hass_storage[storage_key(gateway_entry.entry_id)] = {
        "version": 1,
        "minor_version": 1,
        "key": storage_key(gateway_entry.entry_id),
        "data": data,
    }
    gateway_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(gateway_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert log in caplog.text
    assert (await send(hass, gateway_entry, message="x"))["results"][0]["status"] == "sent"


async def test_revoked_login_waits_for_reauth_without_hammering(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """401: reauth starts, queued messages wait without requests, new ones fail at once; reauth sends them."""
    gateway.sim.fail(Fault.HTTP_503, times=1)
    await send(hass, loaded_gateway, message="queued before")
    gateway.sim.users["apiuser"].password = "rotated"
    await advance(hass, freezer, 40)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]
    requests_at_401 = len([r for r in gateway.sim.requests if r.path == "/api.php"])
    events = async_capture_events(hass, "sms_alerts_failed")
    with pytest.raises(HomeAssistantError, match="group:Oncall: HTTP 401: 401 Unauthorized"):
        await send(hass, loaded_gateway, message="new", target=["group:Oncall"])
    for _ in range(24):
        await advance(hass, freezer, 300)
    assert len([r for r in gateway.sim.requests if r.path == "/api.php"]) - requests_at_401 <= 1
    assert [e.data["message"] for e in events] == ["new"]
    assert [item.text for item in loaded_gateway.runtime_data.outbox.items] == ["queued before"]
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {"username": "apiuser", "password": "rotated"}
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [m.text for m in gateway.sim.messages] == ["queued before"]


async def test_lost_api_right_lets_queued_messages_wait_and_probes_rarely(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """403 while draining: repair issue; one probe per 30 min; a new success sends the queue."""
    gateway.sim.fail(Fault.HTTP_503, times=1)
    await send(hass, loaded_gateway, message="waiting")
    gateway.sim.users["apiuser"].api_access = False
    await advance(hass, freezer, 40)
    issue_id = f"{loaded_gateway.entry_id}_no_api_permission"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    before = len([r for r in gateway.sim.requests if r.path == "/api.php"])
    for _ in range(12):
        await advance(hass, freezer, 300)
    assert len([r for r in gateway.sim.requests if r.path == "/api.php"]) - before <= 3
    gateway.sim.users["apiuser"].api_access = True
    assert (await send(hass, loaded_gateway, message="new", target=["group:Oncall"]))["results"][0]["status"] == "sent"
    await advance(hass, freezer, 1)
    assert [m.text for m in gateway.sim.messages] == ["new", "waiting"]
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_lifetime_expiry_fires_failed(
    hass: HomeAssistant, gateway_entry: MockConfigEntry, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """A message not delivered within its lifetime is given up: event, sensor, and gone from the queue."""
    entry = gateway_entry_for(gateway, options={"max_age_hours": 1})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    events = async_capture_events(hass, "sms_alerts_failed")
    gateway.sim.fail(Fault.HTTP_503)
    await send(hass, entry, message="Freezer warm")
    for _ in range(7):
        await advance(hass, freezer, 600)
    assert [(e.data["target"], e.data["message"]) for e in events] == [(RECIPIENT, "Freezer warm")]
    assert events[0].data["error"] == "not delivered within 1 h: HTTP 503: Service Unavailable"
    assert entry.runtime_data.outbox.items == []
    assert state(hass, SENSOR) == "failed"


async def setup_pair(
    hass: HomeAssistant, primary_sim: RunningSimulator, fallback_sim: RunningSimulator, **options: Any
) -> tuple[MockConfigEntry, MockConfigEntry]:
    """A primary entry falling back to a second one."""
    fallback = gateway_entry_for(fallback_sim, title="Fallback gateway")
    fallback.add_to_hass(hass)
    primary = gateway_entry_for(primary_sim, options={"fallback_entry": fallback.entry_id, **options})
    primary.add_to_hass(hass)
    hass.config.country = "DE"
    assert await hass.config_entries.async_setup(fallback.entry_id)  # sets up every entry of the domain
    await hass.async_block_till_done(wait_background_tasks=True)
    return primary, fallback


async def status_page_answers(hass: HomeAssistant, entry: MockConfigEntry, sim: RunningSimulator) -> None:
    """The gateway's SMS API fails while its status page answers; the entry's health reads it: not known down."""
    sim.sim.fail(Fault.HTTP_503, spare=("/check.php",))
    health = entry.runtime_data.health
    assert health.coordinator is not None
    await health.coordinator.async_refresh()
    assert health.reachability.reachable is True


async def status_page_fails(hass: HomeAssistant, entry: MockConfigEntry, sim: RunningSimulator) -> None:
    """The whole gateway fails, its status page too; the entry's health reads it: known down."""
    sim.sim.fail(Fault.HTTP_503)
    health = entry.runtime_data.health
    assert health.coordinator is not None
    await health.coordinator.async_refresh()
    assert health.reachability.reachable is False


async def test_fallback_takes_a_permanent_failure(
    hass: HomeAssistant, gateway: RunningSimulator, second_gateway: RunningSimulator
) -> None:
    """A target refused by the primary is sent by the fallback; no failure event."""
    primary, _ = await setup_pair(hass, gateway, second_gateway)
    gateway.sim.groups.pop("1")
    events = async_capture_events(hass, "sms_alerts_failed")
    response = await send(hass, primary, message="x", target=["group:Oncall", RECIPIENT])
    assert [r["status"] for r in response["results"]] == ["sent", "sent"]
    assert [m.to for m in gateway.sim.messages] == ["00491701234567"]
    assert [m.to for m in second_gateway.sim.messages] == ["group:Oncall"]
    assert events == []


async def test_fallback_takes_over_after_refused_login(
    hass: HomeAssistant, gateway: RunningSimulator, second_gateway: RunningSimulator
) -> None:
    """Refused credentials hand the message over at once."""
    primary, _ = await setup_pair(hass, gateway, second_gateway)
    gateway.sim.users["apiuser"].password = "rotated"
    response = await send(hass, primary, message="x")
    assert response["results"][0]["status"] == "sent"
    assert [m.text for m in second_gateway.sim.messages] == ["x"]


async def test_fallback_takes_a_queued_message_once_the_primary_is_known_down(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A queued message moves to the fallback at its next retry instead of retrying a provider known down."""
    primary, _ = await setup_pair(hass, gateway, second_gateway, handover_minutes=60)
    gateway.sim.fail(Fault.HTTP_503)
    assert (await send(hass, primary, message="UPS on battery"))["results"][0]["status"] == "queued"
    await advance(hass, freezer, 20)
    assert second_gateway.sim.messages == []
    await advance(hass, freezer, 20)
    assert [m.text for m in second_gateway.sim.messages] == ["UPS on battery"]
    assert primary.runtime_data.outbox.items == []
    assert state(hass, SENSOR) == "sent"
    gateway.sim.recover()
    await advance(hass, freezer, RETRY_MAX)
    assert gateway.sim.messages == []


async def test_fallback_takes_over_after_the_handover_delay(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When nothing says the primary is down, a message still queued after the hand-over delay moves."""
    primary, _ = await setup_pair(hass, gateway, second_gateway, handover_minutes=5)
    gateway.sim.fail(Fault.HTTP_503)
    assert (await send(hass, primary, message="UPS on battery"))["results"][0]["status"] == "queued"
    await status_page_answers(hass, primary, gateway)
    for _ in range(4):
        await advance(hass, freezer, 60)
    assert second_gateway.sim.messages == []
    await advance(hass, freezer, 90)
    assert [m.text for m in second_gateway.sim.messages] == ["UPS on battery"]
    assert primary.runtime_data.outbox.items == []


async def test_both_entries_refuse_then_one_event(
    hass: HomeAssistant, gateway: RunningSimulator, second_gateway: RunningSimulator
) -> None:
    """When the fallback refuses too, the message is given up once, by the last entry tried."""
    primary, fallback = await setup_pair(hass, gateway, second_gateway)
    gateway.sim.groups.clear()
    second_gateway.sim.groups.clear()
    events = async_capture_events(hass, "sms_alerts_failed")
    response = await send(hass, primary, message="x", target=["group:Oncall", RECIPIENT])
    assert [r["status"] for r in response["results"]] == ["failed", "sent"]
    await hass.async_block_till_done()
    assert [(e.data["entry_id"], e.data["target"]) for e in events] == [(fallback.entry_id, "group:Oncall")]


async def test_options_refuse_loops_and_allow_chains(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
) -> None:
    """A→B exists: B→A is refused; B→C is fine, and then C→A is refused."""
    a, b = await setup_pair(hass, gateway, second_gateway)
    c = MockConfigEntry(domain=DOMAIN, title="C", data=a.data, unique_id="c")
    c.add_to_hass(hass)

    async def choose(entry: MockConfigEntry, fallback: str | None) -> dict[str, Any]:
        result = await hass.config_entries.options.async_init(entry.entry_id)
        assert result["step_id"] == "init"
        options: dict[str, Any] = {"handover_minutes": 10, "max_age_hours": 24}
        if fallback is not None:
            options["fallback_entry"] = fallback
        return dict(await hass.config_entries.options.async_configure(result["flow_id"], nest(result, options)))

    assert (await choose(b, a.entry_id))["errors"] == {"base": "fallback_loop"}
    assert (await choose(b, c.entry_id))["type"] == "create_entry"
    assert (await choose(c, a.entry_id))["errors"] == {"base": "fallback_loop"}
    assert (await choose(c, None))["type"] == "create_entry"
    assert c.options["fallback_entry"] == ""
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_racing_sends_while_draining_lose_and_duplicate_nothing(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """Sends racing a drain: every message arrives exactly once, in order per target."""
    gateway.sim.fail(Fault.HTTP_503, times=1)
    await send(hass, loaded_gateway, message="m0")
    for i in range(1, 4):
        await send(hass, loaded_gateway, message=f"m{i}")
    freezer.tick(timedelta(seconds=40))
    outbox = loaded_gateway.runtime_data.outbox
    await asyncio.gather(
        outbox.async_drain(),
        send(hass, loaded_gateway, message="m4"),
        send(hass, loaded_gateway, message="g0", target=["group:Oncall"]),
        outbox.async_drain(),
        send(hass, loaded_gateway, message="m5"),
    )
    await advance(hass, freezer, 1)
    to_recipient = [m.text for m in gateway.sim.messages if m.to == "00491701234567"]
    assert to_recipient == ["m0", "m1", "m2", "m3", "m4", "m5"]
    assert [m.text for m in gateway.sim.messages if m.to == "group:Oncall"] == ["g0"]
    assert outbox.items == []


async def test_diagnostics_show_the_outbox_redacted(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """Waiting messages show age, attempts and error, not their text or number."""
    from custom_components.sms_alerts.diagnostics import async_get_config_entry_diagnostics  # noqa: PLC0415

    gateway.sim.fail(Fault.HTTP_503)
    await send(hass, loaded_gateway, message="secret plan")
    diagnostics = await async_get_config_entry_diagnostics(hass, loaded_gateway)
    queued = diagnostics["outbox"]["queued"]
    assert len(queued) == 1
    assert queued[0]["target"] == "+49170…567"
    assert queued[0]["attempts"] == 1
    assert queued[0]["last_error"] == "HTTP 503: Service Unavailable"
    assert "secret plan" not in str(diagnostics)


async def test_provider_down_at_start_loads_queues_and_delivers(
    hass: HomeAssistant, gateway_entry: MockConfigEntry, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """A gateway down when Home Assistant starts: the entry loads, queues, and delivers when it is back."""
    gateway.sim.fail(Fault.RESET)
    hass.config.country = "DE"
    gateway_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(gateway_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert (await send(hass, gateway_entry, message="Disk full"))["results"][0]["status"] == "queued"
    gateway.sim.recover()
    await advance(hass, freezer, 40)
    assert [m.text for m in gateway.sim.messages] == ["Disk full"]


def wildix_entry_for(sim: RunningSimulator, **options: Any) -> MockConfigEntry:
    """A Wildix entry (numbers only: no groups) pointing at its simulator."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Wildix fallback",
        unique_id="101@wildix",
        options=options,
        data={"provider": "wildix", "url": sim.url, "username": "101", "password": "sms101api", "verify_ssl": True},
    )


async def setup_wildix_fallback(
    hass: HomeAssistant, primary_sim: RunningSimulator, wildix: RunningSimulator, **fallback_options: Any
) -> tuple[MockConfigEntry, MockConfigEntry]:
    """A primary SMS Gateway entry falling back to a Wildix entry, which cannot send to groups."""
    fallback = wildix_entry_for(wildix, **fallback_options)
    fallback.add_to_hass(hass)
    primary = gateway_entry_for(primary_sim, options={"fallback_entry": fallback.entry_id})
    primary.add_to_hass(hass)
    hass.config.country = "DE"
    assert await hass.config_entries.async_setup(fallback.entry_id)  # sets up every entry of the domain
    await hass.async_block_till_done(wait_background_tasks=True)
    return primary, fallback


async def test_fallback_reports_targets_it_cannot_serve(
    hass: HomeAssistant, gateway: RunningSimulator, wildix_sim: RunningSimulator
) -> None:
    """A fallback that cannot serve a kind of target says so, and the message is given up with that reason."""
    primary, fallback = await setup_wildix_fallback(hass, gateway, wildix_sim)
    gateway.sim.users["apiuser"].password = "rotated"
    events = async_capture_events(hass, "sms_alerts_failed")
    response = await hass.services.async_call(
        DOMAIN,
        "send",
        {"config_entry_id": primary.entry_id, "message": "x", "target": ["group:Oncall", RECIPIENT]},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert [(r["target"], r["status"], r["error"]) for r in response["results"]] == [
        ("group:Oncall", "failed", "Wildix fallback cannot send to group targets"),
        (RECIPIENT, "sent", None),
    ]
    assert [m.to for m in wildix_sim.sim.messages] == [RECIPIENT]
    await hass.async_block_till_done()
    assert [e.data["entry_id"] for e in events] == [fallback.entry_id]


async def test_known_down_entry_hands_new_alerts_to_the_fallback_at_once(
    hass: HomeAssistant, gateway: RunningSimulator, second_gateway: RunningSimulator
) -> None:
    """Once the primary is known to be down, a new alert goes to the fallback at once, not after retries.

    The one waiting for the same target goes over first: order per target holds.
    """
    primary, _ = await setup_pair(hass, gateway, second_gateway)
    gateway.sim.fail(Fault.HTTP_503)
    first = await send(hass, primary, message="first", target=[RECIPIENT])
    assert (first["results"][0]["status"], first["results"][0]["provider"]) == ("queued", "sms_gateway")
    reachable = hass.states.get("binary_sensor.sms_gateway_127_0_0_1_provider_reachable")
    assert reachable is not None
    assert reachable.state == "off"
    second = await send(hass, primary, message="second", target=[RECIPIENT])
    assert second["results"][0]["status"] == "sent"
    assert [m.text for m in second_gateway.sim.messages] == ["first", "second"]
    assert primary.runtime_data.outbox.items == []


async def test_known_down_entry_tries_a_new_alert_once_then_hands_it_over(
    hass: HomeAssistant, gateway: RunningSimulator, second_gateway: RunningSimulator
) -> None:
    """Known down, with nothing waiting for the target: one try, and on a transient answer the fallback takes it."""
    primary, _ = await setup_pair(hass, gateway, second_gateway)
    await status_page_fails(hass, primary, gateway)
    response = await send(hass, primary, message="UPS on battery", target=[RECIPIENT])
    assert (response["results"][0]["status"], response["results"][0]["provider"]) == ("sent", "sms_gateway")
    assert [m.text for m in second_gateway.sim.messages] == ["UPS on battery"]
    assert [r.path for r in gateway.sim.requests if r.path != "/check.php"] != []
    assert primary.runtime_data.outbox.items == []


async def test_a_new_alert_queues_behind_a_waiting_one_that_fails_again(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """Past the first 30 s the waiting message is tried first; it fails again, so the new one queues behind it."""
    gateway.sim.fail(Fault.HTTP_503)
    assert (await send(hass, loaded_gateway, message="first"))["results"][0]["status"] == "queued"
    tries = len(gateway.sim.requests)
    freezer.tick(timedelta(seconds=RETRY_INITIAL + 1))  # the clock only: no drain pass runs
    second = await send(hass, loaded_gateway, message="second")
    assert second["results"][0]["error"] == "waiting behind earlier messages to this target"
    assert len(gateway.sim.requests) == tries + 1  # the waiting one was tried, the new one was not
    assert [item.text for item in loaded_gateway.runtime_data.outbox.items] == ["first", "second"]
    gateway.sim.recover()
    await advance(hass, freezer, RETRY_MAX)
    assert [m.text for m in gateway.sim.messages] == ["first", "second"]


def test_items_of_one_file_share_their_targets_and_bad_targets_are_skipped() -> None:
    """One Target object per recipient in a loaded file (less memory); an unreadable target skips only its item."""

    def raw(kind: Any, value: Any) -> dict[str, Any]:
        return {
            "id": "i",
            "message_id": "m",
            "text": "x",
            "target": {"kind": kind, "value": value},
            "parts": 1,
            "created": 1,
        }

    items, skipped = parse_items(
        {
            "items": [
                raw("number", RECIPIENT),
                raw("group", "Oncall"),
                raw("number", RECIPIENT),
                raw(["number"], RECIPIENT),
                raw("fax", RECIPIENT),
                raw("number", 42),
            ]
        }
    )
    assert items is not None
    assert skipped == 3
    assert [str(item.target) for item in items] == [RECIPIENT, "group:Oncall", RECIPIENT]
    assert items[0].target is items[2].target
    assert items[0].target.kind is TargetKind.NUMBER


async def test_full_disk_loses_no_queued_alert(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The "disk full" alert itself with the gateway down: the outbox file cannot be written; it is retried and sent."""

    async def disk_full(*_args: Any) -> None:  # (path, data) on 2025.4, (data) on 2026.x
        raise WriteError("[Errno 28] No space left on device")

    def journal_full(_data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    # Only this outbox's files: its Store's writer (Home Assistant's storage catches WriteError and logs it)
    # and its journal
    store = loaded_gateway.runtime_data.outbox._queue.store
    monkeypatch.setattr(store.store, "_async_write_data", disk_full)
    monkeypatch.setattr(store.journal.file, "append", journal_full)
    gateway.sim.fail(Fault.HTTP_503, times=1)
    response = await send(hass, loaded_gateway, message="Disk full on /config")
    assert response["results"][0]["status"] == "queued"
    assert "No space left on device" in caplog.text  # Home Assistant's storage says so, without a traceback
    await advance(hass, freezer, RETRY_MAX)
    assert [m.text for m in gateway.sim.messages] == ["Disk full on /config"]
    assert loaded_gateway.runtime_data.outbox.items == []


def break_requests(monkeypatch: pytest.MonkeyPatch, session: Any, times: int) -> list[str]:
    """Make the next `times` sends (POSTs) raise a TypeError, as a DNS library at odds with aiohttp does."""
    real = session.request
    calls: list[str] = []

    def request(method: str, url: Any, **kwargs: Any) -> Any:
        if method != "POST":
            return real(method, url, **kwargs)
        calls.append(str(url))
        if len(calls) <= times:
            raise TypeError("Channel.getaddrinfo() takes 3 positional arguments but 4 were given")
        return real(method, url, **kwargs)

    monkeypatch.setattr(session, "request", request)
    return calls


@pytest.mark.allow_traceback  # an unexpected error is logged with its traceback, for a bug report
async def test_a_library_bug_while_sending_keeps_the_alert(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An unexpected error below the provider client: logged with its traceback, queued, on disk, sent later."""
    calls = break_requests(monkeypatch, loaded_gateway.runtime_data.provider._session, times=1)
    response = await send(hass, loaded_gateway, message="UPS on battery", target=[RECIPIENT, "group:Oncall"])
    assert [(r["status"], r["error"]) for r in response["results"]] == [("queued", "unexpected error (TypeError)")] * 2
    assert len(calls) == 1  # the second recipient is not tried after a bug
    assert "Unexpected error while sending to +49170…567; the message is kept for another try" in caplog.text
    assert "TypeError: Channel.getaddrinfo()" in caplog.text  # the traceback, for a bug report
    ours = [record.getMessage() for record in caplog.records if record.name.startswith("custom_components")]
    assert not [message for message in ours if RECIPIENT in message]
    assert [item["text"] for item in stored(hass_storage, loaded_gateway)] == ["UPS on battery"] * 2
    await advance(hass, freezer, RETRY_MAX)
    await advance(hass, freezer, RETRY_MAX)
    assert [m.text for m in gateway.sim.messages] == ["UPS on battery"] * 2
    assert loaded_gateway.runtime_data.outbox.items == []


@pytest.mark.allow_traceback  # the provider client logs the unexpected error with its traceback, for a bug report
async def test_a_bug_in_the_provider_client_keeps_the_alert_for_its_fallback(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The provider client itself raises on every try: the message is kept and goes out through the fallback."""
    primary, _ = await setup_pair(hass, gateway, second_gateway)

    async def broken(*_args: Any) -> Any:
        raise AttributeError("'NoneType' object has no attribute 'status'")

    monkeypatch.setattr(primary.runtime_data.provider, "async_send", broken)
    response = await send(hass, primary, message="Freezer warm")
    assert response["results"][0]["status"] == "queued"
    assert response["results"][0]["error"] == "unexpected error (AttributeError)"
    assert "AttributeError: 'NoneType' object has no attribute 'status'" in caplog.text
    assert second_gateway.sim.messages == []
    # Tried again, and handed over like a message to a provider that is down
    await advance(hass, freezer, RETRY_MAX)
    await advance(hass, freezer, RETRY_MAX)
    assert [m.text for m in second_gateway.sim.messages] == ["Freezer warm"]
    assert gateway.sim.messages == []
    assert primary.runtime_data.outbox.items == []


async def test_removing_an_entry_hands_its_waiting_messages_to_the_fallback(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The gateway is broken and its entry removed (say, to add it again): what waited goes out via the fallback."""
    primary, _ = await setup_pair(hass, gateway, second_gateway, handover_minutes=60)
    gateway.sim.fail(Fault.HTTP_503)
    for text in ("UPS on battery", "Freezer warm"):
        assert (await send(hass, primary, message=text))["results"][0]["status"] == "queued"
        # Not known down: both wait in its outbox
        await status_page_answers(hass, primary, gateway)
    assert len(stored(hass_storage, primary)) == 2
    events = async_capture_events(hass, "sms_alerts_failed")
    assert await hass.config_entries.async_remove(primary.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [m.text for m in second_gateway.sim.messages] == ["UPS on battery", "Freezer warm"]
    assert events == []
    assert storage_key(primary.entry_id) not in hass_storage
    assert "was removed with 2 message(s) waiting; its fallback takes them over" in caplog.text


async def test_removing_an_entry_without_a_fallback_gives_its_waiting_messages_up_loudly(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nowhere to go: each waiting message fires sms_alerts_failed, and one warning says how many."""
    gateway.sim.fail(Fault.HTTP_503)
    assert (await send(hass, loaded_gateway, message="Disk full"))["results"][0]["status"] == "queued"
    events = async_capture_events(hass, "sms_alerts_failed")
    assert await hass.config_entries.async_remove(loaded_gateway.entry_id)
    await hass.async_block_till_done()
    assert [(e.data["entry_id"], e.data["target"], e.data["message"], e.data["error"]) for e in events] == [
        (
            loaded_gateway.entry_id,
            RECIPIENT,
            "Disk full",
            "SMS Gateway 127.0.0.1 was removed before the message could be sent",
        )
    ]
    assert "was removed with 1 message(s) waiting and no fallback to take them" in caplog.text
    assert storage_key(loaded_gateway.entry_id) not in hass_storage
    assert gateway.sim.messages == []


async def test_removing_an_entry_keeps_messages_from_going_round_in_circles(
    hass: HomeAssistant, gateway: RunningSimulator, second_gateway: RunningSimulator
) -> None:
    """A message the fallback handed over is not handed back to it when the entry holding it is removed."""
    primary, fallback = await setup_pair(hass, gateway, second_gateway, handover_minutes=60)
    hass.config_entries.async_update_entry(fallback, options={**fallback.options, "fallback_entry": primary.entry_id})
    await hass.async_block_till_done(wait_background_tasks=True)
    gateway.sim.fail(Fault.HTTP_503)
    second_gateway.sim.users["apiuser"].password = "rotated"
    # The second entry's login is refused: its message moves to the first, whose gateway is down
    assert (await send(hass, fallback, message="Freezer warm"))["results"][0]["status"] == "queued"
    assert [item.visited for item in primary.runtime_data.outbox.items] == [(fallback.entry_id, primary.entry_id)]
    events = async_capture_events(hass, "sms_alerts_failed")
    assert await hass.config_entries.async_remove(primary.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [(e.data["entry_id"], e.data["message"]) for e in events] == [(primary.entry_id, "Freezer warm")]
    assert second_gateway.sim.messages == []


async def test_disabling_an_entry_hands_its_waiting_messages_to_the_fallback(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A disabled entry sends nothing: what waited in it goes out through its fallback at once."""
    primary, _ = await setup_pair(hass, gateway, second_gateway, handover_minutes=60)
    gateway.sim.fail(Fault.HTTP_503)
    assert (await send(hass, primary, message="UPS on battery"))["results"][0]["status"] == "queued"
    await status_page_answers(hass, primary, gateway)
    assert await hass.config_entries.async_set_disabled_by(primary.entry_id, ConfigEntryDisabler.USER)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [m.text for m in second_gateway.sim.messages] == ["UPS on battery"]
    assert stored(hass_storage, primary) == []
    assert "was disabled with 1 message(s) waiting; its fallback takes them over" in caplog.text


async def test_disabling_an_entry_whose_fallback_is_disabled_too_keeps_its_waiting_messages(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Its fallback cannot take them: the warning names it and why, the messages stay, and go once it is enabled."""
    primary, fallback = await setup_pair(hass, gateway, second_gateway, handover_minutes=60)
    gateway.sim.fail(Fault.HTTP_503)
    assert (await send(hass, primary, message="UPS on battery"))["results"][0]["status"] == "queued"
    await status_page_answers(hass, primary, gateway)
    assert await hass.config_entries.async_set_disabled_by(fallback.entry_id, ConfigEntryDisabler.USER)
    assert await hass.config_entries.async_set_disabled_by(primary.entry_id, ConfigEntryDisabler.USER)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert second_gateway.sim.messages == []
    assert [item["text"] for item in stored(hass_storage, primary)] == ["UPS on battery"]
    assert (
        f"was disabled with 1 message(s) waiting; its fallback {fallback.title} is not loaded (disabled)" in caplog.text
    )
    gateway.sim.recover()
    assert await hass.config_entries.async_set_disabled_by(primary.entry_id, None)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [m.text for m in gateway.sim.messages] == ["UPS on battery"]


async def test_disabling_an_entry_without_a_fallback_keeps_its_waiting_messages(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nowhere to go: the messages stay on disk, a warning says so, and they go out once it is enabled again."""
    gateway.sim.fail(Fault.HTTP_503)
    assert (await send(hass, loaded_gateway, message="Disk full"))["results"][0]["status"] == "queued"
    assert await hass.config_entries.async_set_disabled_by(loaded_gateway.entry_id, ConfigEntryDisabler.USER)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [item["text"] for item in stored(hass_storage, loaded_gateway)] == ["Disk full"]
    assert "was disabled with 1 message(s) waiting; they are kept and sent when it is enabled again" in caplog.text
    gateway.sim.recover()
    assert await hass.config_entries.async_set_disabled_by(loaded_gateway.entry_id, None)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [m.text for m in gateway.sim.messages] == ["Disk full"]


async def test_disabling_an_entry_keeps_alerts_held_for_quiet_hours(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fallback takes what waits for the device, not what waits for the recipient's morning."""
    await hass.config.async_set_time_zone("Europe/Berlin")
    freezer.move_to(datetime(2026, 11, 23, 23, 0, tzinfo=dt_util.get_time_zone("Europe/Berlin")))
    primary, _ = await setup_pair(hass, gateway, second_gateway, handover_minutes=60)
    subentry = next(iter(primary.subentries.values()))
    hass.config_entries.async_update_subentry(
        primary, subentry, data={"target": RECIPIENT, "quiet_start": "22:00:00", "quiet_end": "07:00:00"}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert (await send(hass, primary, message="Door open"))["results"][0]["error"] == "quiet hours until 07:00"
    gateway.sim.fail(Fault.HTTP_503)
    assert (await send(hass, primary, message="FIRE", severity="critical"))["results"][0]["status"] == "queued"
    await status_page_answers(hass, primary, gateway)
    assert await hass.config_entries.async_set_disabled_by(primary.entry_id, ConfigEntryDisabler.USER)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [m.text for m in second_gateway.sim.messages] == ["FIRE"]
    assert [(item["text"], item["hold_kind"]) for item in stored(hass_storage, primary)] == [("Door open", "quiet")]


async def test_a_refused_alert_waits_while_its_fallback_is_reloaded(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """The fallback is being set up (a reload, a start) as the primary refuses: the alert waits for it."""
    primary, fallback = await setup_pair(hass, gateway, second_gateway)
    events = async_capture_events(hass, "sms_alerts_failed")
    assert await hass.config_entries.async_unload(fallback.entry_id)
    gateway.sim.users["apiuser"].password = "rotated"
    result = (await send(hass, primary, message="Freezer warm"))["results"][0]
    assert result["status"] == "queued"
    assert result["error"].startswith("waiting for Fallback gateway to be loaded: ")
    # The login is known to be refused now: the next alert is not even tried, and waits the same way
    assert (await send(hass, primary, message="Disk full"))["results"][0]["status"] == "queued"
    assert [(item["text"], item["hold_kind"]) for item in stored(hass_storage, primary)] == [
        ("Freezer warm", "fallback"),
        ("Disk full", "fallback"),
    ]
    assert state(hass, QUEUE_SENSOR) == "2"
    await advance(hass, freezer, 10)
    assert second_gateway.sim.messages == []
    assert await hass.config_entries.async_setup(fallback.entry_id)
    await advance(hass, freezer, 10)
    assert [m.text for m in second_gateway.sim.messages] == ["Freezer warm", "Disk full"]
    assert primary.runtime_data.outbox.items == []
    assert stored(hass_storage, primary) == []
    assert state(hass, SENSOR) == "sent"
    assert events == []


async def test_an_alert_waiting_for_its_fallback_survives_a_restart_of_the_primary(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Waiting for the fallback is kept in the file: a reload of the primary meanwhile loses nothing."""
    primary, fallback = await setup_pair(hass, gateway, second_gateway)
    assert await hass.config_entries.async_unload(fallback.entry_id)
    gateway.sim.groups.clear()
    assert (await send(hass, primary, message="UPS on battery", target=["group:Oncall"]))["results"][0][
        "status"
    ] == "queued"
    assert await hass.config_entries.async_reload(primary.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [item.hold_kind for item in primary.runtime_data.outbox.items] == ["fallback"]
    assert await hass.config_entries.async_setup(fallback.entry_id)
    await advance(hass, freezer, 10)
    assert [(m.to, m.text) for m in second_gateway.sim.messages] == [("group:Oncall", "UPS on battery")]
    assert gateway.sim.messages == []


async def test_a_fallback_that_never_loads_ends_the_wait_at_the_lifetime(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Waiting for the fallback is bounded by the message's lifetime, then it is given up loudly."""
    primary, fallback = await setup_pair(hass, gateway, second_gateway, max_age_hours=1)
    assert await hass.config_entries.async_unload(fallback.entry_id)
    events = async_capture_events(hass, "sms_alerts_failed")
    gateway.sim.users["apiuser"].password = "rotated"
    assert (await send(hass, primary, message="Freezer warm"))["results"][0]["status"] == "queued"
    for _ in range(7):
        await advance(hass, freezer, 600)
    assert [e.data["message"] for e in events] == ["Freezer warm"]
    assert events[0].data["error"].startswith("not delivered within 1 h: ")
    assert primary.runtime_data.outbox.items == []
    assert state(hass, SENSOR) == "failed"
    assert caplog.text.count("is not loaded") <= 1


@pytest.mark.parametrize("how", ["disabled", "setup_error"])
async def test_a_fallback_that_cannot_come_back_does_not_hold_the_alert(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    caplog: pytest.LogCaptureFixture,
    how: str,
) -> None:
    """A disabled fallback, or one whose setup failed, will not take it: the alert is given up at once, loudly."""
    primary, fallback = await setup_pair(hass, gateway, second_gateway)
    if how == "disabled":
        assert await hass.config_entries.async_set_disabled_by(fallback.entry_id, ConfigEntryDisabler.USER)
    else:
        assert await hass.config_entries.async_unload(fallback.entry_id)
        fallback.mock_state(hass, ConfigEntryState.SETUP_ERROR)
    await hass.async_block_till_done(wait_background_tasks=True)
    events = async_capture_events(hass, "sms_alerts_failed")
    gateway.sim.users["apiuser"].password = "rotated"
    with pytest.raises(HomeAssistantError, match="1 of 1 targets"):
        await send(hass, primary, message="Freezer warm")
    assert [e.data["message"] for e in events] == ["Freezer warm"]
    assert "its fallback Fallback gateway is not loaded" in caplog.text


async def test_a_fallback_that_is_not_loaded_is_reported_once_not_at_every_wake(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Messages queued while the fallback is disabled do not write a warning each time the outbox looks at them."""
    primary, fallback = await setup_pair(hass, gateway, second_gateway, handover_minutes=600)
    assert await hass.config_entries.async_set_disabled_by(fallback.entry_id, ConfigEntryDisabler.USER)
    await hass.async_block_till_done(wait_background_tasks=True)
    gateway.sim.fail(Fault.HTTP_503)
    for text in ("Disk full", "UPS on battery", "Freezer warm"):
        assert (await send(hass, primary, message=text))["results"][0]["status"] == "queued"
    for _ in range(10):
        await advance(hass, freezer, 60)
    assert len(primary.runtime_data.outbox.items) == 3
    assert caplog.text.count("Fallback gateway is not loaded") == 1
    assert primary.runtime_data.health.reachability.reachable is False
    # A flaky device: known down, then not, then down again, is still the same missing fallback
    for now_down in (False, True):
        await (status_page_fails if now_down else status_page_answers)(hass, primary, gateway)
        for _ in range(4):
            await advance(hass, freezer, RETRY_MAX / 3)
    assert caplog.text.count("Fallback gateway is not loaded") == 1
    # Back, it takes them; gone again, that is worth one warning again
    assert await hass.config_entries.async_set_disabled_by(fallback.entry_id, None)
    await hass.async_block_till_done(wait_background_tasks=True)
    await advance(hass, freezer, 60)
    assert len(second_gateway.sim.messages) == 3
    assert await hass.config_entries.async_set_disabled_by(fallback.entry_id, ConfigEntryDisabler.USER)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert (await send(hass, primary, message="Door open"))["results"][0]["status"] == "queued"
    # Its next retry comes after the entry's backoff, at most RETRY_MAX away
    for _ in range(4):
        await advance(hass, freezer, RETRY_MAX / 3)
    assert caplog.text.count("Fallback gateway is not loaded") == 2


async def test_an_alert_taken_after_waiting_for_its_fallback_is_an_ordinary_message_there(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The fallback, loaded again, takes the alert that waited for it, and retries it as its own."""
    primary, fallback = await setup_pair(hass, gateway, second_gateway)
    assert await hass.config_entries.async_unload(fallback.entry_id)
    events = async_capture_events(hass, "sms_alerts_failed")
    gateway.sim.users["apiuser"].password = "rotated"
    assert (await send(hass, primary, message="Freezer warm"))["results"][0]["status"] == "queued"
    second_gateway.sim.fail(Fault.HTTP_503)
    assert await hass.config_entries.async_setup(fallback.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert primary.runtime_data.outbox.items == []
    assert [item.hold_kind for item in fallback.runtime_data.outbox.items] == [None]
    second_gateway.sim.recover()
    await advance(hass, freezer, 60)
    assert [m.text for m in second_gateway.sim.messages] == ["Freezer warm"]
    assert events == []


async def test_an_alert_over_budget_waits_while_its_fallback_is_reloaded(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """The day's budget is spent and the fallback is being reloaded: the alert waits for it, on disk."""
    primary, fallback = await setup_pair(hass, gateway, second_gateway, daily_budget=1)
    assert (await send(hass, primary, message="Disk full"))["results"][0]["status"] == "sent"
    assert await hass.config_entries.async_unload(fallback.entry_id)
    assert (await send(hass, primary, message="Disk still full"))["results"][0]["status"] == "queued"
    assert [(item["text"], item["hold_kind"]) for item in stored(hass_storage, primary)] == [
        ("Disk still full", "fallback")
    ]
    assert await hass.config_entries.async_setup(fallback.entry_id)
    await advance(hass, freezer, 10)
    assert [m.text for m in second_gateway.sim.messages] == ["Disk still full"]


async def test_a_fallback_that_cannot_serve_a_target_lets_it_wait_for_its_own_fallback(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    wildix_sim: RunningSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """A chain A -> B -> C, B (Wildix) cannot send to groups and C is being reloaded: the alert waits in B, on disk."""
    third = gateway_entry_for(second_gateway, title="Third gateway")
    third.add_to_hass(hass)
    primary, fallback = await setup_wildix_fallback(hass, gateway, wildix_sim, fallback_entry=third.entry_id)
    assert await hass.config_entries.async_unload(third.entry_id)
    gateway.sim.groups.pop("1")
    result = (await send(hass, primary, message="Evacuate", target=["group:Oncall"]))["results"][0]
    assert (result["status"], result["error"]) == (
        "queued",
        "waiting for Third gateway to be loaded: Wildix fallback cannot send to group targets",
    )
    assert [(item["text"], item["hold_kind"]) for item in stored(hass_storage, fallback)] == [("Evacuate", "fallback")]
    assert await hass.config_entries.async_setup(third.entry_id)
    await advance(hass, freezer, 10)
    assert [(m.to, m.text) for m in second_gateway.sim.messages] == [("group:Oncall", "Evacuate")]


async def test_an_alert_that_waited_for_the_fallback_before_a_restart_goes_to_it_at_once(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    hass_storage: dict[str, Any],
) -> None:
    """On disk, held for the fallback: once both are up (the fallback first), it takes the alert at once."""
    hass.config.country = "DE"
    fallback = gateway_entry_for(second_gateway, title="Fallback gateway")
    fallback.add_to_hass(hass)
    assert await hass.config_entries.async_setup(fallback.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    primary = gateway_entry_for(gateway, options={"fallback_entry": fallback.entry_id})
    now = dt_util.utcnow().timestamp()
    hass_storage[storage_key(primary.entry_id)] = {
        "version": 1,
        "minor_version": 1,
        "key": storage_key(primary.entry_id),
        "data": {
            "items": [
                {
                    "id": "a",
                    "message_id": "m",
                    "text": "UPS on battery",
                    "target": {"kind": "number", "value": RECIPIENT},
                    "parts": 1,
                    "created": now - 30,
                    "last_error": "HTTP 401: refused",
                    "visited": [primary.entry_id],
                    "hold_until": now + 50,
                    "hold_kind": "fallback",
                }
            ]
        },
    }
    primary.add_to_hass(hass)
    assert await hass.config_entries.async_setup(primary.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [m.text for m in second_gateway.sim.messages] == ["UPS on battery"]
    assert gateway.sim.messages == []
    assert stored(hass_storage, primary) == []


async def one_under_way_and_one_behind(
    hass: HomeAssistant, entry: MockConfigEntry, gateway: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> tuple[asyncio.Task[dict[str, Any]], asyncio.Task[dict[str, Any]]]:
    """Start an alert the device keeps waiting (then answers 504, once released), and a second one behind it."""
    gateway.gate.hold(answer=504)
    first = start_send(hass, entry, message="Disk full")
    await gateway.gate.until_held()
    second = start_send(hass, entry, message="Freezer warm", target=["+491701112222"])
    await until(lambda: "Freezer warm" in under_way(entry), "the second alert waits behind the first")
    return first, second


async def test_reload_while_a_new_alert_waits_for_one_under_way_loses_neither(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second alert waits while the device keeps the first one waiting; the entry reloads meanwhile.

    The unload writes both; the reloaded outbox sends both; the old one sends nothing more.
    """
    first, second = await one_under_way_and_one_behind(hass, loaded_gateway, gateway, monkeypatch)
    assert await hass.config_entries.async_unload(loaded_gateway.entry_id)
    assert sorted(i["text"] for i in stored(hass_storage, loaded_gateway)) == ["Disk full", "Freezer warm"]
    assert await hass.config_entries.async_setup(loaded_gateway.entry_id)
    await until(lambda: len(gateway.sim.messages) == 2, "the reloaded entry sends both")
    gateway.gate.release()
    results = [(await task)["results"][0] for task in (first, second)]
    assert [r["status"] for r in results] == ["queued", "queued"]
    await hass.async_block_till_done(wait_background_tasks=True)
    assert sorted(m.text for m in gateway.sim.messages) == ["Disk full", "Freezer warm"]
    assert stored(hass_storage, loaded_gateway) == []
    assert loaded_gateway.runtime_data.outbox.items == []


async def test_disabling_an_entry_hands_the_alerts_under_way_to_the_fallback(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The device hangs; the user disables the entry: the alert under way and the one behind it go to the fallback."""
    primary, _ = await setup_pair(hass, gateway, second_gateway)
    first, second = await one_under_way_and_one_behind(hass, primary, gateway, monkeypatch)
    assert await hass.config_entries.async_set_disabled_by(primary.entry_id, ConfigEntryDisabler.USER)
    await until(lambda: len(second_gateway.sim.messages) == 2, "the fallback sends both")
    assert sorted(m.text for m in second_gateway.sim.messages) == ["Disk full", "Freezer warm"]
    gateway.gate.release()
    assert [(await task)["results"][0]["status"] for task in (first, second)] == ["queued", "queued"]
    await hass.async_block_till_done(wait_background_tasks=True)
    assert sorted(m.text for m in second_gateway.sim.messages) == ["Disk full", "Freezer warm"]
    assert gateway.sim.messages == []
    assert stored(hass_storage, primary) == []


async def test_disabling_an_entry_without_a_fallback_counts_the_alerts_under_way(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nowhere to go: the alert under way and the one behind it are kept on disk, and the warning counts them."""
    first, second = await one_under_way_and_one_behind(hass, loaded_gateway, gateway, monkeypatch)
    assert await hass.config_entries.async_set_disabled_by(loaded_gateway.entry_id, ConfigEntryDisabler.USER)
    gateway.gate.release()
    assert [(await task)["results"][0]["status"] for task in (first, second)] == ["queued", "queued"]
    await hass.async_block_till_done(wait_background_tasks=True)
    assert sorted(i["text"] for i in stored(hass_storage, loaded_gateway)) == ["Disk full", "Freezer warm"]
    assert "was disabled with 2 message(s) waiting; they are kept" in caplog.text
    assert await hass.config_entries.async_set_disabled_by(loaded_gateway.entry_id, None)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert sorted(m.text for m in gateway.sim.messages) == ["Disk full", "Freezer warm"]


async def test_an_alert_that_goes_through_while_the_entry_reloads_is_reported_sent(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The device takes the alert after the unload wrote it: the caller hears "sent".

    The reloaded entry sends it again (the duplicate its log warns about), and it is not kept anywhere.
    """
    gateway.gate.hold()
    task = start_send(hass, loaded_gateway, message="Disk full")
    await gateway.gate.until_held()
    assert await hass.config_entries.async_reload(loaded_gateway.entry_id)
    gateway.gate.release()
    assert (await task)["results"][0]["status"] == "sent"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [m.text for m in gateway.sim.messages] == ["Disk full", "Disk full"]
    assert stored(hass_storage, loaded_gateway) == []


async def test_disabling_an_entry_hands_alerts_held_by_the_rate_limit_to_the_fallback_as_one_summary(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    hass_storage: dict[str, Any],
) -> None:
    """Held for the end of the minute, not for the recipient: they go to the fallback, still summed up."""
    primary, _ = await setup_pair(hass, gateway, second_gateway, rate_limit=1, dedup_minutes=0)
    assert (await send(hass, primary, message="Pump 1 failed"))["results"][0]["status"] == "sent"
    for text in ("Pump 2 failed", "Pump 3 failed"):
        assert (await send(hass, primary, message=text))["results"][0]["status"] == "throttled"
    assert await hass.config_entries.async_set_disabled_by(primary.entry_id, ConfigEntryDisabler.USER)
    await hass.async_block_till_done(wait_background_tasks=True)
    texts = [m.text for m in second_gateway.sim.messages]
    assert len(texts) == 1
    assert "Pump 2 failed" in texts[0]
    assert "Pump 3 failed" in texts[0]
    assert stored(hass_storage, primary) == []


async def test_an_alert_waiting_behind_a_hung_send_is_on_disk_after_a_second(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A crash while a second alert waits for the first one's hung request must not lose the second."""
    gateway.gate.hold(answer=504)
    first = start_send(hass, loaded_gateway, message="Disk full")
    await gateway.gate.until_held()
    await until(lambda: stored(hass_storage, loaded_gateway), "the first request is on disk")
    second = start_send(hass, loaded_gateway, message="Freezer warm", target=["+491701112222"])
    await until(lambda: "Freezer warm" in under_way(loaded_gateway), "the second alert waits behind the first")
    await until(lambda: len(stored(hass_storage, loaded_gateway)) == 2, "the waiting alert is on disk")
    assert [item["text"] for item in stored(hass_storage, loaded_gateway)] == ["Disk full", "Freezer warm"]
    gateway.gate.release()
    assert [(await task)["results"][0]["status"] for task in (first, second)] == ["queued", "sent"]
    assert [item["text"] for item in stored(hass_storage, loaded_gateway)] == ["Disk full"]


async def test_an_alert_that_comes_as_one_send_ends_and_the_next_begins_survives_a_reload(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lock is free for a moment while the next waiting send has not started yet: an alert then still waits."""
    outbox = loaded_gateway.runtime_data.outbox
    lock = outbox._queue.lock  # held here as by a send under way, and let go when the next one has not started yet
    gateway.gate.hold(answer=504)
    await lock.acquire()
    second = start_send(hass, loaded_gateway, message="Disk full")
    await asyncio.sleep(0)
    lock.release()
    third = start_send(hass, loaded_gateway, message="Freezer warm", target=["+491701112222"])
    await gateway.gate.until_held()
    assert await hass.config_entries.async_unload(loaded_gateway.entry_id)
    assert sorted(i["text"] for i in stored(hass_storage, loaded_gateway)) == ["Disk full", "Freezer warm"]
    assert await hass.config_entries.async_setup(loaded_gateway.entry_id)
    await until(lambda: len(gateway.sim.messages) == 2, "the reloaded entry sends both")
    gateway.gate.release()
    assert [(await task)["results"][0]["status"] for task in (second, third)] == ["queued", "queued"]
    await hass.async_block_till_done(wait_background_tasks=True)
    assert sorted(m.text for m in gateway.sim.messages) == ["Disk full", "Freezer warm"]


async def test_an_alert_being_handed_over_as_the_entry_reloads_stays_with_the_fallback(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    hass_storage: dict[str, Any],
) -> None:
    """The reload cancels the pass that hands the alert over; the fallback, already sending it, keeps it."""
    primary, fallback = await setup_pair(hass, gateway, second_gateway)
    assert await hass.config_entries.async_unload(fallback.entry_id)
    events = async_capture_events(hass, "sms_alerts_failed")
    gateway.sim.users["apiuser"].password = "rotated"
    assert (await send(hass, primary, message="Freezer warm"))["results"][0]["status"] == "queued"
    second_gateway.gate.hold(answer=504, when=lambda form: form.get("text") == "Freezer warm")
    setup = asyncio.get_running_loop().create_task(hass.config_entries.async_setup(fallback.entry_id))
    await second_gateway.gate.until_held()
    assert [form.get("text") for form in second_gateway.gate.forms] == ["Freezer warm"]  # handed over
    assert await hass.config_entries.async_reload(primary.entry_id)
    # The device answers 504 after the reload: the fallback keeps the alert for its next try
    second_gateway.gate.release()
    assert await setup
    await until_queue(
        hass, fallback, lambda: [i.text for i in fallback.runtime_data.outbox.items] == ["Freezer warm"], "kept there"
    )
    assert [item["text"] for item in stored(hass_storage, fallback)] == ["Freezer warm"]
    assert primary.runtime_data.outbox.items == []
    assert events == []


async def test_a_fallback_reloaded_while_taking_over_several_messages_keeps_the_later_ones(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fallback takes two messages one after the other; it is unloaded during the first: both are on its disk."""
    primary, fallback = await setup_pair(hass, gateway, second_gateway, handover_minutes=60)
    gateway.sim.fail(Fault.HTTP_503)
    for text in ("Disk full", "UPS on battery"):
        assert (await send(hass, primary, message=text))["results"][0]["status"] == "queued"
        await status_page_answers(hass, primary, gateway)
    second_gateway.gate.hold(answer=504, when=lambda form: "text" in form)
    assert await hass.config_entries.async_set_disabled_by(primary.entry_id, ConfigEntryDisabler.USER)
    await second_gateway.gate.until_held()
    assert await hass.config_entries.async_unload(fallback.entry_id)
    assert sorted(i["text"] for i in stored(hass_storage, fallback)) == ["Disk full", "UPS on battery"]
    second_gateway.gate.release()
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_an_alert_whose_caller_is_cancelled_is_still_handled(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An automation in restart mode cancels its running action: the alert it handed over still goes out or waits."""
    gateway.gate.hold(answer=504)
    caller = start_send(hass, loaded_gateway, message="Disk full")
    await gateway.gate.until_held()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    gateway.gate.release()
    await until_queue(
        hass, loaded_gateway, lambda: loaded_gateway.runtime_data.outbox.items != [], "kept after the 504"
    )
    assert [item["text"] for item in stored(hass_storage, loaded_gateway)] == ["Disk full"]
