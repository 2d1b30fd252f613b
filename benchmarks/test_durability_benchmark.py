"""Accept one more alert durably with 10,000 waiting: the journal line against the old rewrite of the whole file."""

# ruff: noqa: SLF001 - measures the outbox's own persistence path

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.helpers.json import save_json

from benchmarks import SMOKE, sized
from benchmarks.test_outbox_benchmark import QUEUED, _items, _table
from benchmarks.test_send_benchmark import STORM_OFF, _setup_entry
from custom_components.sms_alerts import outbox_store
from custom_components.sms_alerts.outbox import IN_FLIGHT, ItemState
from tests.conftest import RunningSimulator, gateway_entry_for

# Even rounds time the old full save, odd ones the journal line: the smoke run needs one of each
ROUNDS = sized(30, 2)


async def test_accept_one_alert_durably_with_10000_waiting(
    hass: HomeAssistant, gateway: RunningSimulator, journal_folder: Path
) -> None:
    """Time from taking an alert to its being on disk, on real files: a journal line vs. the old full save."""
    entry = gateway_entry_for(gateway, options=STORM_OFF)
    await _setup_entry(hass, entry)
    outbox = entry.runtime_data.outbox
    outbox._queue.load(replace(item, state=ItemState.WAITING) for item in _items(QUEUED, entry.entry_id))
    store = outbox._queue.store
    snapshot = journal_folder / outbox_store.storage_key(entry.entry_id)
    journal, full = [], []
    for round_ in range(ROUNDS):
        new = _items(1, entry.entry_id)[0]
        if round_ % 2:
            # Now: the line _async_take starts beside the first request, until it is on disk
            start = time.perf_counter()
            seq = store.put({**new.to_stored(), IN_FLIGHT: True})
            await store.async_written(seq)
            journal.append(time.perf_counter() - start)
        else:
            # Before: the whole outbox built and written atomically, as Store._write_data does
            outbox._queue.items[new.id] = new
            start = time.perf_counter()
            data = {"version": 1, "minor_version": 1, "key": snapshot.name, "data": outbox._queue.stored_data()}
            await hass.async_add_executor_job(partial(save_json, str(snapshot), data, private=True, atomic_writes=True))
            full.append(time.perf_counter() - start)
            del outbox._queue.items[new.id]
    _table(
        [
            (
                f"accept one alert durably, {QUEUED:,} waiting: journal line, fsync'd (median)",
                f"{statistics.median(journal) * 1000:.2f} ms",
                "≤ 5 ms",
            ),
            (
                "the same with the old full save: build + atomic write (median)",
                f"{statistics.median(full) * 1000:.2f} ms",
                "",
            ),
        ]
    )
    if not SMOKE:  # the smoke run checks that it runs, not how fast: a loaded CI machine must not fail it
        assert statistics.median(journal) <= 0.005
    outbox._queue.load([])
