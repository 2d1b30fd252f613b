"""Crashes at chosen instants: what is on disk then loses no alert and repeats only the requests under way."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sms_alerts import outbox_store
from custom_components.sms_alerts.const import EVENT_FAILED
from custom_components.sms_alerts.journal import STORM
from custom_components.sms_alerts.message import MessageError
from custom_components.sms_alerts.outbox import SendOptions, SendStatus, parse_items
from simulators.base import Fault, ReceivedMessage

from .conftest import RunningSimulator, gateway_entry_for, on_disk, send

# The journal's real writer, in a worker thread (the suite's conftest writes in the event loop)
REAL_RUN = outbox_store.OutboxStore._run


@pytest.fixture(autouse=True)
def real_disk_writes(journal_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Write journals as Home Assistant does: in a worker thread, to a real file."""
    monkeypatch.setattr(outbox_store.OutboxStore, "_run", REAL_RUN)


async def wait_for(condition: Any, what: str, seconds: float = 5.0) -> None:
    """Let real time pass (a simulator answers slowly) until the condition holds."""
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"waited {seconds} s in vain: {what}")


def crash(hass_storage: dict[str, Any], entry: MockConfigEntry) -> tuple[Any, bytes | None]:
    """Take what is on disk at this instant: the outbox file and its journal, as a power cut would leave them."""
    path = outbox_store.journal_path(None, entry.entry_id)  # type: ignore[arg-type] # the test's folder
    key = outbox_store.storage_key(entry.entry_id)
    return copy.deepcopy(hass_storage.get(key)), path.read_bytes() if path.exists() else None


async def restart_from(
    hass: HomeAssistant, hass_storage: dict[str, Any], entry: MockConfigEntry, disk: tuple[Any, bytes | None]
) -> None:
    """Start the entry again from what a crash left on disk (the dead outbox's later writes are undone)."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    snapshot, journal = disk
    key = outbox_store.storage_key(entry.entry_id)
    path = outbox_store.journal_path(None, entry.entry_id)  # type: ignore[arg-type]
    if snapshot is None:
        hass_storage.pop(key, None)
    else:
        hass_storage[key] = snapshot
    if journal is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(journal)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


def waiting_texts(hass_storage: dict[str, Any], entry: MockConfigEntry) -> list[str]:
    """Texts a new outbox would load from disk now."""
    items, skipped = parse_items(on_disk(hass_storage, entry.entry_id))
    assert skipped == 0
    return [item.text for item in items or []]


def record_writes(monkeypatch: pytest.MonkeyPatch, file: Any) -> list[bytes]:
    """Return the list each write of a journal file appends to (the writes still happen)."""
    writes: list[bytes] = []
    append = file.append

    def counting(data: bytes) -> None:
        writes.append(data)
        append(data)

    monkeypatch.setattr(file, "append", counting)
    return writes


@pytest.mark.parametrize("via", ["sms_alerts.send", "notify.send_message"])
async def test_a_crash_while_the_first_request_is_under_way_loses_nothing(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    via: str,
) -> None:
    """The power goes a fraction of a second after "UPS on battery" was accepted, the device still busy with it.

    On disk then: the alert, marked as under way; after the restart it is sent, with a warning that
    a recipient may get it twice (here the dead request never reached the device: it arrives once).
    """
    gateway.sim.fail(Fault.SLOW, times=1, delay=0.5)
    if via == "sms_alerts.send":
        task = hass.async_create_task(send(hass, loaded_gateway, message="UPS on battery"))
    else:
        task = hass.async_create_task(
            hass.services.async_call(
                "notify",
                "send_message",
                {"entity_id": "notify.on_call", "message": "UPS on battery"},
                blocking=True,
            )
        )
    await wait_for(lambda: gateway.sim.in_flight == 1, "the first request is under way")
    await asyncio.sleep(0.05)  # the journal line was started with the request; a worker thread writes it
    disk = crash(hass_storage, loaded_gateway)
    assert waiting_texts(hass_storage, loaded_gateway) == ["UPS on battery"]
    await task  # the dead process's request ends (504) without reaching the device
    await restart_from(hass, hass_storage, loaded_gateway, disk)
    assert [(m.to, m.text) for m in gateway.sim.messages] == [("00491701234567", "UPS on battery")]
    assert waiting_texts(hass_storage, loaded_gateway) == []


async def test_a_crash_in_the_middle_of_a_drain_repeats_only_the_request_under_way(
    hass: HomeAssistant, gateway: RunningSimulator, hass_storage: dict[str, Any]
) -> None:
    """56 alerts wait; the device answers again; the power goes while the 16th request is under way.

    The 15 delivered are off the disk already (each settled as it went out), so after the restart
    exactly the 41 others are sent: none is lost, none is sent twice.
    """
    loaded_gateway = gateway_entry_for(gateway, options={"dedup_minutes": 0, "rate_limit": 0})
    loaded_gateway.add_to_hass(hass)
    assert await hass.config_entries.async_setup(loaded_gateway.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    total, crash_at = 56, 15
    gateway.sim.fail(Fault.HTTP_503)
    texts = [f"Sensor {n} alarm" for n in range(total)]
    for text in texts:
        assert (await send(hass, loaded_gateway, message=text))["results"][0]["status"] == "queued"
    assert waiting_texts(hass_storage, loaded_gateway) == texts
    gateway.sim.recover()

    def slow_down(message: ReceivedMessage) -> None:
        if len(gateway.sim.messages) == crash_at:
            gateway.sim.fail(Fault.SLOW, times=1, delay=0.5)

    gateway.sim.listeners.append(slow_down)
    # As when the status page answers again: what waits goes at once
    loaded_gateway.runtime_data.outbox.async_recovered()
    await wait_for(
        lambda: len(gateway.sim.messages) == crash_at and gateway.sim.in_flight == 1, "the 16th request is under way"
    )
    await asyncio.sleep(0.05)  # the last settled line reaches the disk in a worker thread
    disk = crash(hass_storage, loaded_gateway)
    assert waiting_texts(hass_storage, loaded_gateway) == texts[crash_at:]
    await restart_from(hass, hass_storage, loaded_gateway, disk)
    assert [m.text for m in gateway.sim.messages] == texts
    assert waiting_texts(hass_storage, loaded_gateway) == []


async def test_a_burst_of_alerts_is_written_in_few_journal_writes(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fifty alerts at the same moment, the device down: their lines go in a few writes, all of them on disk."""
    journal = loaded_gateway.runtime_data.outbox._queue.store.journal
    writes = record_writes(monkeypatch, journal.file)
    gateway.sim.fail(Fault.HTTP_503)
    texts = [f"Door {n} open" for n in range(50)]
    responses = await asyncio.gather(*(send(hass, loaded_gateway, message=text) for text in texts))
    # Ten a minute to one recipient: the first ten are tried (and wait), the rest are held for the summary
    statuses = [r["results"][0]["status"] for r in responses]
    assert (statuses.count("queued"), statuses.count("throttled")) == (10, 40)
    assert sorted(waiting_texts(hass_storage, loaded_gateway)) == sorted(texts)
    accepting = [data for data in writes if b'"in_flight":true' in data]
    assert len(accepting) <= 3, [data.count(b"\n") for data in accepting]
    assert len(writes) < len(texts)


