"""The serial side of a simulated device: a pseudo-terminal that cuts what the host writes into commands."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

CTRL_Z = 0x1A
ESC = 0x1B

# What the host sent: ("line", command), ("pdu", hex up to Ctrl-Z) or ("cancel", hex up to ESC)
Handler = Callable[[str, str], Awaitable[None]]


class PtyWire:
    """A pty whose slave side is the device's port; one command is handled at a time, as a modem does."""

    def __init__(self, handler: Handler, *, link: str | None = None) -> None:
        """Keep the handler of each command; `link` is a stable symlink to the port (like /dev/serial/by-id)."""
        self.handler = handler
        self.link = link
        self.echo = True
        self.port = ""
        self._master: int | None = None
        self._slave: int | None = None
        self._buffer = bytearray()
        self._awaiting_pdu = False
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._worker: asyncio.Task[None] | None = None

    @property
    def plugged(self) -> bool:
        """Tell whether the port is open."""
        return self._master is not None

    async def start(self) -> str:
        """Open the pty and answer on it; return the port's path (the link, if one was given)."""
        master, slave = os.openpty()
        # Raw: no echo or line editing by the terminal driver; what the device writes is what the host reads
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.port = os.ttyname(slave)
        self._point_link()
        self._buffer.clear()
        self._awaiting_pdu = False
        self._queue = asyncio.Queue()
        asyncio.get_running_loop().add_reader(master, self._on_readable)
        self._worker = asyncio.create_task(self._work(self._queue))
        return self.link or self.port

    def _point_link(self) -> None:
        """Point the stable link, if any, at the port now open (a symlink: quick, local)."""
        if self.link:
            Path(self.link).unlink(missing_ok=True)
            Path(self.link).symlink_to(self.port)

    def unplug(self) -> None:
        """Close the pty as a pulled USB cable would: the host's reads fail and the port goes away."""
        if self._master is None:
            return
        asyncio.get_running_loop().remove_reader(self._master)
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        if self.link:
            Path(self.link).unlink(missing_ok=True)
        if self._worker is not None and self._worker is not asyncio.current_task():
            self._worker.cancel()
        self._worker = None
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()

    async def stop(self) -> None:
        """Close the port and wait for every task to end."""
        tasks = [*self._tasks, *([self._worker] if self._worker else [])]
        self.unplug()
        await asyncio.gather(*tasks, return_exceptions=True)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run something later (a status report) that ends with the port."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def expect_pdu(self) -> None:
        """Read what comes next as a PDU up to Ctrl-Z, not as command lines."""
        self._awaiting_pdu = True

    def write(self, text: str) -> None:
        """Send text to the host (nothing when unplugged)."""
        if self._master is None:
            return
        with contextlib.suppress(OSError):
            os.write(self._master, text.encode("ascii"))

    def _on_readable(self) -> None:
        """Take what the host wrote: echo it, then cut it into command lines or a PDU."""
        if self._master is None:
            return
        try:
            data = os.read(self._master, 4096)
        except OSError:
            return
        if self.echo:
            self.write(data.decode("ascii", "replace"))
        self._buffer += data
        self._parse()

    def _parse(self) -> None:
        """Queue complete command lines, or the PDU up to Ctrl-Z (ESC cancels it)."""
        while self._buffer:
            if self._awaiting_pdu:
                ends = [index for index in (self._buffer.find(CTRL_Z), self._buffer.find(ESC)) if index >= 0]
                if not ends:
                    return
                end = min(ends)
                body = self._buffer[:end].decode("ascii", "replace")
                kind = "pdu" if self._buffer[end] == CTRL_Z else "cancel"
                del self._buffer[: end + 1]
                self._awaiting_pdu = False
                self._queue.put_nowait((kind, "".join(body.split())))
                continue
            end = self._buffer.find(b"\r")
            if end < 0:
                return
            # An ESC outside a PDU cancels nothing: modems ignore it before a command
            line = self._buffer[:end].decode("ascii", "replace").strip().lstrip(chr(ESC)).strip()
            del self._buffer[: end + 1]
            if line:
                self._queue.put_nowait(("line", line))

    async def _work(self, queue: asyncio.Queue[tuple[str, str]]) -> None:
        """Hand each command to the device, one at a time, until the port that queued them is closed."""
        while self._queue is queue and self.plugged:
            kind, text = await queue.get()
            await self.handler(kind, text)
