"""The simulated modem's port over TCP, for a Home Assistant that cannot see this machine's pseudo-terminals.

A Home Assistant in a chroot or a container without /dev/pts cannot open the simulator's pty; pyserial
opens `socket://host:port` as a serial port (pyserial's URL handlers, protocol_socket), so a bridge
relays one TCP connection at a time to the pty's device side, as ser2net does for a real modem.
Pulling the simulated cable closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty

READ_SIZE = 4096
# How long a new connection waits for the previous one to close
HANDOVER_WAIT = 5.0


async def _relay(link: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Relay one connection to the pty behind `link` until either side closes."""
    try:
        fd = os.open(link, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        writer.close()  # the modem is unplugged: the connection is refused as the port would be
        return
    tty.setraw(fd)
    loop = asyncio.get_running_loop()
    closed = asyncio.Event()

    def from_modem() -> None:
        try:
            data = os.read(fd, READ_SIZE)
        except OSError:
            data = b""
        if not data:
            closed.set()
            return
        writer.write(data)

    loop.add_reader(fd, from_modem)

    async def to_modem() -> None:
        try:
            while data := await reader.read(READ_SIZE):
                with contextlib.suppress(BlockingIOError):
                    os.write(fd, data)
        except ConnectionError:
            pass  # the other side reset the connection: closed, as an unplugged cable
        closed.set()

    pump = asyncio.create_task(to_modem())
    try:
        await closed.wait()
    finally:
        loop.remove_reader(fd)
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        os.close(fd)
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def serve(link: str, host: str, port: int) -> asyncio.Server:
    """Serve the pty behind `link` on host:port, one connection at a time (a serial port has one user)."""
    busy = asyncio.Lock()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The last user may still be letting go (a flow's check closes the port just before the entry opens it)
        try:
            await asyncio.wait_for(busy.acquire(), HANDOVER_WAIT)
        except TimeoutError:
            writer.close()  # still in use: refused, as a serial port that another program holds
            return
        try:
            await _relay(link, reader, writer)
        finally:
            busy.release()

    return await asyncio.start_server(handle, host, port)
