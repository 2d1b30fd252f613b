"""Outbox with 10,000 queued messages: load time, memory, save time and drain rate (vs raw aiohttp)."""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
import uuid
from pathlib import Path

import aiohttp
from homeassistant.core import HomeAssistant
from homeassistant.helpers.json import json_bytes
from homeassistant.util.json import load_json

from benchmarks import sized
from benchmarks.conftest import RemoteSimulator
from benchmarks.test_send_benchmark import STORM_OFF, _order, _production_loop, _setup_entry
from custom_components.sms_alerts.api.base import Target, TargetKind
from custom_components.sms_alerts.outbox import ItemState, QueuedItem, SendOptions, parse_items
from tests.conftest import RunningSimulator, gateway_entry_for

QUEUED = sized(10_000, 100)
DRAINED = sized(2_000, 20)
ROUNDS = sized(5, 1)
DRAIN_ROUNDS = sized(3, 1)


def _items(count: int, entry_id: str) -> list[QueuedItem]:
    """Queued alerts to 100 numbers, with realistic texts."""
    return [
        QueuedItem(
            id=uuid.uuid4().hex,
            message_id=uuid.uuid4().hex,
            text=f"Plant room {i}: freezer at -{i % 30} °C, door open for {i % 60} min. Check compressor.",
            target=Target(kind=TargetKind.NUMBER, value=f"+49170{1000000 + i % 100}"),
            options=SendOptions(),
            parts=1,
            severity="warning",
            created=time.time(),
            attempts=3,
            next_attempt=time.time() + 60,
            last_error="HTTP 503: Service Unavailable",
            visited=(entry_id,),
        )
        for i in range(count)
    ]


def _table(rows: list[tuple[str, str, str]]) -> None:
    """Print a result table."""
    print("\n| measure | result | target |\n|---|---|---|")
    for row in rows:
        print(f"| {row[0]} | {row[1]} | {row[2]} |")


def test_outbox_load_memory_save(tmp_path: Path) -> None:
    """Load and save of an outbox file with 10,000 messages, median of several rounds."""
    path = tmp_path / "sms_alerts.x.outbox"
    data = {
        "version": 1,
        "minor_version": 1,
        "key": "x",
        "data": {"items": [i.to_stored() for i in _items(QUEUED, "e")]},
    }
    saves, loads = [], []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        path.write_bytes(json_bytes(data))
        saves.append(time.perf_counter() - start)
        gc.collect()
        start = time.perf_counter()
        items, skipped = parse_items(load_json(path)["data"])  # type: ignore[index]
        loads.append(time.perf_counter() - start)
        assert items is not None
        assert (len(items), skipped) == (QUEUED, 0)
    gc.collect()
    tracemalloc.start()
    kept, _ = parse_items(load_json(path)["data"])  # type: ignore[index]
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert kept is not None
    _table(
        [
            (f"file size, {QUEUED:,} messages", f"{path.stat().st_size / 1e6:.1f} MB", ""),
            ("load: read + parse + build items (median)", f"{statistics.median(loads):.3f} s", "≤ 0.2 s"),
            ("memory held by the loaded queue", f"{retained / 1e6:.1f} MB (peak {peak / 1e6:.1f} MB)", "≤ 10 MB"),
            ("save: serialise + write (median)", f"{statistics.median(saves):.3f} s", ""),
        ]
    )


async def test_drain_rate_against_raw_requests(hass: HomeAssistant, remote_sims: dict[str, RemoteSimulator]) -> None:
    """Drain queued messages, then as many plain aiohttp POSTs, alternating; the simulator runs in its own process."""
    gateway = remote_sims["sms_gateway"]
    entry = gateway_entry_for(RunningSimulator(sim=None, url=gateway.url), options=STORM_OFF)
    await _setup_entry(hass, entry)
    outbox = entry.runtime_data.outbox
    data = entry.data
    times: dict[str, list[float]] = {"drain": [], "raw": []}
    async with aiohttp.ClientSession() as session:

        async def drain(items: list[QueuedItem]) -> None:
            for item in items:
                item.next_attempt = 0
                item.state = ItemState.WAITING
            outbox._queue.load(items)  # noqa: SLF001 - fill the queue directly
            await outbox.async_drain()
            assert outbox.items == []

        async def raw(items: list[QueuedItem]) -> None:
            for item in items:
                form = {
                    "username": data["username"],
                    "password": data["password"],
                    "text": item.text,
                    "to": f"00{item.target.value[1:]}",
                    "mode": "number",
                }
                async with session.post(f"{gateway.url}/api.php", data=form) as resp:
                    assert resp.status == 200
                    await resp.read()

        methods = {"drain": drain, "raw": raw}
        with _production_loop():
            for round_ in range(DRAIN_ROUNDS):
                for key in _order(list(methods), round_):
                    items = _items(DRAINED, entry.entry_id)
                    start = time.perf_counter()
                    await methods[key](items)
                    times[key].append(time.perf_counter() - start)
    assert (await gateway.stats())["messages"] == 2 * DRAIN_ROUNDS * DRAINED
    drain_time, raw_time = statistics.median(times["drain"]), statistics.median(times["raw"])
    _table(
        [
            (
                f"drain {DRAINED} queued messages (median of {DRAIN_ROUNDS})",
                f"{drain_time:.2f} s = {DRAINED / drain_time:.0f} msg/s",
                "",
            ),
            (
                f"{DRAINED} raw aiohttp POSTs to the same simulator",
                f"{raw_time:.2f} s = {DRAINED / raw_time:.0f} msg/s",
                "",
            ),
            (
                "ratio drain / raw",
                f"{drain_time / raw_time:.2f}x",
                "queue bookkeeping, order per target, one save per pass",
            ),
        ]
    )
