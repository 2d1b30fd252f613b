"""The modem simulator for tests: on a pseudo-terminal where one can be opened, else on an in-memory port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncGenerator, Callable
from pathlib import Path

import pytest

from custom_components.sms_alerts.api import modem as modem_api
from custom_components.sms_alerts.api.base import ProviderError
from simulators import memory_wire
from simulators.modem import ModemSimulator

OPENER = "custom_components.sms_alerts.api.modem.async_open_port"


def pseudo_terminals() -> bool:
    """Tell whether this system can open a pseudo-terminal (a root without /dev/pts cannot name one)."""
    try:
        fds = os.openpty()
    except OSError:
        return False
    try:
        os.ttyname(fds[1])
    except OSError:
        return False
    finally:
        for fd in fds:
            os.close(fd)
    return True


# Both transports where a pty opens; the in-memory one everywhere, so the modem's logic always runs
TRANSPORTS = [
    pytest.param("pty", marks=pytest.mark.skipif(not pseudo_terminals(), reason="no pseudo-terminals here")),
    "memory",
]


def quick_link(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the link retry, find the modem and wait for a SIM quickly (a test's time, not a real modem's)."""
    monkeypatch.setattr(modem_api, "BACKOFF_INITIAL", 0.05)
    monkeypatch.setattr(modem_api, "SYNC_TIMEOUT", 0.3)
    monkeypatch.setattr(modem_api, "PIN_READY_WAIT", 0.05)


@contextlib.asynccontextmanager
async def running_modem(
    transport: str, monkeypatch: pytest.MonkeyPatch, **kwargs: object
) -> AsyncGenerator[ModemSimulator]:
    """Run a modem simulator; with the memory transport the provider's port opener opens memory ports.

    On a pty the port is a stable link (as /dev/serial/by-id is), so that it keeps its path across a replug.
    """
    if transport == "pty":
        links = Path(tempfile.mkdtemp(prefix="sms-alerts-modem-"))
        kwargs.setdefault("link", str(links / "usb-Simulated_GSM_modem-if02-port0"))
    sim = ModemSimulator(memory=transport == "memory", **kwargs)  # type: ignore[arg-type]
    await sim.start()
    if transport == "memory":
        monkeypatch.setattr(OPENER, memory_wire.async_open)
    # The serial library logs a debug traceback when it cannot flush a port that was pulled out
    serial_logger = logging.getLogger("serial_asyncio_fast")
    level = serial_logger.level
    serial_logger.setLevel(logging.INFO)
    try:
        yield sim
    finally:
        serial_logger.setLevel(level)
        # The reads a link started when it came up (AT+CPMS?, AT+CMGL) end before the port goes: a pty closed
        # under a write is EIO, which the serial library reports to the event loop as a fatal error
        for holder in list(modem_api._HOLDERS.values()):
            async with asyncio.timeout(5):
                await holder.inbound.async_idle()
        await sim.stop()
        if transport == "pty":
            shutil.rmtree(links, ignore_errors=True)


async def wait_for(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until `condition` holds (real time: the modem link runs on the event loop)."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - the condition is another task's state, polled
            await asyncio.sleep(0.01)


class TablePort:
    """Answers each command from a table (a ProviderError where the table holds one); notes what it was asked."""

    def __init__(self, answers: dict[str, list[str] | ProviderError]) -> None:
        """Answer from `answers`; any other command gets no lines."""
        self.answers = answers
        self.asked: list[str] = []

    async def async_command(self, command: str, doing: str) -> list[str]:
        """Answer one command, as the provider's `async_command` (and its `_run`) does."""
        self.asked.append(command)
        answer = self.answers.get(command, [])
        if isinstance(answer, ProviderError):
            raise answer
        return answer
