"""Crashes at chosen instants: what is on disk then loses no alert and repeats only the requests under way."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sms_alerts import outbox_store
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
    writes: list[bytes] = []
    append = journal.file.append

    def counting(data: bytes) -> None:
        writes.append(data)
        append(data)

    monkeypatch.setattr(journal.file, "append", counting)
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
