"""Outbox.async_accept when the send fails or is cancelled: the caller learns it, and no error is left unread.

An alert source's webhook answers once async_accept returned; an error inside the send must reach that
caller (or the report it was given), never stay in a future nobody reads ("exception was never retrieved").
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Generator
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sms_alerts.const import DOMAIN
from custom_components.sms_alerts.outbox import SendOptions, SendStatus
from simulators.base import Fault

from .conftest import RunningSimulator

NUMBER = "+491701234567"


class DiskError(OSError):
    """What a part of the send raises in these tests."""


@pytest.fixture
def loop_errors(hass: HomeAssistant) -> Generator[list[dict[str, Any]]]:
    """What the event loop reports meanwhile (an unretrieved exception of a future among them)."""
    seen: list[dict[str, Any]] = []
    loop = hass.loop
    before = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    yield seen
    loop.set_exception_handler(before)


def unretrieved(seen: list[dict[str, Any]]) -> list[str]:
    """The loop's reports of futures whose exception nobody took, once they are collected."""
    gc.collect()
    return [str(context.get("message")) for context in seen if "never retrieved" in str(context.get("message"))]


def send_tasks() -> list[asyncio.Task[Any]]:
    """The sends under way (the tasks async_accept starts)."""
    return [task for task in asyncio.all_tasks() if task.get_name() == f"{DOMAIN} send" and not task.done()]


async def test_an_error_before_the_alert_is_taken_reaches_the_caller(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
    loop_errors: list[dict[str, Any]],
) -> None:
    """A part failing before the items are written: async_accept raises that error; nothing is sent."""
    outbox = loaded_gateway.runtime_data.outbox

    def fail(*_args: Any) -> None:
        raise DiskError("journal cannot be written")

    monkeypatch.setattr(outbox._queue, "admit", fail)
    with pytest.raises(DiskError, match="journal cannot be written"):
        await outbox.async_accept("Disk full", None, [NUMBER], SendOptions(), "critical")
    monkeypatch.undo()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert gateway.sim.messages == []
    assert unretrieved(loop_errors) == []


async def test_an_error_after_the_alert_is_taken_is_in_its_report(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    loop_errors: list[dict[str, Any]],
) -> None:
    """Once on disk the alert is accepted; an error of its first send is the report's, for the caller to take."""
    outbox = loaded_gateway.runtime_data.outbox

    async def fail(*_args: Any) -> None:
        raise DiskError("storm control broke")

    monkeypatch.setattr(outbox._screen, "async_screen", fail)
    accepted = await outbox.async_accept("Disk full", None, [NUMBER], SendOptions(), "critical")
    assert len(accepted.item_ids) == 1
    with pytest.raises(DiskError, match="storm control broke"):
        await accepted.report
    del accepted
    assert unretrieved(loop_errors) == []


async def test_the_same_error_reaches_the_caller_of_async_send(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The action's path (no acceptance asked for): the error of the send is raised to its caller."""
    outbox = loaded_gateway.runtime_data.outbox

    def fail(*_args: Any) -> None:
        raise DiskError("journal cannot be written")

    monkeypatch.setattr(outbox._queue, "admit", fail)
    with pytest.raises(DiskError):
        await outbox.async_submit("Disk full", None, [NUMBER], SendOptions())


async def test_a_send_cancelled_before_the_alert_is_taken_cancels_the_caller(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The send cancelled before anything is written (Home Assistant stopping): async_accept is cancelled too."""
    outbox = loaded_gateway.runtime_data.outbox

    def cancelled(*_args: Any) -> None:
        raise asyncio.CancelledError

    monkeypatch.setattr(outbox._queue, "admit", cancelled)
    with pytest.raises(asyncio.CancelledError):
        await outbox.async_accept("Disk full", None, [NUMBER], SendOptions(), "critical")
    assert send_tasks() == []


async def test_a_send_cancelled_while_its_request_runs_cancels_the_report(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """Cancelled after the alert is on disk (the device slow, Home Assistant stopping): the report is cancelled.

    The caller that took the report learns it; the alert stays in the outbox for the next start.
    """
    gateway.sim.fail(Fault.SLOW, times=1, delay=0.5)
    outbox = loaded_gateway.runtime_data.outbox
    accepted = await outbox.async_accept("Disk full", None, [NUMBER], SendOptions(), "critical")
    (task,) = send_tasks()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await accepted.report
    assert accepted.report.cancelled()
    assert task.cancelled()


async def test_an_accepted_alert_reports_its_send(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """The ordinary case beside the above: the report holds the result of each item."""
    outbox = loaded_gateway.runtime_data.outbox
    accepted = await outbox.async_accept("Disk full", None, [NUMBER], SendOptions(), "critical")
    report = await accepted.report
    assert report.item_ids == accepted.item_ids
    assert [result.status for result in report.results] == [SendStatus.SENT]
    assert [m.text for m in gateway.sim.messages] == ["Disk full"]
