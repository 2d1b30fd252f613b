"""The modem simulator, spoken to over its pty with plain os.read/os.write as a serial port would be."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import AsyncGenerator
from pathlib import Path

import pytest

from custom_components.sms_alerts.api.pdu import (
    Deliver,
    ReportStatus,
    StatusReport,
    decode_pdu,
    encode_message,
    encode_submit,
)
from simulators.modem import ModemFault, ModemSimulator


def _pseudo_terminals() -> bool:
    """Tell whether this system can open a pseudo-terminal (a chroot without /dev/pts cannot)."""
    try:
        fds = os.openpty()
    except OSError:
        return False
    for fd in fds:
        os.close(fd)
    return True


pytestmark = pytest.mark.skipif(
    not _pseudo_terminals(), reason="no pseudo-terminals here (a root without /dev/pts): the modem simulator needs one"
)

NUMBER = "+491701234567"


class Port:
    """The host's end of the port: raw bytes in and out, read with a deadline."""

    def __init__(self, path: str) -> None:
        """Open the port as a serial device is opened."""
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.seen = ""

    def close(self) -> None:
        """Close the port."""
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def write(self, text: str | bytes) -> None:
        """Write to the modem."""
        os.write(self.fd, text.encode("ascii") if isinstance(text, str) else text)

    async def read_until(self, pattern: str, within: float = 2.0) -> str:
        """Read until `pattern` (a regular expression) shows; return everything read up to and including it."""
        deadline = time.monotonic() + within
        while True:
            found = re.search(pattern, self.seen)
            if found:
                text, self.seen = self.seen[: found.end()], self.seen[found.end() :]
                return text
            try:
                data = os.read(self.fd, 4096)
            except BlockingIOError:
                data = None
            if data == b"":
                raise EOFError
            if data:
                self.seen += data.decode("ascii")
                continue
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {pattern!r} in {self.seen!r}")
            await asyncio.sleep(0.005)

    async def command(self, line: str, final: str = r"\r\n(OK|ERROR|\+CM[SE] ERROR: \d+)\r\n") -> str:
        """Send one command line and return the answer up to its final result."""
        self.write(f"{line}\r")
        return await self.read_until(final)

    async def send_pdu(self, pdu_hex: str, length: int) -> str:
        """AT+CMGS: wait for the prompt, send the PDU and Ctrl-Z, return the answer."""
        self.write(f"AT+CMGS={length}\r")
        await self.read_until(r"\r\n> ")
        self.write(pdu_hex.encode("ascii") + b"\x1a")
        return await self.read_until(r"\r\n(OK|\+CMS ERROR: \d+)\r\n")


@pytest.fixture
async def modem(tmp_path: Path) -> AsyncGenerator[ModemSimulator]:
    """A modem simulator with a port open, reachable through a stable link."""
    sim = ModemSimulator(link=str(tmp_path / "usb-Simulated_Modem-if00"))
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def port(modem: ModemSimulator) -> AsyncGenerator[Port]:
    """The host's end of the modem's port, echo off and PDU mode on, reports and inbound SMS forwarded."""
    host = Port(modem.wire.link or modem.port)
    assert "OK" in await host.command("ATE0")
    assert await host.command("AT+CMGF=0") == "\r\nOK\r\n"
    assert await host.command("AT+CNMI=2,2,0,1,0") == "\r\nOK\r\n"
    yield host
    host.close()


async def test_echo_then_quiet(modem: ModemSimulator) -> None:
    """Echo is on at first (the command comes back before OK); ATE0 turns it off."""
    host = Port(modem.port)
    try:
        assert await host.command("AT") == "AT\r\r\nOK\r\n"
        await host.command("ATE0")
        assert await host.command("AT") == "\r\nOK\r\n"
        assert await host.command("AT+NOSUCH") == "\r\nERROR\r\n"
    finally:
        host.close()


