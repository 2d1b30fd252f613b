"""A GSM modem on a serial or USB port: SMS in PDU mode over AT commands (3GPP TS 27.005), one SIM's pace.

The provider keeps the port open while the entry is loaded: a link task opens it, initialises the modem
(echo off, numeric errors, SIM PIN, PDU mode, unsolicited +CMTI/+CDS), and reopens it with a backoff
when it closes (a USB modem unplugged and plugged back). Sends wait for the link briefly; a modem that
is not there is a transient failure, so the outbox keeps the message and tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import astuple
from pathlib import Path
from typing import Any, ClassVar

import aiohttp

from .base import (
    DEFAULT_TIMEOUT,
    AccountInfo,
    AuthError,
    EntryRejectedError,
    Hardware,
    OutboundSms,
    Outcome,
    Provider,
    ProviderError,
    Receipt,
    Target,
    TargetKind,
    TargetRejectedError,
    TransientError,
    mask_target,
)
from .ipex_webhook import DeliveryReport, InboundSms
from .modem_at import AtError, AtSession, PortClosedError, Reader, Unsolicited, Writer, async_identify
from .modem_errors import classify
from .modem_inbound import Inbound
from .modem_indications import async_keep_announcing, async_message_service, settings_to_try
from .pdu import PduError, encode_message

_LOGGER = logging.getLogger(__name__)

CONF_PORT = "port"
CONF_BAUDRATE = "baudrate"
CONF_PIN = "pin"
CONF_SMSC = "smsc"
DEFAULT_BAUDRATE = 115200
BAUDRATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
# How long a send may wait for the network's +CMGS, per part (TS 27.005 gives no limit; modems allow ~60 s)
SEND_TIMEOUT = 60.0
# How long a send waits for the link that is being opened before it counts as transient
LINK_WAIT = 10.0
# Reopening the port: 1 s doubling to a minute
BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 60.0
# After the PIN was taken the SIM needs a moment before it is READY
PIN_READY_TRIES = 10
PIN_READY_WAIT = 1.0
# Tries of a bare AT to find the modem answering (the first may meet a half-written line)
SYNC_TRIES = 3
SYNC_TIMEOUT = 2.0
# Probing a discovered USB modem's ports: a short wait, as a port that is not for commands never answers
PROBE_TIMEOUT = 1.0
PROBE_TRIES = 2
_RSSI_UNKNOWN = 99

# The provider of each loaded entry, by port: the one that holds the port open
_HOLDERS: dict[str, ModemProvider] = {}


async def async_open_port(port: str, baudrate: int) -> tuple[Reader, Writer]:
    """Open a serial port as Home Assistant's serial integrations do (serial_asyncio_fast)."""
    import serial_asyncio_fast  # type: ignore[import-untyped]  # noqa: PLC0415 - only modem entries pay its import

    reader, writer = await serial_asyncio_fast.open_serial_connection(url=port, baudrate=baudrate)
    return reader, writer


async def async_answers_at(port: str, baudrate: int = DEFAULT_BAUDRATE) -> bool:
    """Tell whether a port answers a bare AT with OK: a modem's command port, not its diagnostics or GPS port.

    USB discovery reports one of a modem's several ports; this finds the one that takes commands.
    """
    try:
        reader, writer = await async_open_port(port, baudrate)
    except (OSError, ValueError):
        return False
    at = AtSession(reader, writer, on_unsolicited=lambda _code: None)
    at.start()
    try:
        await at.write_escape()  # ends a PDU the port may still wait for
        for _ in range(PROBE_TRIES):
            with contextlib.suppress(TimeoutError, AtError):
                await at.command("AT", within=PROBE_TIMEOUT, probe=True)
                return True
    except PortClosedError:
        return False
    finally:
        await at.close()
    return False


def port_error(err: OSError | ValueError) -> TransientError:
    """Name why a port did not open (never the OS's text nor the path: diagnostics show reasons, not ports)."""
    if isinstance(err, PermissionError):
        return TransientError("no permission to open the serial port", key="port_permission")
    return TransientError(f"cannot open the serial port ({type(err).__name__})", key="no_port")


def pin_digest(pin: str) -> str:
    """Name a PIN without keeping it: the SHA-256 of it (stored beside the entry, which holds the PIN itself)."""
    return hashlib.sha256(f"sms_alerts SIM PIN {pin}".encode()).hexdigest()


