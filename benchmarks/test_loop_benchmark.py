"""How long Home Assistant's event loop is blocked at a time while a burst of 1,000 alerts is taken and sent.

Every callback the loop runs is timed (asyncio's Handle._run, wrapped for the test), so the longest
one is named; a heartbeat every millisecond measures the lateness of the loop as a whole as well
(callbacks plus what the loop does between them, worker threads holding the interpreter included).
"""

# ruff: noqa: SLF001 - times the outbox's own paths

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from benchmarks import sized
from benchmarks.conftest import RemoteSimulator
from benchmarks.test_send_benchmark import STORM_OFF, _production_loop, _setup_entry
from custom_components.sms_alerts.const import DOMAIN
from tests.conftest import RunningSimulator, gateway_entry_for

BURST = sized(1000, 20)
NUMBERS = [f"+49170{1000000 + i}" for i in range(100)]
HEARTBEAT = 0.001
DRAIN_TIMEOUT = 120.0


@dataclass
class Phase:
    """Callbacks timed in one phase, the longest with its name, and the heartbeat's lateness."""

    durations: list[float] = field(default_factory=list)
    longest: float = 0.0
    culprit: str = ""
    lateness: list[float] = field(default_factory=list)
    gc_pauses: list[float] = field(default_factory=list)
    # The longest callback with the garbage collections that ran inside it taken out
    longest_own: float = 0.0
    culprit_own: str = ""


def _name(handle: asyncio.Handle) -> str:
    """Name a callback: a task by its coroutine, else the function."""
    callback: Any = handle._callback  # type: ignore[attr-defined]
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coro = owner.get_coro()
        frame = getattr(coro, "cr_frame", None)
        where = f" at line {frame.f_lineno}" if frame is not None else ""
        return f"task {getattr(coro, '__qualname__', coro)}{where}"
    return f"callback {getattr(callback, '__qualname__', callback)}"


class LoopMonitor:
    """Times every callback of the running loop, by phase."""

    def __init__(self) -> None:
        """Start in no phase: nothing is recorded until one is set."""
        self.phase: str | None = None
        self.own = asyncio.current_task()
        self.phases: dict[str, Phase] = {}
        # Seconds spent in garbage collections so far
        self.gc_total = 0.0

    def ignored(self, handle: asyncio.Handle) -> bool:
        """Tell whether a callback is a step of the benchmark itself (it gathers 1,000 responses)."""
        return getattr(handle._callback, "__self__", None) is self.own  # type: ignore[attr-defined]

    def start(self, name: str | None) -> None:
        """Record what follows under `name` (None: record nothing, e.g. the benchmark's own work)."""
        self.phase = name
        if name is not None:
            self.phases.setdefault(name, Phase())

    def record(self, phase: str, handle: asyncio.Handle, elapsed: float, collecting: float) -> None:
        """Note one callback's time, and that time without the garbage collections inside it."""
        record = self.phases.setdefault(phase, Phase())
        record.durations.append(elapsed)
        if elapsed > record.longest:
            record.longest, record.culprit = elapsed, _name(handle)
        if elapsed - collecting > record.longest_own:
            record.longest_own, record.culprit_own = elapsed - collecting, _name(handle)

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Wrap Handle._run (TimerHandle inherits it) and run a heartbeat while inside."""
        original: Callable[[asyncio.Handle], None] = asyncio.events.Handle._run  # type: ignore[attr-defined]
        monitor = self

        def timed_run(handle: asyncio.Handle) -> None:
            phase = None if monitor.ignored(handle) else monitor.phase
            collected = monitor.gc_total
            start = time.perf_counter()
            try:
                original(handle)
            finally:
                if phase is not None:
                    monitor.record(phase, handle, time.perf_counter() - start, monitor.gc_total - collected)

        loop = asyncio.get_running_loop()
        stopped = False

        def beat(expected: float) -> None:
            now = time.perf_counter()
            if monitor.phase is not None:
                monitor.phases.setdefault(monitor.phase, Phase()).lateness.append(max(0.0, now - expected))
            if not stopped:
                loop.call_later(HEARTBEAT, beat, time.perf_counter() + HEARTBEAT)

        gc_started = 0.0

        def gc_timer(stage: str, _info: dict[str, int]) -> None:
            nonlocal gc_started
            if stage == "start":
                gc_started = time.perf_counter()
            else:
                pause = time.perf_counter() - gc_started
                monitor.gc_total += pause
                if monitor.phase is not None:
                    monitor.phases.setdefault(monitor.phase, Phase()).gc_pauses.append(pause)

        gc.callbacks.append(gc_timer)
        asyncio.events.Handle._run = timed_run  # type: ignore[attr-defined]
        loop.call_later(HEARTBEAT, beat, time.perf_counter() + HEARTBEAT)
        try:
            yield
        finally:
            stopped = True
            asyncio.events.Handle._run = original  # type: ignore[attr-defined]
            gc.callbacks.remove(gc_timer)

    def rows(self) -> list[tuple[str, ...]]:
        """One table row per phase."""
        rows = []
        for name, phase in self.phases.items():
            p99 = statistics.quantiles(phase.durations, n=100)[-1] if len(phase.durations) > 1 else phase.longest
            late = max(phase.lateness, default=0.0)
            rows.append(
                (
                    name,
                    f"{len(phase.durations):,}",
                    f"{p99 * 1e3:.2f}",
                    f"{phase.longest * 1e3:.2f}",
                    phase.culprit,
                    f"{phase.longest_own * 1e3:.2f}",
                    phase.culprit_own,
                    f"{max(phase.gc_pauses, default=0.0) * 1e3:.1f}",
                    f"{late * 1e3:.1f}",
                )
            )
        return rows


def _table(rows: list[tuple[str, ...]]) -> None:
    """Print the result table."""
    header = (
        (
            f"burst of {BURST:,} alerts to 100 numbers (SMS Gateway simulator in its own process;"
            " target: the loop blocked ≤ 20 ms at a time)"
        ),
        "callbacks",
        "p99 ms",
        "longest ms",
        "longest callback",
        "longest without garbage collection ms",
        "that callback",
        "longest garbage collection ms",
        "heartbeat late, most ms",
    )
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


async def _burst(hass: HomeAssistant, entry: MockConfigEntry, tag: str) -> list[asyncio.Task[Any]]:
    """Start 1,000 sms_alerts.send calls, each as its own task (as 1,000 automations would)."""
    loop = asyncio.get_running_loop()
    return [
        loop.create_task(
            hass.services.async_call(
                DOMAIN,
                "send",
                {
                    "config_entry_id": entry.entry_id,
                    "message": f"{tag} alarm {n}: freezer {n % 30} at -{n % 9} °C, door open {n % 60} min",
                    "target": [NUMBERS[n % len(NUMBERS)]],
                },
                blocking=True,
                return_response=True,
            )
        )
        for n in range(BURST)
    ]


async def _settled(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Wait for every journal line and background task (a snapshot) of the moment."""
    outbox = entry.runtime_data.outbox
    await hass.async_block_till_done(wait_background_tasks=True)
    await outbox._queue.store.async_written()
    await hass.async_block_till_done(wait_background_tasks=True)


