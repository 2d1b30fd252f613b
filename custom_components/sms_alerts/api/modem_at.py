"""AT commands to a GSM modem (3GPP TS 27.007 / 27.005): one command at a time, unsolicited lines kept apart.

Pure asyncio over a reader/writer pair: a serial port (serial_asyncio_fast), a pseudo-terminal, or an
in-memory pair in tests. A modem answers a command with information lines, then one final line: `OK`,
`ERROR`, `+CMS ERROR: <n>` (TS 27.005 §3.2.5) or `+CME ERROR: <n>` (TS 27.007 §9.2). Between
commands, and in the middle of an answer, it may write unsolicited result codes: `+CMTI: "SM",3`
(an SMS stored), `+CDSI:`, and in PDU mode `+CMT: ,<length>` / `+CDS: <length>` followed by a line
holding the PDU (TS 27.005 §3.4.1). AT+CMGS=<length> is answered with the prompt `> ` (no line end),
then takes the PDU in hex ended by Ctrl-Z (ESC cancels) and answers `+CMGS: <mr>` (TS 27.005 §3.5.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .base import Hardware

_LOGGER = logging.getLogger(__name__)

CTRL_Z = "\x1a"
ESC = "\x1b"
DEFAULT_COMMAND_TIMEOUT = 10.0
READ_SIZE = 1024
# Final result codes that end a command with a failure (V1 verbose form). NO CARRIER ends a call, and this
# integration never dials: on its port it is a caller hanging up, unsolicited (below)
_ERROR = re.compile(r"^(?:\+(?P<kind>CMS|CME) ERROR:\s*(?P<detail>.*)|ERROR|COMMAND NOT SUPPORT)$")
_CMGS = re.compile(r"^\+CMGS:\s*(\d+)")
# Unsolicited result codes followed by a line holding a PDU (PDU mode), and those of one line
_WITH_PDU = ("+CMT:", "+CDS:")
_ONE_LINE = ("+CMTI:", "+CDSI:")
# Lines a modem writes unasked that are never part of an answer here: calls to the SIM (RING, +CRING, +CLIP, NO
# CARRIER, BUSY, NO ANSWER; this integration never dials) and a Huawei stick's reports (^RSSI, ^HCSQ, ^MODE,
# ^SRVST, ^SIMST, ...: no command here starts with ^). ModemManager leaves the same out of answers.
_CHATTER = re.compile(r"^(?:RING|\+CRING:.*|\+CLIP:.*|NO CARRIER|BUSY|NO ANSWER|\^[A-Z]+:.*)$")
# A command whose text is a secret: logged without its argument
_SECRET_COMMANDS = ("AT+CPIN=", "AT+CLCK=", "AT+CPWD=")
_LOG_LIMIT = 200
# The longest line a modem writes (+COPS=? lists every operator on one) is well under this; more without a line
# end is noise (a wrong speed, or no modem at that port), dropped so it neither fills memory nor is searched again
MAX_LINE = 16384
# What a modem answers to +CGMI/+CGMM/+CGMR: the text, after a prefix some modems add, such as
# "+CGMR: " or the "Revision:" of SIMCom's SIM900
_IDENTITY_PREFIX = re.compile(r"^(?:\+C?GM[IMR]:|Revision:|Manufacturer:|Model:)\s*", re.IGNORECASE)
_IDENTITY_LIMIT = 64
IDENTITY_COMMANDS = ("AT+CGMI", "AT+CGMM", "AT+CGMR")


class Reader(Protocol):
    """What the session reads from: asyncio.StreamReader's read."""

    async def read(self, n: int = -1) -> bytes:
        """Read up to n bytes; b"" at the end."""


class Writer(Protocol):
    """What the session writes to: asyncio.StreamWriter's write, drain and close."""

    def write(self, data: bytes) -> None:
        """Queue bytes for the port."""

    async def drain(self) -> None:
        """Wait until the bytes are on their way."""

    def close(self) -> None:
        """Close the port."""