async def test_a_burst_past_the_compaction_size_writes_one_snapshot(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A burst that makes the journal long asks for one snapshot, not one per alert settled meanwhile.

    Each snapshot builds and writes the whole outbox in the event loop: one per change blocked
    Home Assistant for seconds in a burst of 1,000 (benchmarks/test_loop_benchmark.py).
    """
    monkeypatch.setattr(outbox_store, "COMPACT_AFTER", 20)
    store = loaded_gateway.runtime_data.outbox._queue.store
    snapshots: list[int] = []
    snapshot = store.async_snapshot

    async def counting(data_func: Any) -> None:
        snapshots.append(store.lines)
        await snapshot(data_func)

    monkeypatch.setattr(store, "async_snapshot", counting)
    gateway.sim.fail(Fault.HTTP_503)
    texts = [f"Window {n} open" for n in range(60)]
    responses = await asyncio.gather(*(send(hass, loaded_gateway, message=text) for text in texts))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert {r["results"][0]["status"] for r in responses} == {"queued", "throttled"}  # ten a minute are tried
    assert sorted(waiting_texts(hass_storage, loaded_gateway)) == sorted(texts)
    assert 1 <= len(snapshots) <= 3, snapshots
    assert all(lines > 20 for lines in snapshots), snapshots


async def test_an_accepted_alert_is_on_disk_before_its_request_ends(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, hass_storage: dict[str, Any]
) -> None:
    """Outbox.async_accept (a webhook's way in) returns with the alert synced to disk, the device still busy.

    A crash right after it returned loses nothing; the future it gave holds the report once the device answered.
    """
    gateway.sim.fail(Fault.SLOW, times=1, delay=0.5)
    outbox = loaded_gateway.runtime_data.outbox
    accepted = await outbox.async_accept("Disk full", None, ["+491701234567"], SendOptions(), "critical")
    assert len(accepted.item_ids) == 1
    answer = accepted.report
    assert not answer.done()
    disk = crash(hass_storage, loaded_gateway)
    assert waiting_texts(hass_storage, loaded_gateway) == ["Disk full"]
    report = await answer
    assert [result.status for result in report.results] == [SendStatus.QUEUED]  # the slow request timed out
    await restart_from(hass, hass_storage, loaded_gateway, disk)
    assert [(m.to, m.text) for m in gateway.sim.messages] == [("00491701234567", "Disk full")]


async def test_accept_refuses_bad_input_at_once(hass: HomeAssistant, loaded_gateway: MockConfigEntry) -> None:
    """An empty text is refused with MessageError before anything is written."""
    with pytest.raises(MessageError):
        await loaded_gateway.runtime_data.outbox.async_accept(" ", None, ["+491701234567"], SendOptions())


async def storm_entry(hass: HomeAssistant, gateway: RunningSimulator, **options: Any) -> MockConfigEntry:
    """An SMS Gateway entry with storm control's options."""
    entry = gateway_entry_for(gateway, options=options)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


async def crash_and_restart(hass: HomeAssistant, hass_storage: dict[str, Any], entry: MockConfigEntry) -> None:
    """The power goes once the last send's lines are on disk; a new outbox starts from the files (no unload wrote)."""
    await hass.async_block_till_done()
    await restart_from(hass, hass_storage, entry, crash(hass_storage, entry))


async def test_a_crash_keeps_the_duplicate_window(
    hass: HomeAssistant, gateway: RunningSimulator, hass_storage: dict[str, Any]
) -> None:
    """The alert "Freezer warm" went out; the power goes; the same alert a moment later is a duplicate, no SMS."""
    entry = await storm_entry(hass, gateway, dedup_minutes=5)
    assert (await send(hass, entry, message="Freezer warm"))["results"][0]["status"] == "sent"
    await crash_and_restart(hass, hass_storage, entry)
    assert (await send(hass, entry, message="Freezer warm"))["results"][0]["status"] == "deduplicated"
    assert [m.text for m in gateway.sim.messages] == ["Freezer warm"]


async def test_a_crash_keeps_the_days_budget_spent(
    hass: HomeAssistant, gateway: RunningSimulator, hass_storage: dict[str, Any]
) -> None:
    """A budget of 2 SMS a day, both sent; the power goes; the next warning is over the budget, not sent."""
    entry = await storm_entry(hass, gateway, daily_budget=2)
    await send(hass, entry, message="a")
    await send(hass, entry, message="b")
    await crash_and_restart(hass, hass_storage, entry)
    failed: list[Event] = []
    hass.bus.async_listen(EVENT_FAILED, failed.append)
    with pytest.raises(HomeAssistantError, match="the daily budget of 2 SMS is spent"):
        await send(hass, entry, message="c")
    await hass.async_block_till_done()
    assert [event.data["message"] for event in failed] == ["c"]
    assert [m.text for m in gateway.sim.messages] == ["a", "b"]


async def test_a_crash_keeps_the_rate_limits_minute(
    hass: HomeAssistant, gateway: RunningSimulator, hass_storage: dict[str, Any]
) -> None:
    """One SMS a minute to a number, one sent; the power goes; the next alert within the minute is held."""
    entry = await storm_entry(hass, gateway, rate_limit=1, dedup_minutes=0)
    await send(hass, entry, message="a")
    await crash_and_restart(hass, hass_storage, entry)
    assert (await send(hass, entry, message="b"))["results"][0]["status"] == "throttled"
    assert [m.text for m in gateway.sim.messages] == ["a"]


async def test_storm_control_writes_its_changes_not_itself_in_the_same_write_as_the_send(
    hass: HomeAssistant, gateway: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each send adds a short line of what storm control counted then, synced with the line that settles it.

    Not the whole memory per send: the tenth send's line is as short as the second's.
    """
    entry = await storm_entry(hass, gateway, dedup_minutes=5, rate_limit=0)
    await send(hass, entry, message="Alert 0")  # the first of the day also notes the day
    await hass.async_block_till_done()
    journal = entry.runtime_data.outbox._queue.store.journal
    writes = record_writes(monkeypatch, journal.file)
    store = entry.runtime_data.outbox._queue.store
    for n in range(1, 10):
        writes.clear()
        lines = store.lines
        await send(hass, entry, message=f"Alert {n}")
        await hass.async_block_till_done()
        # One write takes the alert (under way), one settles it: its storm line goes with the second
        assert len(writes) == 2, writes
        # and does not bring the next snapshot nearer
        assert store.lines == lines + 2
        records = [orjson.loads(line) for line in writes[1].splitlines()]
        assert [record["op"] for record in records] == [STORM, "del"]
        assert records[0]["ev"] == [
            ["sent", "+491701234567", f"Alert {n}", records[0]["ev"][0][3], records[0]["ev"][0][4], 1]
        ]
        assert len(writes[1].splitlines()[0]) < 150