async def _until_drained(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Wait until the outbox is empty and written."""
    outbox = entry.runtime_data.outbox
    async with asyncio.timeout(DRAIN_TIMEOUT):
        while outbox._queue.items:  # noqa: ASYNC110 - the outbox drains in tasks of its own
            await asyncio.sleep(0.05)
    await _settled(hass, entry)


async def test_event_loop_blocking_during_a_burst(hass: HomeAssistant, remote_sims: dict[str, RemoteSimulator]) -> None:
    """1,000 alerts at once to a device that is down (queued, then drained), and to one that answers."""
    gateway = remote_sims["sms_gateway"]
    entry = gateway_entry_for(RunningSimulator(sim=None, url=gateway.url), options=STORM_OFF)
    await _setup_entry(hass, entry)
    outbox = entry.runtime_data.outbox
    monitor = LoopMonitor()
    with _production_loop(), monitor.installed():
        # A device that is down: every alert is taken and queued, then all are sent when it answers again
        await gateway.set_fault("http_503")
        tasks = await _burst(hass, entry, "Down")
        monitor.start("device down: accept (all queued)")
        responses = await asyncio.gather(*tasks)
        monitor.start("device down: journal written, snapshot")
        await _settled(hass, entry)
        monitor.start(None)
        assert {r["results"][0]["status"] for r in responses} == {"queued"}  # type: ignore[index]
        assert len(outbox._queue.items) == BURST
        await gateway.set_fault("none")
        monitor.start("device down: drain after it answers again")
        outbox.async_recovered()
        await _until_drained(hass, entry)
        monitor.start(None)
        # A device that answers: every alert is sent at once, one after the other
        tasks = await _burst(hass, entry, "Up")
        monitor.start("device up: accept and send")
        responses = await asyncio.gather(*tasks)
        monitor.start("device up: journal written")
        await _settled(hass, entry)
        monitor.start(None)
        assert {r["results"][0]["status"] for r in responses} == {"sent"}  # type: ignore[index]
    assert (await gateway.stats())["messages"] == 2 * BURST
    _table(monitor.rows())
