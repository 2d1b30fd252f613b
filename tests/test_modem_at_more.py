"""The AT session's edges over an in-memory reader and a recording writer: errors, timeouts, lost ports.

Facts used (3GPP): final result codes OK / ERROR / +CMS ERROR / +CME ERROR, TS 27.005 §3.2.5 and TS 27.007
§9.2 (V.250's NO CARRIER ends a call, and nothing here dials: a caller hanging up); AT+CMGS=<length> is
answered by the prompt `> `, takes the PDU ended by Ctrl-Z (ESC cancels) and answers `+CMGS: <mr>` then OK,
TS 27.005 §3.5.1; +CMTI announces a stored SMS, TS 27.005 §3.4.1.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

import pytest

from custom_components.sms_alerts.api.modem_at import (
    MAX_LINE,
    AtError,
    AtSession,
    PortClosedError,
    Unsolicited,
    parse_error,
)

from .modem_helpers import wait_for

PDU = "0011000C919471201743760000AA04D4F29C0E"


class _Writer:
    """A writer that keeps what was written; `fail` makes the next write fail as an unplugged port's."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.fail: Exception | None = None
        self.closed = False

    def write(self, data: bytes) -> None:
        if self.fail is not None:
            raise self.fail
        self.written.append(data)

    async def drain(self) -> None:
        return

    def close(self) -> None:
        self.closed = True


@dataclass
class _Port:
    """A session on an in-memory port, with what it handed on and the closes it reported."""

    session: AtSession
    reader: asyncio.StreamReader
    writer: _Writer
    codes: list[Unsolicited] = field(default_factory=list)
    closes: list[str] = field(default_factory=list)

    def modem_writes(self, text: str) -> None:
        self.reader.feed_data(text.encode("ascii"))


async def _written(writer: _Writer, count: int) -> None:
    """Wait until the session has written `count` times."""
    await wait_for(lambda: len(writer.written) >= count, within=1)


@pytest.fixture
async def port() -> AsyncGenerator[_Port]:
    """An open session whose handler of unsolicited codes and close reports record what they get."""
    reader = asyncio.StreamReader()
    writer = _Writer()
    codes: list[Unsolicited] = []
    closes: list[str] = []
    session = AtSession(reader, writer, on_unsolicited=codes.append, on_closed=closes.append, timeout=0.1)
    session.start()
    yield _Port(session=session, reader=reader, writer=writer, codes=codes, closes=closes)
    await session.close()


@pytest.mark.parametrize(
    ("line", "kind", "code", "text"),
    [
        ("ERROR", "ERROR", None, ""),
        ("COMMAND NOT SUPPORT", "ERROR", None, ""),
        ("+CMS ERROR: 330", "CMS", 330, "330"),
        ("+CME ERROR: SIM not inserted", "CME", None, "SIM not inserted"),
    ],
)
def test_parse_error_reads_each_final_error(line: str, kind: str, code: int | None, text: str) -> None:
    """Plain failures have no code; +CMS/+CME keep their number, or their text in verbose mode."""
    error = parse_error(line)
    assert error is not None
    assert (error.kind, error.code, error.text) == (kind, code, text)


@pytest.mark.parametrize("line", ["OK", "+CSQ: 17,99", "ERRORS", "+CMGS: 12", "NO CARRIER"])
def test_parse_error_leaves_other_lines(line: str) -> None:
    """Only a final error line is an error."""
    assert parse_error(line) is None


async def test_plain_error_fails_the_command(port: _Port) -> None:
    """ERROR ends the command with AtError; the session stays open for the next one."""
    answer = asyncio.ensure_future(port.session.command("AT+CNMI=2,1,0,1,0"))
    await _written(port.writer, 1)
    port.modem_writes("\r\nERROR\r\n")
    with pytest.raises(AtError) as caught:
        await answer
    assert str(caught.value) == "ERROR"
    assert not port.session.closed
    answer = asyncio.ensure_future(port.session.command("AT"))
    await _written(port.writer, 2)
    port.modem_writes("\r\nOK\r\n")
    assert await answer == []


