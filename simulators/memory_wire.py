"""The serial side of a simulated device without a pseudo-terminal: an in-memory stream pair.

For systems that cannot open a pty (a root without /dev/pts): the device parses what the host writes
exactly as on a PtyWire, and the host gets an asyncio StreamReader and a writer with write, drain and
close. `async_open(port, baudrate)` opens a registered wire by its port name, as a serial port opener does.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import ClassVar

from .pty_wire import Handler, PtyWire

_numbers = itertools.count(1)


class MemoryWriter:
    """The host's writing end: bytes go to the device; closing it is the host closing the port."""

    def __init__(self, wire: MemoryWire) -> None:
        """Write to one plugged-in wire."""
        self._wire = wire
        self._generation = wire.generation
        self.closed = False

    def write(self, data: bytes) -> None:
        """Hand bytes to the device; a pulled cable fails the write as a serial port does."""
        if self.closed or not self._wire.plugged or self._wire.generation != self._generation:
            raise OSError(5, "Input/output error")
        self._wire.from_host(data)

    async def drain(self) -> None:
        """Nothing is buffered."""

    def close(self) -> None:
        """Close the host's end."""
        self.closed = True


class MemoryWire(PtyWire):
    """A device port kept in memory; `port` is a name (memory://modem-1), the key of `async_open`."""

    wires: ClassVar[dict[str, MemoryWire]] = {}

    def __init__(self, handler: Handler, *, link: str | None = None) -> None:
        """Name the port; it opens on start()."""
        super().__init__(handler, link=None)
        self.port = link or f"memory://modem-{next(_numbers)}"
        self.generation = 0
        self._plugged = False
        self._host_reader: asyncio.StreamReader | None = None

    @property
    def plugged(self) -> bool:
        """Tell whether the port is there."""
        return self._plugged

    async def start(self) -> str:
        """Plug the port in; return its name."""
        self.generation += 1
        self._plugged = True
        self._buffer.clear()
        self._awaiting_pdu = False
        self._queue = asyncio.Queue()
        self._host_reader = None
        self.wires[self.port] = self
        self._worker = asyncio.create_task(self._work(self._queue))
        return self.port

    def open_host(self) -> tuple[asyncio.StreamReader, MemoryWriter]:
        """Open the port from the host's side: a new reader and writer; OSError when it is not plugged in."""
        if not self._plugged:
            raise FileNotFoundError(2, "No such file or directory", self.port)
        if self._host_reader is not None:
            self._host_reader.feed_eof()  # an earlier opening ends, as a reopened tty cuts the old one
        self._host_reader = asyncio.StreamReader()
        return self._host_reader, MemoryWriter(self)

    def from_host(self, data: bytes) -> None:
        """Take what the host wrote: echo it, then cut it into command lines or a PDU."""
        if self.echo:
            self.write(data.decode("ascii", "replace"))
        self._buffer += data
        self._parse()

    def write(self, text: str) -> None:
        """Send text to the host (nothing when unplugged or not opened)."""
        if self._plugged and self._host_reader is not None:
            self._host_reader.feed_data(text.encode("ascii"))

    def unplug(self) -> None:
        """Pull the cable: the host reads EOF, its writes fail, and the port is gone until start()."""
        if not self._plugged:
            return
        self._plugged = False
        if self._host_reader is not None:
            self._host_reader.feed_eof()
            self._host_reader = None
        if self._worker is not None and self._worker is not asyncio.current_task():
            self._worker.cancel()
        self._worker = None
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()


async def async_open(port: str, baudrate: int) -> tuple[asyncio.StreamReader, MemoryWriter]:
    """Open a memory port by name, as the serial opener opens a device path."""
    wire = MemoryWire.wires.get(port)
    if wire is None:
        raise FileNotFoundError(2, "No such file or directory", port)
    return wire.open_host()
