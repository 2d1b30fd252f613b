"""Outbox controls: the Retry now button, and the list_waiting and drop_waiting actions, through real entries."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.auth.models import User
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.sms_alerts.const import DOMAIN
from custom_components.sms_alerts.outbox.lifecycle import ALLOWED, QUEUED, ItemState
from simulators.base import Fault

from .conftest import RECIPIENT, RunningSimulator, advance, on_disk, send, until

BUTTON = "button.sms_gateway_127_0_0_1_retry_now"
OTHER = "group:Oncall"


async def press(hass: HomeAssistant) -> None:
    """Press the entry's Retry now button and let what it started run."""
    await hass.services.async_call("button", "press", {"entity_id": BUTTON}, blocking=True)
    await hass.async_block_till_done(wait_background_tasks=True)


async def list_waiting(hass: HomeAssistant, entry: MockConfigEntry) -> list[Any]:
    """Call sms_alerts.list_waiting and return its messages."""
    response = await hass.services.async_call(
        DOMAIN, "list_waiting", {"config_entry_id": entry.entry_id}, blocking=True, return_response=True
    )
    assert response is not None
    return list(response["messages"])  # type: ignore[call-overload]


async def drop(hass: HomeAssistant, entry: MockConfigEntry, item_id: str) -> None:
    """Call sms_alerts.drop_waiting for one message."""
    await hass.services.async_call(
        DOMAIN, "drop_waiting", {"config_entry_id": entry.entry_id, "id": item_id}, blocking=True
    )


