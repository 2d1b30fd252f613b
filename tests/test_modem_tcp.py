"""The modem's port over TCP (pyserial's socket://host:port URL, as ser2net serves a modem on another host).

pyserial opens `socket://<host>:<port>` as a serial port (pyserial: serial/urlhandler/protocol_socket.py,
whose Serial has a fileno(), which serial_asyncio_fast reads with the event loop's add_reader). The smoke
check's Home Assistant, in a chroot without /dev/pts, reaches the simulated modem this way.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncGenerator

import pytest

from custom_components.sms_alerts.api.base import OutboundSms, Outcome, Target, TargetKind
from custom_components.sms_alerts.api.modem import ModemProvider
from simulators import tcp_bridge
from simulators.modem import ModemSimulator

from .modem_helpers import pseudo_terminals, running_modem, wait_for

NUMBER = "+491701234567"
pytestmark = pytest.mark.skipif(not pseudo_terminals(), reason="no pseudo-terminals here")


@pytest.fixture
async def bridged(socket_enabled: None, monkeypatch: pytest.MonkeyPatch) -> AsyncGenerator[tuple[ModemSimulator, str]]:
    """A modem on a pty, its port served on a loopback TCP port: (simulator, socket:// URL)."""
    async with running_modem("pty", monkeypatch, pin="4711") as sim:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = await tcp_bridge.serve(sim.path, "127.0.0.1", port)
        try:
            yield sim, f"socket://127.0.0.1:{port}"
        finally:
            server.close()
            await server.wait_closed()


async def test_modem_over_tcp_checks_and_sends(bridged: tuple[ModemSimulator, str]) -> None:
    """Through socket://, the check enters the PIN, and a send reaches the modem."""
    sim, url = bridged
    provider = ModemProvider(None, port=url, pin="4711")
    await provider.async_validate()
    await provider.async_start()
    try:
        await wait_for(lambda: provider.connected)
        [receipt] = await provider.async_send(
            OutboundSms(text="Door open"), [Target(kind=TargetKind.NUMBER, value=NUMBER)]
        )
        assert receipt.outcome is Outcome.SENT
        assert [(m.to, m.text) for m in sim.messages] == [(NUMBER, "Door open")]
    finally:
        await provider.async_stop()


async def _at(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    """Send a bare AT and read until the modem's final answer."""
    writer.write(b"AT\r")
    await writer.drain()
    answer = b""
    while b"OK" not in answer and b"ERROR" not in answer:
        answer += await asyncio.wait_for(reader.read(256), 5)
    return answer


async def test_a_new_connection_takes_the_port_once_the_last_lets_go(bridged: tuple[ModemSimulator, str]) -> None:
    """A flow's check closes the port just before the entry opens it: the second user waits, then is served.

    A user that resets its connection (a crash) frees the port too, without a traceback in the bridge.
    """
    _sim, url = bridged
    host, port = url.removeprefix("socket://").split(":")
    first = await asyncio.open_connection(host, int(port))
    assert b"OK" in await _at(*first)
    second = asyncio.ensure_future(asyncio.open_connection(host, int(port)))
    reader, writer = await second
    pending = asyncio.ensure_future(_at(reader, writer))
    await asyncio.sleep(0.3)
    assert not pending.done()  # the port is still the first user's
    first_sock = first[1].get_extra_info("socket")
    first_sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    first[1].close()  # closed with a reset
    assert b"OK" in await asyncio.wait_for(pending, 5)
    writer.close()