async def test_status_queries(port: Port, modem: ModemSimulator) -> None:
    """+CPIN, +CSQ, +CREG and +CEREG answer as a ready, registered modem's do."""
    assert "+CPIN: READY" in await port.command("AT+CPIN?")
    assert "+CSQ: 20,99" in await port.command("AT+CSQ")
    assert "+CREG: 0,1" in await port.command("AT+CREG?")
    assert "+CEREG: 0,1" in await port.command("AT+CEREG?")
    assert f'+CSCA: "{modem.smsc}",145' in await port.command("AT+CSCA?")


async def test_send_one_sms_with_status_report(port: Port, modem: ModemSimulator) -> None:
    """A PDU goes in after the prompt; +CMGS gives the TP-MR, and +CDS reports delivery with that reference."""
    pdu = encode_submit(NUMBER, "Alarm: Wasser im Keller")
    answer = await port.send_pdu(pdu.hex, pdu.length)
    assert answer == "\r\n+CMGS: 0\r\n\r\nOK\r\n"
    report_line = await port.read_until(r"\+CDS: \d+\r\n[0-9A-F]+\r\n")
    report = decode_pdu(report_line.split("\r\n")[-2])
    assert isinstance(report, StatusReport)
    assert (report.reference, report.recipient, report.outcome) == (0, NUMBER, ReportStatus.DELIVERED)
    [message] = modem.messages
    assert (message.provider, message.to, message.text) == ("modem", NUMBER, "Alarm: Wasser im Keller")
    assert message.options == {"encoding": "gsm7", "parts": 1, "references": [0], "status_report": True}


async def test_concatenated_message_is_recorded_once(port: Port, modem: ModemSimulator) -> None:
    """Three UCS-2 parts get three references and make one recorded message."""
    text = "Příliš žluťoučký kůň úpěl ďábelské ódy. " * 4
    pdus = encode_message(NUMBER, text, concat_reference=77, status_report=False)
    assert len(pdus) == 3
    for index, pdu in enumerate(pdus):
        assert f"+CMGS: {index}" in await port.send_pdu(pdu.hex, pdu.length)
        assert len(modem.messages) == (1 if index == 2 else 0)
    [message] = modem.messages
    assert message.text == text
    assert message.options["parts"] == 3
    assert message.options["references"] == [0, 1, 2]
    assert message.options["encoding"] == "ucs2"


async def test_refusals_and_bad_pdus(port: Port, modem: ModemSimulator) -> None:
    """+CMS ERROR for a refused send, a length that does not match and a PDU that is not one."""
    pdu = encode_submit(NUMBER, "test")
    modem.refuse(500)
    assert await port.send_pdu(pdu.hex, pdu.length) == "\r\n+CMS ERROR: 500\r\n"
    assert await port.send_pdu(pdu.hex, pdu.length + 1) == "\r\n+CMS ERROR: 304\r\n"
    assert await port.send_pdu("00ZZ", 1) == "\r\n+CMS ERROR: 304\r\n"
    assert "+CMGS: 0" in await port.send_pdu(pdu.hex, pdu.length)
    assert len(modem.messages) == 1


async def test_escape_cancels_a_send(port: Port, modem: ModemSimulator) -> None:
    """ESC instead of Ctrl-Z abandons the PDU: OK, nothing sent."""
    pdu = encode_submit(NUMBER, "never")
    port.write(f"AT+CMGS={pdu.length}\r")
    await port.read_until(r"\r\n> ")
    port.write(pdu.hex.encode("ascii") + b"\x1b")
    assert await port.read_until(r"\r\nOK\r\n") == "\r\nOK\r\n"
    assert modem.messages == []


async def test_no_sim(port: Port, modem: ModemSimulator) -> None:
    """Without a SIM, +CPIN? fails with +CME ERROR: 10 and a send with +CMS ERROR: 310."""
    modem.inject(ModemFault.NO_SIM)
    await port.command("AT+CMEE=1")
    assert "+CME ERROR: 10" in await port.command("AT+CPIN?")
    assert "+CREG: 0,0" in await port.command("AT+CREG?")
    assert await port.command("AT+CMGS=20") == "\r\n+CMS ERROR: 310\r\n"


