"""Two ways to one waiting message at once: a new alert tries it first while the drain's timer finds it due.

A message waits for its target; a new alert to the same target tries it first (README: "messages already
waiting for the same target go over first"), and while that request is under way the drain wakes, finds the
message past its hand-over delay (or its lifetime) and must not hand it to the fallback (or give it up) as
well: the device takes it, and it would arrive twice, or arrive and be reported lost. The simulator's gate
holds the request, so the moment the drain wakes is chosen, not hoped for.
"""

from __future__ import annotations

import asyncio
from typing import Any
from unittest.mock import patch

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryDisabler
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

import custom_components.sms_alerts as integration
from custom_components.sms_alerts.api.base import Target, TargetKind
from custom_components.sms_alerts.const import RETRY_INITIAL
from custom_components.sms_alerts.outbox import QueuedItem, SendOptions, SendStatus
from custom_components.sms_alerts.outbox_store import SnapshotStore
from simulators.base import Fault

from .conftest import RunningSimulator, advance, start_send
from .test_outbox import setup_pair, status_page_answers

TEXT = "UPS on battery"


@pytest.fixture(autouse=True)
def patient_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests that outlast the time jumps here: the held one is answered when released, never cut by its limit."""
    monkeypatch.setattr(integration, "REQUEST_TIMEOUT", 4 * 3600)


def is_the_waiting_message(form: dict[str, str]) -> bool:
    """Tell the request that sends the waiting message from any other (a health check has no text)."""
    return form.get("text") == TEXT


async def waiting_message(hass: HomeAssistant, primary: MockConfigEntry, gateway: RunningSimulator) -> None:
    """The gateway fails a message, which waits; its status page answers, so it is not known down."""
    gateway.sim.fail(Fault.HTTP_503)
    assert (await start_send(hass, primary, message=TEXT))["results"][0]["status"] == "queued"
    await status_page_answers(hass, primary, gateway)
    # The try that finding brings fails as well
    await hass.async_block_till_done(wait_background_tasks=True)


async def try_it_with_a_new_alert(
    hass: HomeAssistant, primary: MockConfigEntry, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> asyncio.Task[dict[str, Any]]:
    """The device answers again; a new alert to the same target tries the waiting message first, held at the door.

    Time moves on just past the pause after a failed request (a new alert may try again), short of the
    waiting message's next try (the drain's timer does not fire yet).
    """
    gateway.sim.recover()
    # Only the waiting message's request: a health check the time jump brings goes through
    gateway.gate.hold(when=is_the_waiting_message)
    freezer.tick(RETRY_INITIAL + 1)
    newer = start_send(hass, primary, message="Freezer warm")
    await gateway.gate.until_held()
    return newer


async def wake_the_drain(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    """Let time pass (the event loop's clock follows): the drain's timer fires and its pass runs as far as it can."""
    freezer.tick(seconds)
    async_fire_time_changed(hass)
    for _ in range(50):
        await asyncio.sleep(0)


async def test_a_message_tried_by_a_new_alert_is_not_handed_over_meanwhile(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The drain waits for the try under way: the message goes once, through the entry that tried it."""
    primary, _fallback = await setup_pair(hass, gateway, second_gateway, handover_minutes=1)
    await waiting_message(hass, primary, gateway)
    newer = await try_it_with_a_new_alert(hass, primary, gateway, freezer)
    # The drain wakes while that try is under way: the message is past its hand-over delay
    await wake_the_drain(hass, freezer, 60)
    gateway.gate.release()
    assert (await newer)["results"][0]["status"] == "sent"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [m.text for m in gateway.sim.messages] == [TEXT, "Freezer warm"]
    assert second_gateway.sim.messages == []
    assert primary.runtime_data.outbox.items == []


async def test_a_message_tried_by_a_new_alert_is_not_given_up_meanwhile(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """At the end of its lifetime while it is tried: it went, so nobody is told it was lost."""
    primary, fallback = await setup_pair(hass, gateway, second_gateway, handover_minutes=1440, max_age_hours=1)
    await waiting_message(hass, primary, gateway)
    # Most of its hour passes with the gateway failing (each try fails), then its status page answers again
    await advance(hass, freezer, 3550)
    await status_page_answers(hass, primary, gateway)
    await hass.async_block_till_done(wait_background_tasks=True)
    failed = async_capture_events(hass, "sms_alerts_failed")
    newer = await try_it_with_a_new_alert(hass, primary, gateway, freezer)
    # The drain wakes while that try is under way (shorter than aiohttp's own limit): the hour has ended
    await wake_the_drain(hass, freezer, 30)
    gateway.gate.release()
    assert (await newer)["results"][0]["status"] == "sent"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [m.text for m in gateway.sim.messages] == [TEXT, "Freezer warm"]
    assert second_gateway.sim.messages == []
    assert failed == []
    assert fallback.runtime_data.outbox.items == []


async def test_a_message_the_drain_tries_while_the_entry_is_disabled_goes_to_the_fallback_without_a_fault(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The entry is disabled while the drain's try of a waiting message is under way, and the device answers then.

    The disable hands the message to the fallback (its request may still go through: a duplicate is possible, as
    the README says). The drain's answer arrives while the unload writes the outbox: the message is the
    fallback's now, and the answer changes nothing. Before, it tried to mark a handed-over message sent, and
    the drain failed with InvalidTransitionError (a traceback in the log).
    """
    primary, fallback = await setup_pair(hass, gateway, second_gateway, handover_minutes=1440)
    await waiting_message(hass, primary, gateway)
    gateway.sim.recover()
    # The drain's try, not the health check the same hour brings (held, it let the try through first)
    gateway.gate.hold(when=is_the_waiting_message)
    await wake_the_drain(hass, freezer, 3600)
    await gateway.gate.until_held()
    original = SnapshotStore.async_save
    answered: list[str] = []

    queue = primary.runtime_data.outbox._queue

    async def save(self: SnapshotStore, data: Any) -> None:
        if self.key.endswith(f"{primary.entry_id}.outbox") and queue.closed and not answered:
            answered.append(self.key)
            # The unload writes the outbox (it handed the message over just before): the device answers now
            gateway.gate.release()
            for _ in range(200):
                await asyncio.sleep(0)
        await original(self, data)

    with patch.object(SnapshotStore, "async_save", save):
        await hass.config_entries.async_set_disabled_by(primary.entry_id, ConfigEntryDisabler.USER)
        await hass.async_block_till_done(wait_background_tasks=True)
    assert answered
    assert [m.text for m in second_gateway.sim.messages] == [TEXT]
    assert fallback.runtime_data.outbox.items == []


async def test_a_hand_over_to_a_fallback_whose_outbox_closed_is_given_up_loudly(
    hass: HomeAssistant, gateway: RunningSimulator, second_gateway: RunningSimulator
) -> None:
    """The fallback began to unload after the other entry found it loaded: it cannot take the message any more.

    Taken, the message would be in no file (its last write may be done): it is given up with sms_alerts_failed
    instead, never lost in silence.
    """
    _primary, fallback = await setup_pair(hass, gateway, second_gateway)
    failed = async_capture_events(hass, "sms_alerts_failed")
    outbox = fallback.runtime_data.outbox
    handed = QueuedItem(
        id="handed-1",
        message_id="m1",
        text=TEXT,
        target=Target(kind=TargetKind.NUMBER, value="+491701234567"),
        options=SendOptions(),
        parts=1,
        severity="warning",
        created=0.0,
        visited=(_primary.entry_id,),
    )
    original = SnapshotStore.async_save
    results: list[Any] = []

    async def save(self: SnapshotStore, data: Any) -> None:
        if self.key.endswith(".outbox") and not results:
            results.append(await outbox.async_take_over([handed]))
        await original(self, data)

    with patch.object(SnapshotStore, "async_save", save):
        assert await hass.config_entries.async_unload(fallback.entry_id)
    [[result]] = results
    assert result.status is SendStatus.FAILED
    assert [event.data["error"] for event in failed] == [
        "Fallback gateway was being unloaded as it took the message over as fallback"
    ]
    assert second_gateway.sim.messages == []
