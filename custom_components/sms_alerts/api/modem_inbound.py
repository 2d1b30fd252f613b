"""What a modem receives: inbound SMS (+CMTI / +CMT) and status reports (+CDS / +CDSI), 3GPP TS 27.005 §3.4.1.

An SMS stored on the SIM is announced as `+CMTI: "SM",<index>`: it is read with AT+CMGR=<index>, decoded,
handed on, then deleted with AT+CMGD=<index> so that the SIM never fills up (in the storage the announcement
names: modem_storage). Messages stored while Home Assistant was away are read with AT+CMGL=4 (all, PDU mode)
when the link comes up, from the storage read now and the one SMS arrive in. Parts of a
concatenated SMS are joined before they are handed on. A status report's TP-MR and recipient name the
part it is about; a message counts as delivered once every part is, and as failed at the first part
that failed. What is awaited is kept across a restart (`stored` / `restore`, in the entry's storage):
the reports of a message's parts, which may come hours later, still make one delivery report.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from .base import ProviderError, mask_target
from .ipex_webhook import MAX_TEXT, DeliveryReport, InboundSms
from .modem_at import Unsolicited
from .modem_storage import StorageChoice, UnknownStorageError, parse_indication, where
from .pdu import Deliver, PduError, ReportStatus, StatusReport, decode_pdu

_LOGGER = logging.getLogger(__name__)

# How many sent messages wait for their status reports, and how many half-received concatenated SMS are kept
MAX_AWAITED = 512
MAX_PARTIAL = 32
DELIVERED = "DELIVERED"
FAILED = "FAILED"
# A PDU line: hex digits, an even number of them; the shortest SMS-DELIVER or STATUS-REPORT takes more than 10 octets
_HEX_PDU = re.compile(r"(?:[0-9A-Fa-f]{2}){10,}")
# The SMS centre's clock and this host's may differ: a report is another message's only when its SMS centre took
# that one this much before this one went
CLOCK_SLACK = 600.0
# Unreadable PDUs come in bursts as others send them: one warning in this many seconds, the rest in the debug log
UNREADABLE_WARNING_INTERVAL = 600.0


@dataclass(kw_only=True)
class Awaited:
    """A message being sent or sent, whose parts' status reports are still to come.

    A part's report may come before the message's last part is sent (a quick SMS centre): the message
    id, which names every part, is known only then, so what the reports say waits for it.
    """

    number: str
    total: int
    references: list[int] = field(default_factory=list)
    reported: set[int] = field(default_factory=set)
    failed: bool = False
    # Reports that came before the modem's answer naming their part (reference: failed)
    early: dict[int, bool] = field(default_factory=dict)
    # The id, once every part was sent; reported already (a delivery report went out) after that
    message_id: str = ""
    settled: bool = False
    # When its first part went (POSIX time): a report whose SMS centre took its SMS well before is another's
    sent_at: float = 0.0


def _digits(number: str) -> str:
    """Keep the digits of a number (status reports may write it without the plus)."""
    return "".join(char for char in number if char.isdigit())


def message_id(number: str, references: list[int]) -> str:
    """Name a sent message by its number (hashed: ids show up in events) and each part's TP-MR: 3f2a9c1e-17.18."""
    digest = hashlib.sha256(_digits(number).encode()).hexdigest()[:8]
    return f"{digest}-{'.'.join(map(str, references))}"


class ModemPort(Protocol):
    """What receiving needs of the modem provider: one command at a time, and whom to tell what arrived."""

    on_events: Callable[[list[InboundSms | DeliveryReport]], None]
    on_reports_changed: Callable[[], None]

    async def async_command(self, command: str, doing: str) -> list[str]:
        """Run one command on the linked modem; its answer's lines."""
        ...


def pdu_after(lines: list[str], header: str) -> str | None:
    """Return the PDU that follows the first line starting with `header`: the next line of hex digits.

    Unsolicited lines a modem writes unasked (a Huawei stick's ^RSSI, SIM800's +CREG: 1) may come between the
    header and its PDU; the next header ends the search. None when no PDU follows.
    """
    found = False
    for line in lines:
        if line.startswith(header):
            if found:
                return None
            found = True
        elif found and _HEX_PDU.fullmatch(line.strip()):
            return line.strip()
    return None