class AtError(Exception):
    """A command failed: plain ERROR, or a +CMS / +CME ERROR with its code (or text, after AT+CMEE=2)."""

    def __init__(self, kind: str, code: int | None = None, text: str = "") -> None:
        """Keep the kind (ERROR, CMS, CME), the numeric code if any, and the text of a verbose error."""
        self.kind = kind
        self.code = code
        self.text = text
        super().__init__(self.describe())

    def describe(self) -> str:
        """Name the error as the modem wrote it (no secrets: modems never echo arguments in errors)."""
        if self.kind == "ERROR":
            return "ERROR"
        return f"+{self.kind} ERROR: {self.code if self.code is not None else self.text}"


class PortClosedError(ConnectionError):
    """The port closed (the modem was unplugged, or the session was closed)."""


@dataclass(frozen=True, kw_only=True)
class Unsolicited:
    """An unsolicited result code: its name (+CMTI), what follows the colon, and the PDU line if one came."""

    name: str
    args: str
    pdu: str | None = None


@dataclass(kw_only=True)
class _Pending:
    """The command in flight: the lines answered so far and what it waits for."""

    done: asyncio.Future[list[str]]
    echo: str
    lines: list[str] = field(default_factory=list)
    prompt: asyncio.Future[None] | None = None


def _shown(line: str) -> str:
    """Return a command as it may be logged: the argument of a PIN command left out."""
    for command in _SECRET_COMMANDS:
        if line.upper().startswith(command):
            return f"{line[: len(command)]}…"
    return line if len(line) <= _LOG_LIMIT else f"{line[:_LOG_LIMIT]}…"


def parse_error(line: str) -> AtError | None:
    """Read a final error line, or None if the line is not one."""
    found = _ERROR.match(line)
    if found is None:
        return None
    kind = found["kind"]
    if kind is None:
        return AtError("ERROR")
    detail = found["detail"].strip()
    return AtError(kind, int(detail) if detail.isdigit() else None, detail)