async def test_no_answer_gives_the_session_up_without_the_pin(port: _Port) -> None:
    """An unanswered command closes the session once, naming the command without its PIN."""
    with pytest.raises(TimeoutError):
        await port.session.command('AT+CPIN="4711"', within=0.05)
    assert port.session.closed
    assert port.writer.closed
    assert port.closes == ["no answer to AT+CPIN=…"]
    assert "4711" not in port.session.close_reason
    await asyncio.sleep(0)  # the reader task ends: it does not report the close a second time
    assert port.closes == ["no answer to AT+CPIN=…"]


async def test_an_unanswered_probe_keeps_the_session(port: _Port) -> None:
    """The bare AT that looks for the modem may go unanswered: the session stays open."""
    with pytest.raises(TimeoutError):
        await port.session.command("AT", within=0.05, probe=True)
    assert not port.session.closed
    assert port.closes == []


async def test_a_command_on_a_closed_session_is_refused(port: _Port) -> None:
    """After the session was given up nothing more is written: PortClosedError names why."""
    port.session.lose("the modem went quiet")
    with pytest.raises(PortClosedError, match="the modem went quiet"):
        await port.session.command("AT")
    with pytest.raises(PortClosedError, match="the modem went quiet"):
        await port.session.send_pdu(19, PDU, within=1)
    assert port.writer.written == []


async def test_losing_twice_or_after_close_reports_once(port: _Port) -> None:
    """`lose` reports the close once; after a deliberate close it reports nothing."""
    port.session.lose("first")
    port.session.lose("second")
    assert port.closes == ["first"]
    assert port.session.close_reason == "first"

    reader = asyncio.StreamReader()
    closes: list[str] = []
    session = AtSession(reader, _Writer(), on_unsolicited=lambda _code: None, on_closed=closes.append)
    session.start()
    await session.close()
    session.lose("after close")
    assert closes == []
    assert session.close_reason == "closed"


@pytest.mark.parametrize("error", [OSError(5, "Input/output error"), RuntimeError("transport closed")])
async def test_a_failed_write_closes_the_session(port: _Port, error: Exception) -> None:
    """A write that fails ends the command with PortClosedError and closes the session as a lost port.

    The link is told (on_closed), so that it reopens the port: a port that still reads must not stay half dead.
    """
    port.writer.fail = error
    with pytest.raises(PortClosedError, match=rf"write failed \({type(error).__name__}\)"):
        await port.session.command("AT+CSQ")
    assert port.session.closed
    assert port.session.close_reason == f"write failed ({type(error).__name__})"
    assert port.closes == [f"write failed ({type(error).__name__})"]


async def test_send_pdu_returns_the_message_reference(port: _Port) -> None:
    """The prompt, then the PDU with Ctrl-Z, then +CMGS: <mr> and OK give the reference."""
    sent = asyncio.ensure_future(port.session.send_pdu(19, PDU, within=1))
    await _written(port.writer, 1)
    port.modem_writes("\r\n> ")
    await _written(port.writer, 2)
    port.modem_writes(f"{PDU}\x1a\r\n+CMGS: 42\r\n\r\nOK\r\n")
    assert await sent == 42
    assert port.writer.written == [b"AT+CMGS=19\r", f"{PDU}\x1a".encode("ascii")]


async def test_send_pdu_without_a_prompt_cancels_with_esc(port: _Port) -> None:
    """No prompt in time: ESC is written (the modem must not take a later line as the PDU) and the session is lost."""
    with pytest.raises(TimeoutError):
        await port.session.send_pdu(19, PDU, within=1)
    assert port.writer.written == [b"AT+CMGS=19\r", b"\x1b"]
    assert port.session.closed
    assert port.closes == ["no prompt for the PDU"]


async def test_send_pdu_without_a_prompt_on_a_dead_port_still_gives_up(port: _Port) -> None:
    """No prompt and the ESC cannot be written either: the timeout is still raised, the session still lost."""
    sent = asyncio.ensure_future(port.session.send_pdu(19, PDU, within=1))
    await _written(port.writer, 1)
    port.writer.fail = OSError(5, "Input/output error")
    with pytest.raises(TimeoutError):
        await sent
    assert port.writer.written == [b"AT+CMGS=19\r"]
    assert port.session.closed