async def test_pin_required(port: Port, modem: ModemSimulator) -> None:
    """A locked SIM says SIM PIN, refuses sends with 311 and a wrong PIN with 16, and opens with the right one."""
    modem.pin = "1234"
    modem.inject(ModemFault.PIN_REQUIRED)
    await port.command("AT+CMEE=1")
    assert "+CPIN: SIM PIN" in await port.command("AT+CPIN?")
    assert await port.command("AT+CMGS=20") == "\r\n+CMS ERROR: 311\r\n"
    assert "+CME ERROR: 16" in await port.command('AT+CPIN="0000"')
    assert await port.command('AT+CPIN="1234"') == "\r\nOK\r\n"
    assert "+CPIN: READY" in await port.command("AT+CPIN?")


async def test_no_network(port: Port, modem: ModemSimulator) -> None:
    """Out of coverage: searching, no signal, and +CMS ERROR: 331 on a send."""
    modem.inject(ModemFault.NO_NETWORK)
    assert "+CREG: 0,2" in await port.command("AT+CREG?")
    assert "+CSQ: 99,99" in await port.command("AT+CSQ")
    assert await port.command("AT+CMGS=20") == "\r\n+CMS ERROR: 331\r\n"
    modem.recover()
    assert "+CREG: 0,1" in await port.command("AT+CREG?")


async def test_slow_network(port: Port, modem: ModemSimulator) -> None:
    """On a slow network the answer to a send takes as long as the fault says."""
    modem.inject(ModemFault.SLOW_NETWORK, delay=0.3)
    pdu = encode_submit(NUMBER, "slow", status_report=False)
    started = time.monotonic()
    assert "+CMGS: 0" in await port.send_pdu(pdu.hex, pdu.length)
    assert time.monotonic() - started >= 0.3


async def test_unplugged_in_the_middle_of_a_send(port: Port, modem: ModemSimulator) -> None:
    """The port closes after Ctrl-Z without an answer; the link goes; plugged back, the same link works."""
    link = modem.wire.link
    assert link is not None
    modem.inject(ModemFault.UNPLUG)
    pdu = encode_submit(NUMBER, "lost?")
    port.write(f"AT+CMGS={pdu.length}\r")
    await port.read_until(r"\r\n> ")
    port.write(pdu.hex.encode("ascii") + b"\x1a")
    with pytest.raises((EOFError, OSError)):
        await port.read_until("OK")
    assert not modem.wire.plugged
    assert not Path(link).is_symlink()  # noqa: ASYNC240 - one lstat of a local file
    assert modem.messages == []
    port.close()
    await modem.replug()
    again = Port(link)
    try:
        assert "OK" in await again.command("AT")
    finally:
        again.close()


async def test_inbound_forwarded_as_cmt(port: Port, modem: ModemSimulator) -> None:
    """With AT+CNMI=2,2 an SMS arrives as +CMT with its PDU: sender, text, time."""
    modem.deliver("+4915112345678", "ACK 42")
    line = await port.read_until(r"\+CMT: ,\d+\r\n[0-9A-F]+\r\n")
    deliver = decode_pdu(line.split("\r\n")[-2])
    assert isinstance(deliver, Deliver)
    assert (deliver.sender, deliver.text) == ("+4915112345678", "ACK 42")


async def test_inbound_stored_and_read(port: Port, modem: ModemSimulator) -> None:
    """With AT+CNMI=2,1 an SMS is stored and announced by +CMTI; +CMGR reads it, +CMGD deletes it."""
    await port.command("AT+CNMI=2,1,0,1,0")
    modem.deliver("Alarmanlage", "Zone 3 offen")
    announced = await port.read_until(r'\+CMTI: "SM",\d+\r\n')
    slot = int(announced.rsplit(",", 1)[1])
    answer = await port.command(f"AT+CMGR={slot}")
    deliver = decode_pdu(answer.split("\r\n")[2])
    assert isinstance(deliver, Deliver)
    assert (deliver.sender, deliver.text) == ("Alarmanlage", "Zone 3 offen")
    assert await port.command(f"AT+CMGD={slot}") == "\r\nOK\r\n"
    assert await port.command(f"AT+CMGR={slot}") == "\r\n+CMS ERROR: 321\r\n"