class AtSession:
    """One open port: writes commands one at a time and sorts what the modem writes back.

    `on_unsolicited` gets each unsolicited result code; `on_closed` is called once when the port
    closes by itself (EOF or a read error), not after `close()`.
    """

    def __init__(
        self,
        reader: Reader,
        writer: Writer,
        *,
        on_unsolicited: Callable[[Unsolicited], None],
        on_closed: Callable[[str], None] | None = None,
        timeout: float = DEFAULT_COMMAND_TIMEOUT,
    ) -> None:
        """Take an open port; call start() to read from it."""
        self._reader = reader
        self._writer = writer
        self._on_unsolicited = on_unsolicited
        self._on_closed = on_closed
        self.timeout = timeout
        self._lock = asyncio.Lock()
        self._buffer = ""
        # Whether characters were dropped for want of a line end (told once a session)
        self._overlong = False
        self._pending: _Pending | None = None
        self._pdu_header: Unsolicited | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.closed = False
        self.close_reason = ""

    def start(self) -> None:
        """Start reading the port."""
        self._task = asyncio.get_running_loop().create_task(self._async_read(), name="sms_alerts modem reader")

    async def close(self) -> None:
        """Close the port and stop reading; a command in flight fails with PortClosedError."""
        self._closing = True
        self._finish("closed")
        with contextlib.suppress(Exception):
            self._writer.close()
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # Commands -------------------------------------------------------------------------------------------------

    async def command(self, line: str, *, within: float | None = None, probe: bool = False) -> list[str]:
        """Send one command and return its information lines; raise AtError, PortClosedError or TimeoutError.

        Without an answer in time the session is out of step with the modem (a late answer would be
        taken for the next command's): it closes as a lost port does, so that the link reopens it.
        A `probe` (the bare AT that finds the modem) may go unanswered without that.
        """
        async with self._lock:
            pending = self._begin(line)
            try:
                await self._async_write(f"{line}\r")
                async with asyncio.timeout(self.timeout if within is None else within):
                    return await pending.done
            except TimeoutError:
                if not probe:
                    self.lose(f"no answer to {_shown(line)}")
                raise
            finally:
                self._pending = None

    async def send_pdu(self, length: int, pdu: str, *, within: float) -> int:
        """Send one SMS-SUBMIT (AT+CMGS, the prompt, the PDU and Ctrl-Z); return the TP-MR the modem gives.

        Without a prompt within the command timeout, ESC cancels the send. `within` is how long the
        network may take to accept the PDU.
        """
        async with self._lock:
            pending = self._begin(f"AT+CMGS={length}")
            prompt = pending.prompt = asyncio.get_running_loop().create_future()
            try:
                await self._async_write(f"AT+CMGS={length}\r")
                try:
                    async with asyncio.timeout(self.timeout):
                        await asyncio.wait((prompt, pending.done), return_when=asyncio.FIRST_COMPLETED)
                except TimeoutError:
                    with contextlib.suppress(PortClosedError):
                        await self._async_write(ESC)
                    self.lose("no prompt for the PDU")
                    raise
                if not prompt.done():
                    lines = pending.done.result()  # raises the error answered instead of the prompt
                    raise AtError("ERROR", text=f"no prompt: {lines}")
                prompt.result()  # raises PortClosedError if the port closed instead
                pending.echo = pdu
                await self._async_write(f"{pdu}{CTRL_Z}")
                try:
                    async with asyncio.timeout(within):
                        lines = await pending.done
                except TimeoutError:
                    self.lose("no answer to a PDU")
                    raise
            finally:
                self._pending = None
        for line in lines:
            if found := _CMGS.match(line):
                return int(found[1])
        raise AtError("ERROR", text="no +CMGS reference in the answer")

    async def write_escape(self) -> None:
        """Write ESC: a modem waiting for a PDU drops it; in command state it is ignored."""
        async with self._lock:
            await self._async_write(ESC)

    def _begin(self, line: str) -> _Pending:
        """Register the command about to be written."""
        if self.closed:
            raise PortClosedError(self.close_reason or "closed")
        pending = _Pending(done=asyncio.get_running_loop().create_future(), echo=line)
        self._pending = pending
        _LOGGER.debug("Modem <- %s", _shown(line))
        return pending

    async def _async_write(self, text: str) -> None:
        """Write to the port; a failed write closes the session."""
        try:
            self._writer.write(text.encode("ascii"))
            await self._writer.drain()
        except (OSError, RuntimeError) as err:
            # As a closed port: the link is told, and reopens it (a port that still reads must not stay half dead)
            self.lose(f"write failed ({type(err).__name__})")
            raise PortClosedError(self.close_reason) from None

    # Reading --------------------------------------------------------------------------------------------------

    async def _async_read(self) -> None:
        """Read until the port ends; then fail what waits and report the close."""
        reason = "the port closed"
        try:
            while True:
                data = await self._reader.read(READ_SIZE)
                if not data:
                    break
                self.feed(data.decode("ascii", "replace"))
        except asyncio.CancelledError:
            reason = "closed"
            raise
        except Exception as err:  # noqa: BLE001 - serial errors are OSError, but a port must never kill the loop
            reason = f"the port failed ({type(err).__name__})"
        finally:
            deliberate = self._closing
            self._finish(reason)
            if not deliberate and self._on_closed is not None:
                self._on_closed(reason)

    def lose(self, reason: str) -> None:
        """Give the session up as if the port closed: what waits fails, `on_closed` is told, reading stops."""
        if self.closed or self._closing:
            return
        self._closing = True
        self._finish(reason)
        with contextlib.suppress(Exception):
            self._writer.close()
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
        if self._on_closed is not None:
            self._on_closed(reason)

    def _finish(self, reason: str) -> None:
        """Mark the session closed and fail the command in flight."""
        if not self.closed:
            self.closed = True
            self.close_reason = reason
        pending = self._pending
        if pending is not None:
            for future in (pending.done, pending.prompt):
                if future is not None and not future.done():
                    future.set_exception(PortClosedError(reason))
                    future.exception()  # retrieved: nobody may be waiting for it any more

    def feed(self, text: str) -> None:
        """Take what the modem wrote: cut it into lines and the `> ` prompt."""
        self._buffer += text
        while True:
            self._buffer = self._buffer.lstrip("\r\n")
            pending = self._pending
            if self._buffer.startswith(">") and pending is not None and pending.prompt is not None:
                if not pending.prompt.done():
                    pending.prompt.set_result(None)
                self._buffer = self._buffer[1:].lstrip(" ")
                continue
            ends = [index for index in (self._buffer.find("\r"), self._buffer.find("\n")) if index >= 0]
            if not ends:
                if len(self._buffer) > MAX_LINE:
                    self._drop_overlong()
                return
            line = self._buffer[: min(ends)].strip()
            self._buffer = self._buffer[min(ends) + 1 :]
            if line:
                self._line(line)

    def _drop_overlong(self) -> None:
        """Drop what the modem wrote past MAX_LINE without a line end: a warning the first time, then debug lines."""
        log = _LOGGER.debug if self._overlong else _LOGGER.warning
        log(
            "The modem wrote %s characters without a line end (a wrong speed, or no modem at that port?); dropped",
            len(self._buffer),
        )
        self._overlong = True
        self._buffer = ""

    def _line(self, line: str) -> None:
        """Sort one line: the PDU of an unsolicited code, an unsolicited code, an echo, or part of an answer."""
        if self._pdu_header is not None:
            header, self._pdu_header = self._pdu_header, None
            self._unsolicited(Unsolicited(name=header.name, args=header.args, pdu=line))
            return
        name, _, args = line.partition(":")
        if line.startswith(_WITH_PDU):
            self._pdu_header = Unsolicited(name=name, args=args.strip())
            return
        if line.startswith(_ONE_LINE):
            self._unsolicited(Unsolicited(name=name, args=args.strip()))
            return
        if _CHATTER.match(line):
            _LOGGER.debug("Modem -> %s (unsolicited; left out)", _shown(line))
            return
        pending = self._pending
        if pending is None or pending.done.done():
            _LOGGER.debug("Modem -> %s (no command waits for it)", _shown(line))
            return
        if line.rstrip(CTRL_Z + ESC).upper() == pending.echo.upper():
            return  # the modem's echo of what was written
        _LOGGER.debug("Modem -> %s", _shown(line))
        if line == "OK":
            pending.done.set_result(pending.lines)
        elif (error := parse_error(line)) is not None:
            pending.done.set_exception(error)
        else:
            pending.lines.append(line)

    def _unsolicited(self, code: Unsolicited) -> None:
        """Hand an unsolicited result code on; a failing handler is logged, never the reader's end."""
        _LOGGER.debug("Modem -> %s: %s", code.name, code.args)
        try:
            self._on_unsolicited(code)
        except Exception:
            _LOGGER.exception("Handling %s from the modem failed", code.name)


def identity_answer(lines: list[str]) -> str | None:
    """Read an answer to +CGMI, +CGMM or +CGMR (TS 27.007 §5.1-5.3): its first line with text, without a prefix."""
    for line in lines:
        text = "".join(char for char in _IDENTITY_PREFIX.sub("", line.strip()) if char.isprintable())
        text = text.strip().strip('"').strip()
        if text:
            return text[:_IDENTITY_LIMIT]
    return None


async def async_identify(at: AtSession) -> Hardware:
    """Ask the modem its maker, model and firmware; a part it refuses (ERROR) is left out.

    A command left unanswered ends the session as any other does (TimeoutError).
    """
    parts: list[str | None] = []
    for command in IDENTITY_COMMANDS:
        try:
            parts.append(identity_answer(await at.command(command)))
        except AtError:
            parts.append(None)
    return Hardware(*parts)