async def test_send_pdu_answered_ok_instead_of_the_prompt(port: _Port) -> None:
    """A modem that answers AT+CMGS with OK and no prompt fails the send; the PDU is never written."""
    sent = asyncio.ensure_future(port.session.send_pdu(19, PDU, within=1))
    await _written(port.writer, 1)
    port.modem_writes("\r\nOK\r\n")
    with pytest.raises(AtError) as caught:
        await sent
    assert caught.value.kind == "ERROR"
    assert caught.value.text.startswith("no prompt")
    assert port.writer.written == [b"AT+CMGS=19\r"]
    assert not port.session.closed


async def test_send_pdu_answered_error_instead_of_the_prompt(port: _Port) -> None:
    """A +CMS ERROR instead of the prompt is the send's error, as the modem gave it."""
    sent = asyncio.ensure_future(port.session.send_pdu(19, PDU, within=1))
    await _written(port.writer, 1)
    port.modem_writes("\r\n+CMS ERROR: 330\r\n")
    with pytest.raises(AtError) as caught:
        await sent
    assert (caught.value.kind, caught.value.code) == ("CMS", 330)


async def test_send_pdu_answered_without_a_reference(port: _Port) -> None:
    """OK without +CMGS: <mr> after the PDU is an error: the send cannot be matched to its reports."""
    sent = asyncio.ensure_future(port.session.send_pdu(19, PDU, within=1))
    await _written(port.writer, 1)
    port.modem_writes("> ")
    await _written(port.writer, 2)
    port.modem_writes("\r\nOK\r\n")
    with pytest.raises(AtError) as caught:
        await sent
    assert caught.value.text == "no +CMGS reference in the answer"


async def test_send_pdu_without_an_answer_to_the_pdu_is_lost(port: _Port) -> None:
    """The PDU written and no answer within the network's time: the session is given up (the part may be sent)."""
    sent = asyncio.ensure_future(port.session.send_pdu(19, PDU, within=0.05))
    await _written(port.writer, 1)
    port.modem_writes("> ")
    with pytest.raises(TimeoutError):
        await sent
    assert port.writer.written == [b"AT+CMGS=19\r", f"{PDU}\x1a".encode("ascii")]
    assert port.closes == ["no answer to a PDU"]


@pytest.mark.allow_traceback  # a failing handler is a bug of ours: logged with its traceback for a report
async def test_a_failing_handler_does_not_stop_the_reader(caplog: pytest.LogCaptureFixture) -> None:
    """An unsolicited code whose handler raises is logged; the next code and the command in flight still arrive."""
    seen: list[Unsolicited] = []

    def handler(code: Unsolicited) -> None:
        seen.append(code)
        if len(seen) == 1:
            raise ValueError("handler bug")

    reader = asyncio.StreamReader()
    writer = _Writer()
    session = AtSession(reader, writer, on_unsolicited=handler)
    session.start()
    answer = asyncio.ensure_future(session.command("AT+CSQ"))
    await _written(writer, 1)
    reader.feed_data(b'+CMTI: "SM",1\r\n+CMTI: "SM",2\r\n+CSQ: 20,99\r\nOK\r\n')
    assert await answer == ["+CSQ: 20,99"]
    assert [code.args for code in seen] == ['"SM",1', '"SM",2']
    assert not session.closed
    await session.close()
    failures = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert [record.getMessage() for record in failures] == ["Handling +CMTI from the modem failed"]
    assert failures[0].exc_info is not None


async def test_noise_without_a_line_end_is_dropped_not_kept(port: _Port, caplog: pytest.LogCaptureFixture) -> None:
    """A wrong speed (or no modem at that port) writes noise without a line end: dropped past MAX_LINE.

    Before, it was kept whole and searched again at every read (8 MB took 17 s of the event loop). One warning,
    then debug lines; what follows a line end is read as before.
    """
    for _ in range(4 * MAX_LINE // 1024):
        port.session.feed("\x7f" * 1024)
    assert len(port.session._buffer) <= MAX_LINE
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "without a line end" in r.getMessage()]
    assert len(warnings) == 1
    port.session.feed("\r\n")  # the rest of the noise, as a line nobody waits for
    answer = asyncio.ensure_future(port.session.command("AT"))
    await _written(port.writer, 1)
    port.modem_writes("\r\nOK\r\n")
    assert await answer == []