class Inbound:
    """A linked modem's inbound side: reads, joins, hands on and deletes what arrives."""

    def __init__(self, provider: ModemPort) -> None:
        """Belong to one modem provider."""
        self._provider = provider
        self._tasks: set[asyncio.Task[None]] = set()
        self._awaited: OrderedDict[tuple[str, int], Awaited] = OrderedDict()
        # Messages whose parts are being sent now
        self._sending: list[Awaited] = []
        self._partial: OrderedDict[tuple[str, int, int], dict[int, str]] = OrderedDict()
        # (storage, index) of stored messages being read and deleted: one SMS is handed on once
        self._claimed: set[tuple[str | None, int]] = set()
        self.storage = StorageChoice(provider)
        # Whether the modem wants AT+CNMA after each +CMT and +CDS (message service 1, or it did not say)
        self.acknowledging = False
        # When an unreadable PDU was last warned about, and how many went to the debug log since
        self._unreadable_warned: float | None = None
        self._unreadable_held = 0

    # Tasks ----------------------------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a read in the background (one command at a time: the session's lock orders them)."""
        task = asyncio.get_running_loop().create_task(coro, name="sms_alerts modem inbound")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def async_stop(self) -> None:
        """Cancel the reads under way."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def async_idle(self) -> None:
        """Wait until the reads under way are done (tests)."""
        # Only those not done: a done task leaves the set by a callback, after the next turn of the loop
        while pending := [task for task in self._tasks if not task.done()]:
            await asyncio.wait(pending)

    # Unsolicited codes ----------------------------------------------------------------------------------------

    def unsolicited(self, code: Unsolicited) -> None:
        """Act on +CMTI / +CDSI (read the stored message) and +CMT / +CDS (the PDU came along)."""
        if code.name in ("+CMTI", "+CDSI"):
            try:
                stored = parse_indication(code.args)
            except UnknownStorageError as err:
                # Which message it means cannot be told (ModemManager skips it too); the next listing may read it
                _LOGGER.warning("GSM modem: %s names a storage it does not know (%.8s); not read", code.name, err)
                return
            if stored is not None:
                self._spawn(self._async_read_stored(*stored))
        elif code.name in ("+CMT", "+CDS") and code.pdu:
            self.take_pdu(code.pdu)
            if self.acknowledging:
                self._spawn(self._async_acknowledge())

    async def _async_acknowledge(self) -> None:
        """AT+CNMA: tell the modem what it showed was taken (with message service 1 it stops announcing without)."""
        try:
            await self._provider.async_command("AT+CNMA", "acknowledging a received SMS or report")
        except ProviderError as err:
            _LOGGER.debug("GSM modem: AT+CNMA not taken (%s)", err.reason)

    def read_stored(self) -> None:
        """Read every message the modem holds (those that arrived while nobody listened); the link just opened."""
        self.storage.forget()
        self._spawn(self._async_list_stored())

    async def _async_read_stored(self, storage: str | None, index: int) -> None:
        """Read one stored message, hand it on, delete it (unless a listing has it in hand already)."""
        key = (storage, index)
        if key in self._claimed:
            return
        self._claimed.add(key)
        place = f"SMS {index} {where(storage)}"
        try:
            async with self.storage.lock:
                await self.storage.async_choose(storage)
                lines = await self._provider.async_command(f"AT+CMGR={index}", "reading a received SMS")
                pdu = pdu_after(lines, "+CMGR:")
                if pdu is None:
                    # Not read (an answer without its PDU): left where it is, the next listing reads it
                    _LOGGER.warning("GSM modem: %s came without its PDU; it is left there", place)
                    return
                self.take_pdu(pdu)
                await self._async_delete(index)
        except ProviderError as err:
            _LOGGER.warning("GSM modem: %s could not be read (%s)", place, err.reason)
        finally:
            self._claimed.discard(key)

    async def _async_list_stored(self) -> None:
        """Read all stored messages (AT+CMGL=4) of each storage they may wait in, hand them on, delete each.

        An SMS arriving during the listing is both listed and announced (+CMTI): whichever takes its
        index first hands it on, the other leaves it.
        """
        async with self.storage.lock:
            for storage in await self.storage.async_to_list():
                try:
                    await self.storage.async_choose(storage)
                    lines = await self._provider.async_command("AT+CMGL=4", "listing stored SMS")
                except ProviderError as err:
                    _LOGGER.debug("GSM modem: stored SMS not listed %s (%s)", where(storage), err.reason)
                    continue
                await self._async_take_listed(storage, lines)

    async def _async_take_listed(self, storage: str | None, lines: list[str]) -> None:
        """Hand on each listed message nobody else has in hand, then delete it."""
        keys: list[tuple[str | None, int]] = []
        for position, header in enumerate(lines):
            slot = header[6:].split(",")[0].strip()
            pdu = pdu_after(lines[position:], "+CMGL:")
            if not (header.startswith("+CMGL:") and slot.isascii() and slot.isdigit() and pdu is not None):
                continue
            if (key := (storage, int(slot))) not in self._claimed:
                self._claimed.add(key)
                keys.append(key)
                self.take_pdu(pdu)
        for key in keys:
            try:
                await self._async_delete(key[1])
            except ProviderError as err:
                _LOGGER.warning("GSM modem: SMS %d %s could not be deleted (%s)", key[1], where(storage), err.reason)
            finally:
                self._claimed.discard(key)

    async def _async_delete(self, index: int) -> None:
        """Delete a read SMS from the SIM, so that it never fills up."""
        await self._provider.async_command(f"AT+CMGD={index}", "deleting a read SMS")

    # PDUs -----------------------------------------------------------------------------------------------------

    def take_pdu(self, pdu: str) -> None:
        """Decode one PDU from the modem and act on it; one that cannot be read is logged, never raised."""
        try:
            decoded = decode_pdu(pdu.strip())
        except PduError as err:
            self._unreadable(err, pdu)
            return
        if isinstance(decoded, Deliver):
            self._deliver(decoded)
        elif isinstance(decoded, StatusReport):
            self._report(decoded)

    def _unreadable(self, err: PduError, pdu: str) -> None:
        """Tell of a PDU that cannot be read: a warning once in UNREADABLE_WARNING_INTERVAL, debug lines between."""
        now = time.monotonic()
        if self._unreadable_warned is not None and now - self._unreadable_warned < UNREADABLE_WARNING_INTERVAL:
            self._unreadable_held += 1
            _LOGGER.debug("GSM modem: a received PDU could not be read (%s): %.80s", err, pdu.strip())
            return
        more = f"; and {self._unreadable_held} more since the last warning" if self._unreadable_held else ""
        _LOGGER.warning("GSM modem: a received PDU could not be read (%s)%s", err, more)
        _LOGGER.debug("GSM modem: the unreadable PDU: %.80s", pdu.strip())
        self._unreadable_warned, self._unreadable_held = now, 0

    def _deliver(self, part: Deliver) -> None:
        """Hand on an inbound SMS, once all its parts are in."""
        text = part.text
        concat = part.concat
        if concat is not None and concat.total > 1:
            key = (part.sender, concat.reference, concat.total)
            parts = self._partial.setdefault(key, {})
            parts[concat.sequence] = part.text
            if len(parts) < concat.total:
                while len(self._partial) > MAX_PARTIAL:
                    self._partial.popitem(last=False)
                return
            del self._partial[key]
            text = "".join(parts[index] for index in sorted(parts))
        _LOGGER.debug("GSM modem: SMS from %s", mask_target(part.sender))
        cut = text if len(text) <= MAX_TEXT else f"{text[: MAX_TEXT - 1]}…"
        sms = InboundSms(id="", sender=part.sender, to="", text=cut, created_at=part.timestamp.isoformat())
        self._provider.on_events([sms])

    def stored(self) -> list[list[Any]]:
        """Return the messages whose reports are awaited, in a form for storage (oldest first, at most MAX_AWAITED).

        Each: number, parts, the parts' references, those reported, failed, settled, the message id, when sent.
        """
        messages = {id(awaited): awaited for awaited in self._awaited.values() if awaited.message_id}
        return [
            [m.number, m.total, m.references, sorted(m.reported), m.failed, m.settled, m.message_id, m.sent_at]
            for m in messages.values()
        ]

    def restore(self, stored: Any) -> None:
        """Await again the reports of messages sent before a restart; anything malformed is dropped."""
        for row in stored if isinstance(stored, list) else []:
            with contextlib.suppress(TypeError, ValueError):
                number, total, references, reported, failed, settled, mid, *sent = row
                awaited = Awaited(
                    number=str(number),
                    total=int(total),
                    references=[int(reference) for reference in references],
                    reported={int(reference) for reference in reported},
                    failed=bool(failed),
                    message_id=str(mid),
                    settled=bool(settled),
                    sent_at=float(sent[0]) if sent else 0.0,
                )
                for reference in awaited.references:
                    if reference not in awaited.reported:
                        key = (_digits(awaited.number), reference)
                        self._awaited.pop(key, None)
                        self._awaited[key] = awaited
        while len(self._awaited) > MAX_AWAITED:
            self._awaited.popitem(last=False)

    def begin_reports(self, number: str, total: int) -> Awaited:
        """Start to await the status reports of a message of `total` parts, before its first part goes out."""
        awaited = Awaited(number=number, total=total, sent_at=time.time())
        self._sending.append(awaited)
        return awaited

    def end_send(self, awaited: Awaited) -> None:
        """End a send (every part out, or broken off): reports no longer come before their part's answer."""
        if awaited in self._sending:
            self._sending.remove(awaited)

    def part_sent(self, awaited: Awaited, reference: int) -> None:
        """Note a part the modem took (its TP-MR): its status report is expected from now."""
        awaited.references.append(reference)
        if reference in awaited.early:
            # Its report was quicker than the modem's answer (read from the port in the same breath)
            awaited.reported.add(reference)
            awaited.failed = awaited.failed or awaited.early.pop(reference)
        key = (_digits(awaited.number), reference)
        self._awaited.pop(key, None)
        self._awaited[key] = awaited
        while len(self._awaited) > MAX_AWAITED:
            self._awaited.popitem(last=False)

    def all_sent(self, awaited: Awaited) -> str:
        """Every part went out: return the message's id, and report what the reports so far already tell."""
        awaited.message_id = message_id(awaited.number, awaited.references)
        self._settle(awaited)
        self._provider.on_reports_changed()
        return awaited.message_id

    def _report(self, report: StatusReport) -> None:
        """Turn the status reports of a message's parts into one delivery report (delivered or failed)."""
        outcome = report.outcome
        if outcome is ReportStatus.PENDING:
            return  # the SMS centre still tries; its final report comes later
        key = (_digits(report.recipient), report.reference)
        awaited = self._awaited.pop(key, None)
        if awaited is not None and awaited.sent_at and report.timestamp.timestamp() < awaited.sent_at - CLOCK_SLACK:
            # The SMS centre took that SMS well before this message went: an earlier one whose TP-MR (one octet)
            # came round again since. Not this message's report: this one still awaits its own
            self._awaited[key] = awaited
            self._earlier(report, outcome)
            return
        if awaited is None and (sending := self._sending_to(report.recipient)) is not None:
            # A part whose answer (+CMGS) is still being read: the report waits for it
            sending.early[report.reference] = outcome is ReportStatus.FAILED
            return
        if awaited is None:
            # Sent before a restart: a one-part message is still known by its id
            number = report.recipient if report.recipient.startswith("+") else f"+{report.recipient}"
            awaited = Awaited(number=number, total=1, references=[report.reference])
            awaited.message_id = message_id(number, awaited.references)
        awaited.reported.add(report.reference)
        awaited.failed = awaited.failed or outcome is ReportStatus.FAILED
        self._settle(awaited)
        self._provider.on_reports_changed()

    def _earlier(self, report: StatusReport, outcome: ReportStatus) -> None:
        """Tell of the report of an earlier message whose reference another has now: its failure must not pass silently.

        Which alert it was cannot be told (their ids are alike): a FAILED goes on under an id nothing was sent
        by, which the outbox reports as a failed delivery of a message no longer known (sms_alerts_failed).
        """
        number = report.recipient if report.recipient.startswith("+") else f"+{report.recipient}"
        taken = report.timestamp.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        _LOGGER.info(
            "GSM modem: a status report (%s) of an earlier message to %s, taken by the SMS centre at %s, "
            "came after its reference was used again",
            outcome.value,
            mask_target(number),
            taken,
        )
        if outcome is ReportStatus.FAILED:
            earlier_id = f"{message_id(number, [report.reference])}@{taken}"
            self._provider.on_events([DeliveryReport(id=earlier_id, to=number, state=FAILED)])

    def _sending_to(self, number: str) -> Awaited | None:
        """Return the message being sent to a number now, if any (one command at a time: at most one)."""
        digits = _digits(number)
        return next((awaited for awaited in self._sending if _digits(awaited.number) == digits), None)

    def _settle(self, awaited: Awaited) -> None:
        """Report a message once its id is known: failed at its first failed part, delivered once every part is."""
        if awaited.settled or not awaited.message_id:
            return
        if awaited.failed:
            state = FAILED  # the other parts' reports, still to come, are taken in silence
        elif len(awaited.references) == awaited.total and awaited.reported >= set(awaited.references):
            state = DELIVERED
        else:
            return
        awaited.settled = True
        _LOGGER.debug("GSM modem: message %s %s", mask_target(awaited.number), state.lower())
        self._provider.on_events([DeliveryReport(id=awaited.message_id, to=awaited.number, state=state)])