class ModemProvider(Provider):
    """A GSM modem with a SIM: a 3GPP TS 27.005 modem in PDU mode."""

    key: ClassVar[str] = "modem"
    target_kinds: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.NUMBER})
    options: ClassVar[frozenset[str]] = frozenset()
    # One SIM, one command at a time
    sends_in_parallel: ClassVar[bool] = False
    # Status reports (+CDS) tell what became of each message
    reports_delivery: ClassVar[bool] = True

    def __init__(
        self,
        session: aiohttp.ClientSession | None,
        *,
        port: str,
        baudrate: int = DEFAULT_BAUDRATE,
        pin: str | None = None,
        smsc: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Keep the port's settings; nothing is opened until start or a check."""
        super().__init__(session, timeout=timeout, parallel=1)  # type: ignore[arg-type]
        self.port = port
        self.baudrate = int(baudrate)
        self._pin = pin or None
        self._smsc = smsc or None
        # A PIN the SIM refused is never entered again by itself: three refusals lock the SIM (PUK)
        # A digest of a PIN the SIM refused: never entered again (the third wrong try locks the SIM). The entry
        # keeps it across reloads and restarts (pin_refused is set before start, on_pin_refused tells of a new one)
        self.pin_refused: str | None = None
        self.on_pin_refused: Callable[[str], None] = lambda _digest: None
        self._at: AtSession | None = None
        self._link_task: asyncio.Task[None] | None = None
        self._linked = asyncio.Event()
        self._attempted = asyncio.Event()
        self._stopping = False
        self._closed = asyncio.Event()
        self._concat = 0
        self.last_error: ProviderError | None = None
        # What the modem is, asked at its first link only: one that never answers costs one reopening
        self._hardware: Hardware | None = None
        self._identify = True
        # The AT+CNMI setting the modem took (None: none), asked for again if the modem drops it
        self._announcing: str | None = None
        self.inbound = Inbound(self)
        # What the entry listens to: the link going up or down, and inbound SMS and delivery reports
        self.on_link: Callable[[bool, ProviderError | None], None] = lambda _up, _err: None
        self.on_events: Callable[[list[InboundSms | DeliveryReport]], None] = lambda _events: None
        # What is awaited of status reports changed (the entry keeps it across a restart: inbound.stored)
        self.on_reports_changed: Callable[[], None] = lambda: None

    @classmethod
    def from_config(
        cls, session: aiohttp.ClientSession, config: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT
    ) -> ModemProvider:
        """Build the provider from the entry's settings."""
        return cls(
            session,
            port=config[CONF_PORT],
            baudrate=int(config.get(CONF_BAUDRATE, DEFAULT_BAUDRATE)),
            pin=config.get(CONF_PIN),
            smsc=config.get(CONF_SMSC),
            timeout=timeout,
        )

    @classmethod
    def receives_replies(cls, config: Mapping[str, Any]) -> bool:
        """Say yes: replies reach the modem's SIM."""
        return True

    def identity(self) -> AccountInfo:
        """One entry per port (a /dev/serial/by-id path stays the same modem)."""
        return AccountInfo(unique_id=f"{self.key}:{self.port}", title=f"GSM modem {Path(self.port).name}")

    def hardware(self) -> Hardware | None:
        """Return what the modem said it is (+CGMI, +CGMM, +CGMR), once linked."""
        return self._hardware

    @property
    def connected(self) -> bool:
        """Tell whether the port is open and the modem set up."""
        return self._at is not None and not self._at.closed and self._linked.is_set()

    # The link -------------------------------------------------------------------------------------------------

    async def async_start(self) -> None:
        """Open the port in the background and keep it open (reopen after an unplug) until stopped."""
        _HOLDERS[self.port] = self
        self._stopping = False
        if self._link_task is None:
            self._link_task = asyncio.get_running_loop().create_task(self._async_link(), name="sms_alerts modem link")

    async def async_stop(self) -> None:
        """Close the port and stop reopening it."""
        if _HOLDERS.get(self.port) is self:
            del _HOLDERS[self.port]
        await self._async_pause()

    async def _async_pause(self) -> None:
        """Stop the link and close the port (a check of new settings is about to open it)."""
        self._stopping = True
        task, self._link_task = self._link_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.inbound.async_stop()
        await self._async_drop()
        self._attempted.clear()

    async def _async_link(self) -> None:
        """Open and set up the modem; after a failure or a close, wait and open it again."""
        delay = BACKOFF_INITIAL
        reported: str | None = None
        while not self._stopping:
            self._closed = closed = asyncio.Event()
            try:
                self._at = await self._async_connect(self._port_closed)
            except Exception as err:  # noqa: BLE001 - the link must outlive any failure; a bug is logged once
                if not isinstance(err, ProviderError):
                    err = self.unexpected_error(err, self.port)
                self.last_error = err
                if err.reason != reported:
                    _LOGGER.warning("GSM modem on %s: %s; trying again", self.port, err.reason)
                    reported = err.reason
                    self.on_link(False, err)  # noqa: FBT003 - the link's state
                self._attempted.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            delay = BACKOFF_INITIAL
            reported = None
            self.last_error = None
            self._linked.set()
            self._attempted.set()
            _LOGGER.info("GSM modem on %s is ready", self.port)
            self.on_link(True, None)  # noqa: FBT003 - the link's state
            self.inbound.read_stored()
            await closed.wait()
            self._linked.clear()
            lost = TransientError(f"the modem went away ({self._at.close_reason})", key="port_closed")
            self.last_error = lost
            reported = lost.reason
            _LOGGER.warning("GSM modem on %s: %s; reopening it", self.port, lost.reason)
            self.on_link(False, lost)  # noqa: FBT003 - the link's state
            await self._async_drop()

    def _port_closed(self, _reason: str) -> None:
        """Wake the link task: the port closed by itself."""
        self._closed.set()

    async def _async_drop(self) -> None:
        """Close the session, if one is open."""
        self._linked.clear()
        at, self._at = self._at, None
        if at is not None:
            await at.close()

    async def _async_connect(self, on_closed: Callable[[str], None]) -> AtSession:
        """Open the port and set the modem up; raise a ProviderError (the port closed again on failure)."""
        try:
            reader, writer = await async_open_port(self.port, self.baudrate)
        except (OSError, ValueError) as err:  # pyserial: ValueError for a URL or setting it does not know
            raise port_error(err) from None
        at = AtSession(reader, writer, on_unsolicited=self._unsolicited, on_closed=on_closed)
        at.start()
        try:
            await self._async_setup(at)
        except BaseException as err:
            await at.close()
            if isinstance(err, TimeoutError):
                raise TransientError("setting the modem up: no answer", key="no_answer") from None
            if isinstance(err, PortClosedError):
                raise TransientError(f"setting the modem up: the port closed ({err})", key="port_closed") from None
            if isinstance(err, AtError):
                raise classify(err, doing="setting the modem up") from None
            raise
        return at

    async def _async_setup(self, at: AtSession) -> None:
        """Echo off, numeric errors, SIM unlocked, PDU mode, unsolicited SMS and reports, SMS centre."""
        await self._async_sync(at)
        await self._run(at, "ATE0", "switching echo off")
        with contextlib.suppress(AtError):
            await at.command("AT+CMEE=1")  # numeric +CME ERROR codes; modems without it answer ERROR
        if self._identify:
            self._identify = False
            self._hardware = await async_identify(at)
        await self._async_unlock(at)
        await self._run(at, "AT+CMGF=0", "choosing PDU mode")
        self.inbound.acknowledging = await async_message_service(at)
        offered: list[str] | None = None
        with contextlib.suppress(AtError):
            offered = await at.command("AT+CNMI=?")
        self._announcing = None
        for setting in settings_to_try(offered):
            try:
                await at.command(setting)
                _LOGGER.debug("GSM modem on %s: %s", self.port, setting)
                self._announcing = setting
                break
            except AtError:
                continue
        else:
            _LOGGER.warning("GSM modem on %s announces no inbound SMS (AT+CNMI refused)", self.port)
        if self._smsc:
            await self._run(at, f'AT+CSCA="{self._smsc}",145', "setting the SMS centre")

    async def _async_sync(self, at: AtSession) -> None:
        """Send a bare AT until the modem answers OK.

        An ESC first ends a PDU the modem may still wait for (Home Assistant stopped after its prompt).
        """
        with contextlib.suppress(PortClosedError):
            await at.write_escape()
        for _ in range(SYNC_TRIES):
            try:
                await at.command("AT", within=SYNC_TIMEOUT, probe=True)
            except (TimeoutError, AtError):
                continue
            except PortClosedError as err:
                raise TransientError(f"the port closed ({err})", key="port_closed") from None
            return
        raise TransientError(f"no answer to AT: is the port a modem's, at {self.baudrate} baud?", key="no_answer")

    async def _run(self, at: AtSession, command: str, doing: str) -> list[str]:
        """Run one command; its failure becomes the provider error of its class."""
        try:
            return await at.command(command)
        except AtError as err:
            raise classify(err, doing=doing) from None
        except TimeoutError:
            raise TransientError(f"{doing}: no answer from the modem", key="no_answer") from None
        except PortClosedError as err:
            raise TransientError(f"{doing}: the port closed ({err})", key="port_closed") from None

    async def _async_unlock(self, at: AtSession) -> None:
        """Read the SIM's state; enter the PIN where it asks for one (never a PIN it refused before)."""
        state = await self._async_sim_state(at)
        if state == "READY":
            return
        if state != "SIM PIN":
            raise _sim_error(state)
        if self._pin is None:
            raise AuthError("the SIM needs its PIN", key="sim_pin_required")
        if self.pin_refused == pin_digest(self._pin):
            raise AuthError("the SIM refused this PIN before: enter the right one", key="wrong_pin")
        try:
            await at.command(f'AT+CPIN="{self._pin}"')
        except AtError as err:
            error = classify(err, doing="entering the PIN")
            if err.kind == "ERROR" or error.key == "wrong_pin":
                self.pin_refused = pin_digest(self._pin)
                self.on_pin_refused(self.pin_refused)
                raise AuthError("the SIM refused the PIN", key="wrong_pin") from None
            raise error from None
        except TimeoutError:
            raise TransientError("entering the PIN: no answer from the modem", key="no_answer") from None
        for _ in range(PIN_READY_TRIES):
            if await self._async_sim_state(at) == "READY":
                return
            await asyncio.sleep(PIN_READY_WAIT)
        raise TransientError("the SIM took the PIN but is not ready", key="modem_busy")

    async def _async_sim_state(self, at: AtSession) -> str:
        """Return what AT+CPIN? says: READY, SIM PIN, SIM PUK, ..."""
        for line in await self._run(at, "AT+CPIN?", "reading the SIM"):
            if line.upper().startswith("+CPIN:"):
                return line.split(":", 1)[1].strip().strip('"').upper()
        return "READY"

    # Checks and status ----------------------------------------------------------------------------------------

    async def async_validate(self) -> AccountInfo:
        """Check that the modem answers and its SIM is usable, without sending an SMS.

        While the entry holds the port, its link tells; otherwise the port is opened and set up once.
        """
        if self._link_task is not None:
            await self._async_wait_link()
            return self.identity()
        # A loaded entry holding this port (reauthentication, reconfigure) lets go of it for the check
        holder = _HOLDERS.get(self.port)
        if holder is not None:
            await holder._async_pause()  # noqa: SLF001 - the same class
        try:
            at = await self._async_connect(lambda _reason: None)
            await at.close()
        finally:
            if holder is not None and _HOLDERS.get(self.port) is holder:
                await holder.async_start()
        return self.identity()

    async def _async_wait_link(self) -> AtSession:
        """Wait for the link's first try at most LINK_WAIT; return the session, or raise the link's error."""
        if not self._attempted.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LINK_WAIT):
                    await self._attempted.wait()
        at = self._at
        if at is None or not self.connected:
            raise self.last_error or TransientError("the modem is not ready yet", key="no_port")
        return at

    async def async_signal(self) -> dict[str, Any]:
        """Return the signal (+CSQ: rssi, dBm) and registration (+CREG/+CEREG <stat>) of a linked modem.

        Read every few minutes: the modem is also asked again for announcements it dropped (`async_keep_announcing`).
        """
        at = await self._async_wait_link()
        status: dict[str, Any] = {}
        for line in await self._run(at, "AT+CSQ", "reading the signal"):
            if line.startswith("+CSQ:"):
                rssi = int(line[5:].split(",")[0].strip() or _RSSI_UNKNOWN)
                status["rssi"] = rssi
                status["signal_dbm"] = None if rssi == _RSSI_UNKNOWN else -113 + 2 * rssi
        for command in ("AT+CREG?", "AT+CEREG?"):
            with contextlib.suppress(ProviderError):
                for line in await self._run(at, command, "reading the registration"):
                    fields = line.split(":", 1)[-1].split(",")
                    if line.startswith(("+CREG:", "+CEREG:")) and len(fields) > 1 and fields[1].strip().isdigit():
                        status[command[3:-1].lower()] = int(fields[1])
        if await async_keep_announcing(functools.partial(self._run, at), self._announcing, self.port):
            self.inbound.read_stored()
        return status

    # Sending --------------------------------------------------------------------------------------------------

    async def async_send_one(self, sms: OutboundSms, target: Target) -> Receipt:
        """Send every part of the message to one number; the receipt's id names the parts' references."""
        if target.kind is not TargetKind.NUMBER:
            raise TargetRejectedError(f"a modem cannot send to {target.kind} targets", key="unsupported_target")
        self._concat = (self._concat + 1) % 256
        try:
            pdus = encode_message(target.value, sms.text, concat_reference=self._concat, status_report=True)
        except PduError as err:
            raise TargetRejectedError(f"the message cannot be encoded ({err})", key="target_rejected") from None
        at = await self._async_wait_link()
        # A part's status report may come before the next part is sent: each is expected once the modem took it
        awaited = self.inbound.begin_reports(target.value, len(pdus))
        try:
            for number, pdu in enumerate(pdus, 1):
                doing = f"sending part {number}/{len(pdus)} to {mask_target(target)}"
                try:
                    self.inbound.part_sent(awaited, await at.send_pdu(pdu.length, pdu.hex, within=SEND_TIMEOUT))
                except AtError as err:
                    raise classify(err, doing=doing) from None
                except TimeoutError:
                    raise TransientError(
                        f"{doing}: no answer from the modem (the part may have been sent: a duplicate is possible)",
                        key="timeout",
                    ) from None
                except PortClosedError:
                    raise TransientError(
                        f"{doing}: the port closed (a part may have been sent: a duplicate is possible)",
                        key="port_closed",
                    ) from None
            message_id = self.inbound.all_sent(awaited)
        finally:
            self.inbound.end_send(awaited)
        _LOGGER.debug("Sent %d part(s) to %s: references %s", len(pdus), mask_target(target), awaited.references)
        return Receipt(target=target, outcome=Outcome.SENT, message_id=message_id)

    # Inbound --------------------------------------------------------------------------------------------------

    def _unsolicited(self, code: Unsolicited) -> None:
        """Hand +CMTI, +CMT, +CDS and +CDSI to the inbound side."""
        self.inbound.unsolicited(code)

    async def async_command(self, command: str, doing: str) -> list[str]:
        """Run one command on the linked modem (for reading and deleting stored messages)."""
        at = self._at
        if at is None or at.closed:
            raise TransientError(f"{doing}: the modem is not connected", key="port_closed")
        return await self._run(at, command, doing)

    def redacted_view(self) -> dict[str, Any]:
        """Describe the provider for diagnostics: no PIN (whether one is set only), no SMS centre."""
        return {
            "provider": self.key,
            "baudrate": self.baudrate,
            "pin_set": self._pin is not None,
            "smsc_set": self._smsc is not None,
            "connected": self.connected,
            "last_error": None if self.last_error is None else self.last_error.reason,
            "timeout": self._timeout,
            # What it said it is (+CGMI, +CGMM, +CGMR): which modem and firmware a report is about
            "hardware": None if self._hardware is None else list(astuple(self._hardware)),
        }


def _sim_error(state: str) -> ProviderError:
    """Return the error of a SIM that wants something other than its PIN (PUK, PH-SIM PIN, PIN2), or is not there.

    Some modems answer `+CPIN: NOT INSERTED` where others give +CME ERROR 10, and `+CPIN: NOT READY` while the SIM
    starts (SIMCom, Quectel): no SIM, and a moment to wait, not a locked SIM.
    """
    if state == "SIM PUK":
        return EntryRejectedError("the SIM is locked and needs its PUK (enter it in a phone)", key="sim_puk")
    if state == "NOT INSERTED":
        return EntryRejectedError("SIM not inserted", key="no_sim")
    if state == "NOT READY":
        return TransientError("the SIM is not ready yet", key="modem_busy")
    return EntryRejectedError(f"the SIM is locked ({state})", key="sim_locked")