async def night_with_quiet_hours(hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory) -> None:
    """23:00 in Berlin, and the entry's recipient keeps quiet hours from 22:00 to 07:00."""
    await hass.config.async_set_time_zone("Europe/Berlin")
    freezer.move_to(datetime(2026, 11, 23, 23, 0, tzinfo=dt_util.get_time_zone("Europe/Berlin")))
    subentry = next(iter(entry.subentries.values()))
    hass.config_entries.async_update_subentry(
        entry, subentry, data={"target": RECIPIENT, "quiet_start": "22:00:00", "quiet_end": "07:00:00"}
    )
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_retry_now_sends_a_waiting_message_at_once(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """A message waiting for its next try (30 s away) goes the moment the button is pressed."""
    gateway.sim.fail(Fault.HTTP_503, times=1)
    assert (await send(hass, loaded_gateway, message="Freezer warm"))["results"][0]["status"] == "queued"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert gateway.sim.messages == []
    state = hass.states.get(BUTTON)
    assert state is not None
    assert state.attributes["friendly_name"] == "SMS Gateway 127.0.0.1 Retry now"
    await press(hass)
    assert [m.text for m in gateway.sim.messages] == ["Freezer warm"]
    assert loaded_gateway.runtime_data.outbox.items == []


async def test_retry_now_keeps_held_messages_held(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """Quiet hours keep their time: pressing sends the waiting message, not the held one."""
    await night_with_quiet_hours(hass, loaded_gateway, freezer)
    await send(hass, loaded_gateway, message="Door open")
    gateway.sim.fail(Fault.HTTP_503, times=1)
    await send(hass, loaded_gateway, message="Pump down", target=[OTHER])
    await press(hass)
    assert [m.text for m in gateway.sim.messages] == ["Pump down"]
    assert [(item.text, item.state) for item in loaded_gateway.runtime_data.outbox.items] == [
        ("Door open", ItemState.HELD_QUIET)
    ]


async def test_retry_now_says_refused_credentials_wait_for_a_new_login(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """With the login refused nothing may go: the press says why instead of doing nothing silently."""
    gateway.sim.fail(Fault.HTTP_503, times=1)
    await send(hass, loaded_gateway, message="queued before")
    gateway.sim.users["apiuser"].password = "rotated"
    await advance(hass, freezer, 40)
    requests = len(gateway.sim.requests)
    with pytest.raises(HomeAssistantError) as err:
        await press(hass)
    assert err.value.translation_key == "retry_needs_login"
    assert len(gateway.sim.requests) == requests
    [waiting] = await list_waiting(hass, loaded_gateway)
    assert (waiting["state"], waiting["next_try"]) == ("waiting", None)


async def test_list_waiting_shows_waiting_and_held_messages(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """Each message with its id, target as given, text, state, age, tries, last error and next try."""
    await night_with_quiet_hours(hass, loaded_gateway, freezer)
    await send(hass, loaded_gateway, message="Door open")
    gateway.sim.fail(Fault.HTTP_503, times=1)
    await send(hass, loaded_gateway, message="Pump down", target=[OTHER], severity="critical")
    sent_at = dt_util.utcnow()
    freezer.tick(12)
    held, waiting = await list_waiting(hass, loaded_gateway)
    items = loaded_gateway.runtime_data.outbox.items
    assert held == {
        "id": items[0].id,
        "target": RECIPIENT,
        "message": "Door open",
        "state": "quiet",
        "severity": "warning",
        "age": 12,
        "tries": 0,
        "error": "quiet hours until 07:00",
        "next_try": "2026-11-24T06:00:00+00:00",
    }
    next_try = datetime.fromisoformat(waiting.pop("next_try"))
    assert sent_at + timedelta(seconds=24) <= next_try <= sent_at + timedelta(seconds=36)  # 30 s ± 20 %
    assert waiting == {
        "id": items[1].id,
        "target": OTHER,
        "message": "Pump down",
        "state": "waiting",
        "severity": "critical",
        "age": 12,
        "tries": 1,
        "error": "HTTP 503: Service Unavailable",
    }


async def test_list_waiting_of_an_empty_outbox(hass: HomeAssistant, loaded_gateway: MockConfigEntry) -> None:
    """Nothing waits: an empty list."""
    assert await list_waiting(hass, loaded_gateway) == []


async def test_drop_removes_exactly_that_message_and_survives_a_restart(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Dropped: gone from the outbox and its file, one log line, one sms_alerts_failed; the rest is sent later."""
    gateway.sim.fail(Fault.HTTP_503)
    await send(hass, loaded_gateway, message="first")
    await send(hass, loaded_gateway, message="second")
    first, second = (message["id"] for message in await list_waiting(hass, loaded_gateway))
    events = async_capture_events(hass, "sms_alerts_failed")
    await drop(hass, loaded_gateway, first)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [(e.data["target"], e.data["message"], e.data["error"]) for e in events] == [
        (RECIPIENT, "first", "dropped by the user")
    ]
    assert [message["id"] for message in await list_waiting(hass, loaded_gateway)] == [second]
    assert [item["text"] for item in on_disk(hass_storage, loaded_gateway.entry_id)["items"]] == ["second"]
    dropped = [r for r in caplog.records if "dropped by the user" in r.getMessage()]
    assert [(r.levelname, r.getMessage()) for r in dropped] == [
        (
            "WARNING",
            (
                "Message to +49170…567 via SMS Gateway 127.0.0.1 dropped by the user "
                "(it was waiting; tries: 1; last error: HTTP 503: Service Unavailable)"
            ),
        )
    ]
    assert hass.states.get("sensor.sms_gateway_127_0_0_1_queued_messages").state == "1"  # type: ignore[union-attr]
    # A restart sends what is left, and never the dropped one
    assert await hass.config_entries.async_unload(loaded_gateway.entry_id)
    gateway.sim.recover()
    assert await hass.config_entries.async_setup(loaded_gateway.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [m.text for m in gateway.sim.messages] == ["second"]
    assert len(events) == 1


async def test_drop_a_held_message(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """A message held for quiet hours can be dropped too: it is not sent when they end."""
    await night_with_quiet_hours(hass, loaded_gateway, freezer)
    await send(hass, loaded_gateway, message="Door open")
    [held] = await list_waiting(hass, loaded_gateway)
    await drop(hass, loaded_gateway, held["id"])
    await advance(hass, freezer, 9 * 3600)
    assert gateway.sim.messages == []
    assert loaded_gateway.runtime_data.outbox.items == []


async def test_a_dropped_alert_sent_again_is_no_duplicate(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """Storm control forgets a dropped alert: the same alert a moment later is sent, not deduplicated away."""
    gateway.sim.fail(Fault.HTTP_503)
    await send(hass, loaded_gateway, message="Freezer warm")
    [waiting] = await list_waiting(hass, loaded_gateway)
    await drop(hass, loaded_gateway, waiting["id"])
    gateway.sim.recover()
    assert (await send(hass, loaded_gateway, message="Freezer warm"))["results"][0]["status"] == "sent"
    assert [m.text for m in gateway.sim.messages] == ["Freezer warm"]


async def test_drop_of_an_unknown_id_is_refused(hass: HomeAssistant, loaded_gateway: MockConfigEntry) -> None:
    """An id that does not wait (wrong, or sent meanwhile) is a translated validation error; nothing is fired."""
    events = async_capture_events(hass, "sms_alerts_failed")
    with pytest.raises(ServiceValidationError) as err:
        await drop(hass, loaded_gateway, "0123")
    assert err.value.translation_key == "message_not_waiting"
    assert err.value.translation_placeholders == {"id": "0123", "entry": "SMS Gateway 127.0.0.1"}
    assert events == []


async def test_drop_while_the_message_is_being_tried_waits_for_the_answer(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """A drop that meets the message's try under way waits for its answer: sent is sent, and nothing is fired."""
    gateway.sim.fail(Fault.HTTP_503, times=1)
    await send(hass, loaded_gateway, message="Freezer warm")
    [waiting] = await list_waiting(hass, loaded_gateway)
    gateway.gate.hold()
    await hass.services.async_call("button", "press", {"entity_id": BUTTON}, blocking=True)
    await gateway.gate.until_held()
    events = async_capture_events(hass, "sms_alerts_failed")
    dropping = asyncio.get_running_loop().create_task(drop(hass, loaded_gateway, waiting["id"]))
    await until(loaded_gateway.runtime_data.outbox._queue.lock.locked, "the try holds the lock")
    for _ in range(5):
        await asyncio.sleep(0)
    assert not dropping.done()
    gateway.gate.release()
    with pytest.raises(ServiceValidationError):
        await dropping
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [m.text for m in gateway.sim.messages] == ["Freezer warm"]
    assert events == []


@pytest.mark.parametrize(
    ("action", "data", "response"), [("list_waiting", {}, True), ("drop_waiting", {"id": "0"}, False)]
)
async def test_outbox_actions_are_for_administrators(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    hass_read_only_user: User,
    action: str,
    data: dict[str, str],
    response: bool,
) -> None:
    """A user who is no administrator may neither read the waiting numbers nor drop an alert."""
    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            DOMAIN,
            action,
            {"config_entry_id": loaded_gateway.entry_id, **data},
            blocking=True,
            return_response=response,
            context=Context(user_id=hass_read_only_user.id),
        )


def test_only_queued_messages_can_be_dropped_and_nothing_leaves_dropped() -> None:
    """The lifecycle: waiting and held messages may be dropped; new ones under way may not; dropped is final."""
    assert {state for state, moves in ALLOWED.items() if ItemState.DROPPED in moves} == QUEUED
    assert ALLOWED[ItemState.DROPPED] == frozenset()
