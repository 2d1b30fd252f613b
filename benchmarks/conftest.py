"""The test fixtures, shared with the benchmarks, and the simulators in a process of their own."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from custom_components.sms_alerts import outbox_store
from tests.conftest import (  # noqa: F401 - fixtures
    auto_enable_custom_integrations,
    gateway,
    gateway_entry,
    journal_folder,
    loaded_gateway,
)

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0
# The journal's real writer, in a worker thread: the tests write in the event loop, the product does not
REAL_JOURNAL_RUN = outbox_store.OutboxStore._run  # noqa: SLF001 - kept before the tests' fixture replaces it


@pytest.fixture(autouse=True)
def real_journal_writer(journal_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811 - the fixture
    """Measure the real path: journal lines written and synced by a worker thread, in the journal folder.

    The outbox's snapshot too: the test library keeps Store files in memory and checks them in the
    event loop, so here Home Assistant's own writer (a worker thread, 2025.4's signature) writes the
    file beside the journal.
    """
    monkeypatch.setattr(outbox_store.OutboxStore, "_run", REAL_JOURNAL_RUN)

    async def write_file(store: outbox_store.SnapshotStore, *args: Any) -> None:
        # (path, data) on 2025.4; (data) since, written to the Store's own path in the test's config folder
        path = () if len(args) == 1 else (str(journal_folder / store.key),)
        await store.hass.async_add_executor_job(store._write_data, *path, args[-1])  # noqa: SLF001
        store.saved = True

    monkeypatch.setattr(outbox_store.SnapshotStore, "_async_write_data", write_file)


@dataclass
class RemoteSimulator:
    """A simulator served by `python -m simulators` in another process, read through its /_sim/ routes."""

    url: str
    session: aiohttp.ClientSession

    async def stats(self) -> dict[str, Any]:
        """Request counts by path, messages, and the most requests at once since the last read."""
        async with self.session.get(f"{self.url}/_sim/stats") as resp:
            result: dict[str, Any] = await resp.json()
            return result

    async def set_latency(self, seconds: float) -> None:
        """Make every answer take `seconds`."""
        async with self.session.post(f"{self.url}/_sim/latency", params={"seconds": str(seconds)}) as resp:
            assert resp.status == 200

    async def set_fault(self, name: str) -> None:
        """Make every answer fail this way ("none" recovers)."""
        async with self.session.post(f"{self.url}/_sim/fault", params={"name": name}) as resp:
            assert resp.status == 200

    async def messages(self) -> list[dict[str, Any]]:
        """Every message the simulator took, oldest first."""
        async with self.session.get(f"{self.url}/_sim/messages") as resp:
            result: list[dict[str, Any]] = await resp.json()
            return result


def _free_ports(count: int) -> list[int]:
    """Loopback ports free right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture
async def remote_sims(socket_enabled: None) -> AsyncGenerator[dict[str, RemoteSimulator]]:
    """Every simulator in its own process, as a real device is never in Home Assistant's event loop."""
    names = ("sms_gateway", "wildix", "pbxware", "ipex")
    ports = _free_ports(len(names) + 1)
    args = [f"--{name.replace('_', '-')}-port={port}" for name, port in zip(names, ports, strict=False)]
    process = subprocess.Popen(  # noqa: S603, ASYNC220 - our own interpreter and module; starting it does not wait
        [sys.executable, "-m", "simulators", "--quiet", "--no-modem", f"--phones-port={ports[-1]}", *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as session:
            sims = {
                name: RemoteSimulator(f"http://127.0.0.1:{port}", session)
                for name, port in zip(names, ports, strict=False)
            }
            async with asyncio.timeout(START_TIMEOUT):
                while True:
                    try:
                        for sim in sims.values():
                            await sim.stats()
                        break
                    except aiohttp.ClientError:
                        assert process.poll() is None, "the simulators did not start"
                        await asyncio.sleep(0.1)
            yield sims
    finally:
        process.terminate()
        process.wait(timeout=10)