async def test_storages_and_indications_as_a_cinterion_mc75i_answers(tmp_path: Path) -> None:
    """The `mc75i` profile answers AT+CPMS and AT+CNMI as the MC75i does in gammu's logs (issue 1206, PR 1207).

    It refuses the storage and the settings it does not take; a received SMS goes to the SIM while reading is
    from its own memory; a status report with <ds> 2 is stored and announced (+CDSI).
    """
    modem = ModemSimulator(link=str(tmp_path / "usb-Cinterion-if00"), profile="mc75i")
    await modem.start()
    host = Port(modem.path)
    try:
        await host.command("ATE0")
        assert await host.command("AT+CGMM") == "\r\nMC75i\r\n\r\nOK\r\n"
        assert '+CPMS: ("ME","SM","MT"),("ME","SM","MT"),("SM","MT")' in await host.command("AT+CPMS=?")
        assert '+CPMS: "ME",0,25,"ME",0,25,"SM",0,20' in await host.command("AT+CPMS?")
        assert "+CNMI: (0-3),(0,1),(0,2,3),(0,2),(1)" in await host.command("AT+CNMI=?")
        assert await host.command("AT+CNMI=2,1,0,2,0") == "\r\n+CMS ERROR: 538\r\n"
        assert await host.command("AT+CNMI=2,1,0,1,1") == "\r\n+CMS ERROR: 538\r\n"
        assert await host.command("AT+CNMI=2,1,0,2") == "\r\nOK\r\n"
        assert modem.cnmi == (2, 1, 0, 2, 0)  # <bfr> as it was
        assert await host.command("AT+CNMI=2,1,0,2,1") == "\r\nOK\r\n"
        await host.command("AT+CMGF=0")
        modem.deliver("+491709999999", "ACK 7")
        await host.read_until(r'\+CMTI: "SM",1\r\n')
        assert await host.command("AT+CMGR=1") == "\r\n+CMS ERROR: 321\r\n"  # the modem's own memory is empty
        assert await host.command('AT+CPMS="SR"') == "\r\n+CMS ERROR: 302\r\n"
        assert "+CPMS: 1,20,0,25,1,20" in await host.command('AT+CPMS="SM"')
        assert isinstance(decode_pdu((await host.command("AT+CMGR=1")).split("\r\n")[2]), Deliver)
        assert await host.command("AT+CMGD=1") == "\r\nOK\r\n"
        pdu = encode_submit(NUMBER, "Freezer warm", status_report=True)
        await host.send_pdu(pdu.hex, pdu.length)
        await host.read_until(r'\+CDSI: "SM",1\r\n')
        answer = await host.command("AT+CMGL=4")
        assert answer.startswith("\r\n+CMGL: 1,0,,")
        assert isinstance(decode_pdu(answer.split("\r\n")[2]), StatusReport)
    finally:
        host.close()
        await modem.stop()


async def test_message_service_1_waits_for_cnma_then_stops_announcing(port: Port, modem: ModemSimulator) -> None:
    """AT+CSMS=1: each +CMT wants AT+CNMA; one left without stops all announcements (<mt>, <ds> 0) and is stored."""
    assert "+CSMS: 0,1,1,1" in await port.command("AT+CSMS?")
    assert await port.command("AT+CNMA") == "\r\n+CMS ERROR: 340\r\n"
    assert "+CSMS: 1,1,1" in await port.command("AT+CSMS=1")
    modem.ack_timeout = 0.2
    modem.deliver("+491709999999", "ACK 1")
    await port.read_until(r"\+CMT: ,\d+\r\n[0-9A-F]+\r\n")
    assert await port.command("AT+CNMA") == "\r\nOK\r\n"
    modem.deliver("+491709999999", "ACK 2")
    await port.read_until(r"\+CMT: ,\d+\r\n[0-9A-F]+\r\n")
    await asyncio.sleep(0.4)
    assert modem.cnmi == (2, 0, 0, 0, 0)
    assert [decode_pdu(pdu).text for pdu in modem.inbox.values()] == ["ACK 2"]  # type: ignore[union-attr]
