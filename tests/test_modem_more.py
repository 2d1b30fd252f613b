"""The modem provider's less travelled paths, against the modem simulator.

A modem that answers oddly in setup, a port that will not open, sends that cannot go out, and inbound PDUs
and status reports out of the ordinary.

Facts used (3GPP): AT+CPIN? answers READY, SIM PIN, SIM PUK, PH-SIM PIN (TS 27.007 §8.3); +CME ERROR 10 SIM not
inserted (TS 27.007 §9.2); +CMS ERROR 321 invalid memory index (TS 27.005 §3.2.5); TP-ST 0x20-0x3F: the SMS
centre still tries (TS 23.040 §9.2.3.15); a concatenated SMS has at most 255 parts (one octet, TS 23.040 §9.2.3.24.1).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import AsyncGenerator

import pytest

from custom_components.sms_alerts.api import modem as modem_api
from custom_components.sms_alerts.api import modem_inbound
from custom_components.sms_alerts.api.base import (
    EntryRejectedError,
    Hardware,
    OutboundSms,
    Outcome,
    ProviderError,
    Target,
    TargetKind,
    TargetRejectedError,
    TransientError,
)
from custom_components.sms_alerts.api.ipex_webhook import DeliveryReport, InboundSms
from custom_components.sms_alerts.api.modem import ModemProvider
from custom_components.sms_alerts.api.modem_at import AtSession, identity_answer
from custom_components.sms_alerts.api.modem_inbound import message_id
from custom_components.sms_alerts.api.modem_indications import FIXED_SETTINGS
from custom_components.sms_alerts.api.pdu import Concat, encode_deliver, encode_status_report
from simulators import memory_wire
from simulators.modem import ModemSimulator

from .modem_helpers import OPENER, wait_for

NUMBER = "+491701234567"
TARGET = Target(kind=TargetKind.NUMBER, value=NUMBER)
SENDER = "+491709999999"
PIN = "4711"
# What a scripted command gets instead of the simulator's answer
SILENT = "silent"
UNPLUG = "unplug"
OK = "\r\nOK\r\n"
ERROR = "\r\nERROR\r\n"
NOW = dt.datetime(2025, 5, 1, 12, 0, tzinfo=dt.UTC)


class ScriptedModem(ModemSimulator):
    """The modem simulator, except for the commands in `script`.

    Those get the answer given there (raw text), no answer at all (SILENT), or pull the cable (UNPLUG).
    Every command line is kept in `seen`.
    """

    def __init__(self, **kwargs: object) -> None:
        """Run in memory; nothing scripted yet."""
        super().__init__(memory=True, **kwargs)  # type: ignore[arg-type]
        self.script: dict[str, str] = {}
        self.seen: list[str] = []

    def _command(self, line: str) -> None:
        upper = line.upper()
        self.seen.append(upper)
        answer = self.script.get(upper)
        if answer is None:
            super()._command(line)
        elif answer == UNPLUG:
            self.unplug()
        elif answer != SILENT:
            self._write(answer)


@pytest.fixture
async def sim(monkeypatch: pytest.MonkeyPatch) -> AsyncGenerator[ScriptedModem]:
    """A scripted modem in memory whose SIM wants PIN 4711; commands time out after 0.3 s."""
    monkeypatch.setattr(modem_api, "BACKOFF_INITIAL", 0.05)
    monkeypatch.setattr(modem_api, "SYNC_TIMEOUT", 0.3)
    monkeypatch.setattr(modem_api, "PIN_READY_WAIT", 0.01)
    monkeypatch.setattr(modem_api, "AtSession", functools.partial(AtSession, timeout=0.3))
    modem = ScriptedModem(pin=PIN)
    await modem.start()
    monkeypatch.setattr(OPENER, memory_wire.async_open)
    try:
        yield modem
    finally:
        await modem.stop()


@pytest.fixture
async def linked(sim: ScriptedModem) -> AsyncGenerator[tuple[ModemProvider, list[object]]]:
    """A provider holding the scripted modem's port, and what it handed on."""
    provider = ModemProvider(None, port=sim.path, pin=PIN)
    events: list[object] = []
    provider.on_events = events.extend
    await provider.async_start()
    await wait_for(lambda: provider.connected)
    await provider.inbound.async_idle()
    yield provider, events
    await provider.async_stop()


# Setting the modem up ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "answer", "error", "key"),
    [
        ("AT", UNPLUG, TransientError, "port_closed"),  # pulled out while it is being found
        ("ATE0", SILENT, TransientError, "no_answer"),
        ("ATE0", UNPLUG, TransientError, "port_closed"),
        ("AT+CMEE=1", SILENT, TransientError, "no_answer"),  # an optional command, but silence is not a refusal
        ("AT+CMEE=1", UNPLUG, TransientError, "port_closed"),
        ("AT+CPIN?", "\r\n+CPIN: SIM PUK\r\n" + OK, EntryRejectedError, "sim_puk"),
        ("AT+CPIN?", "\r\n+CPIN: PH-SIM PIN\r\n" + OK, EntryRejectedError, "sim_locked"),
        # Some modems say so where others give +CME ERROR 10; SIMCom and Quectel while the SIM starts
        ("AT+CPIN?", "\r\n+CPIN: NOT INSERTED\r\n" + OK, EntryRejectedError, "no_sim"),
        ("AT+CPIN?", "\r\n+CPIN: NOT READY\r\n" + OK, TransientError, "modem_busy"),
        ('AT+CPIN="4711"', SILENT, TransientError, "no_answer"),
        ('AT+CPIN="4711"', "\r\n+CME ERROR: 10\r\n", EntryRejectedError, "no_sim"),
    ],
)
async def test_setup_failures_are_classified(
    sim: ScriptedModem, command: str, answer: str, error: type[ProviderError], key: str
) -> None:
    """Each way the setup can break is a provider error of its class and key, never a raw session error."""
    sim.script[command] = answer
    with pytest.raises(error) as raised:
        await ModemProvider(None, port=sim.path, pin=PIN).async_validate()
    assert type(raised.value) is error
    assert raised.value.key == key
    assert PIN not in str(raised.value)
    assert "AT+CMGF=0" not in sim.seen  # the setup stopped where it broke


async def test_a_pin_error_that_is_no_refusal_is_tried_again(sim: ScriptedModem) -> None:
    """A SIM that fell out while the PIN went in did not refuse it: the next check enters the PIN again."""
    sim.script['AT+CPIN="4711"'] = "\r\n+CME ERROR: 10\r\n"
    provider = ModemProvider(None, port=sim.path, pin=PIN)
    with pytest.raises(EntryRejectedError):
        await provider.async_validate()
    del sim.script['AT+CPIN="4711"']
    await provider.async_validate()
    assert sim.seen.count('AT+CPIN="4711"') == 2
    assert sim.pin_entered


async def test_pin_taken_but_sim_never_ready(sim: ScriptedModem, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SIM says OK to the PIN yet keeps asking for it: a few polls of AT+CPIN?, then a transient error."""
    monkeypatch.setattr(modem_api, "PIN_READY_TRIES", 3)
    sim.script['AT+CPIN="4711"'] = OK  # taken, but the simulated SIM stays locked
    with pytest.raises(TransientError) as raised:
        await ModemProvider(None, port=sim.path, pin=PIN).async_validate()
    assert raised.value.key == "modem_busy"
    assert sim.seen.count("AT+CPIN?") == 1 + 3
    assert "AT+CMGF=0" not in sim.seen


async def test_a_cpin_answer_without_state_counts_as_ready(sim: ScriptedModem) -> None:
    """A modem that answers AT+CPIN? with a bare OK is taken as unlocked; the setup goes on without a PIN."""
    sim.script["AT+CPIN?"] = OK
    await ModemProvider(None, port=sim.path).async_validate()
    assert not any(line.startswith("AT+CPIN=") for line in sim.seen)
    assert sim.pdu_mode
    assert sim.cnmi == (2, 1, 0, 1, 0)


async def test_cnmi_fallbacks_then_none(sim: ScriptedModem, caplog: pytest.LogCaptureFixture) -> None:
    """Without AT+CNMI=?, each fixed AT+CNMI setting is tried in turn; a modem refusing all still sends, one warning."""
    sim.script["AT+CNMI=?"] = ERROR
    sim.script["AT+CNMI=2,1,0,1,0"] = ERROR
    await ModemProvider(None, port=sim.path, pin=PIN).async_validate()
    assert sim.cnmi == (2, 1, 0, 2, 0)
    assert "AT+CNMI refused" not in caplog.text
    for setting in FIXED_SETTINGS:
        sim.script[setting] = ERROR
    sim.cnmi = (0, 0, 0, 0, 0)
    await ModemProvider(None, port=sim.path, pin=PIN).async_validate()
    assert sim.cnmi == (0, 0, 0, 0, 0)
    assert [line for line in sim.seen if line.startswith("AT+CNMI")][-5:] == ["AT+CNMI=?", *FIXED_SETTINGS]
    assert caplog.text.count("announces no inbound SMS (AT+CNMI refused)") == 1


async def test_the_sms_centre_is_set_where_given(sim: ScriptedModem) -> None:
    """An SMS centre in the entry goes to the modem (AT+CSCA, international type 145); none leaves the SIM's."""
    await ModemProvider(None, port=sim.path, pin=PIN).async_validate()
    assert not any(line.startswith("AT+CSCA=") for line in sim.seen)
    await ModemProvider(None, port=sim.path, pin=PIN, smsc="+491710760099").async_validate()
    assert 'AT+CSCA="+491710760099",145' in sim.seen
    assert sim.smsc == "+491710760099"


# The link -------------------------------------------------------------------------------------------------------


async def test_a_port_without_permission_is_named_and_reported_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """No permission on the port: port_permission (not the OS's text), reported once however often it is retried.

    A send meanwhile is transient with that reason.
    """
    monkeypatch.setattr(modem_api, "BACKOFF_INITIAL", 0.01)
    monkeypatch.setattr(modem_api, "BACKOFF_MAX", 0.02)
    tries: list[str] = []

    async def refused(port: str, _baudrate: int) -> tuple[object, object]:
        tries.append(port)
        raise PermissionError(13, "Permission denied", "/dev/ttyUSB7")

    monkeypatch.setattr(OPENER, refused)
    provider = ModemProvider(None, port="/dev/ttyUSB7")
    links: list[tuple[bool, ProviderError | None]] = []
    provider.on_link = lambda up, err: links.append((up, err))
    await provider.async_start()
    try:
        await wait_for(lambda: len(tries) >= 3)
        [receipt] = await provider.async_send(OutboundSms(text="Door open"), [TARGET])
    finally:
        await provider.async_stop()
    [(up, err)] = links
    assert not up
    assert isinstance(err, TransientError)
    assert err.key == "port_permission"
    assert "Permission denied" not in err.reason
    assert (receipt.outcome, receipt.error_key) == (Outcome.TRANSIENT, "port_permission")


@pytest.mark.allow_traceback  # an unexpected error is logged with its traceback once, for a bug report
async def test_an_unexpected_error_in_the_link_does_not_end_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug below the provider while opening the port: a transient unexpected_error, and the link keeps trying."""
    monkeypatch.setattr(modem_api, "BACKOFF_INITIAL", 0.01)
    monkeypatch.setattr(modem_api, "BACKOFF_MAX", 0.02)
    tries: list[str] = []

    async def broken(port: str, _baudrate: int) -> tuple[object, object]:
        tries.append(port)
        raise RuntimeError("bug in the serial library")

    monkeypatch.setattr(OPENER, broken)
    provider = ModemProvider(None, port="/dev/ttyUSB7")
    links: list[tuple[bool, ProviderError | None]] = []
    provider.on_link = lambda up, err: links.append((up, err))
    await provider.async_start()
    try:
        await wait_for(lambda: len(tries) >= 3)
    finally:
        await provider.async_stop()
    [(up, err)] = links
    assert not up
    assert isinstance(err, TransientError)
    assert err.key == "unexpected_error"
    assert provider.last_error is not None
    assert provider.last_error.key == "unexpected_error"
    assert sum(bool(record.exc_info) for record in caplog.records) == 1  # the traceback once, not at every try


async def test_a_command_without_a_link_is_transient() -> None:
    """Reading stored SMS on a modem that is not linked: transient port_closed, nothing is written anywhere."""
    provider = ModemProvider(None, port="/dev/ttyUSB7")
    with pytest.raises(TransientError) as raised:
        await provider.async_command("AT+CMGL=4", "listing stored SMS")
    assert raised.value.key == "port_closed"
    assert "listing stored SMS" in raised.value.reason


# Sending --------------------------------------------------------------------------------------------------------


async def test_only_numbers_are_sent_to(linked: tuple[ModemProvider, list[object]], sim: ScriptedModem) -> None:
    """A group target is refused as a target (the modem knows numbers only); nothing goes to the modem."""
    provider, _ = linked
    with pytest.raises(TargetRejectedError) as raised:
        await provider.async_send_one(OutboundSms(text="x"), Target(kind=TargetKind.GROUP, value="Night shift"))
    assert raised.value.key == "unsupported_target"
    assert not any(line.startswith("AT+CMGS") for line in sim.seen)


async def test_a_text_that_cannot_be_encoded_is_refused(
    linked: tuple[ModemProvider, list[object]], sim: ScriptedModem
) -> None:
    """A text of more than 255 parts cannot be sent as one SMS: refused for this target, no part goes out."""
    provider, _ = linked
    with pytest.raises(TargetRejectedError) as raised:
        await provider.async_send_one(OutboundSms(text="x" * 153 * 256), TARGET)
    assert raised.value.key == "target_rejected"
    assert "255 parts" in raised.value.reason
    assert sim.parts == []


# Inbound --------------------------------------------------------------------------------------------------------


async def test_one_announcement_twice_is_read_once(
    linked: tuple[ModemProvider, list[object]], sim: ScriptedModem
) -> None:
    """The same +CMTI twice in a row: the SMS is read (AT+CMGR) and handed on once, then deleted."""
    provider, events = linked
    sim.cnmi = (2, 0, 0, 1, 0)  # stored without an announcement: the test announces it
    sim.deliver(SENDER, "Reply 1")
    [slot] = sim.inbox
    sim.script.clear()
    for _ in range(2):
        sim._write(f'\r\n+CMTI: "SM",{slot}\r\n')
    await wait_for(lambda: not sim.inbox)
    await provider.inbound.async_idle()
    assert [(event.sender, event.text) for event in events if isinstance(event, InboundSms)] == [(SENDER, "Reply 1")]
    assert sim.seen.count(f"AT+CMGR={slot}") == 1


async def test_an_announced_sms_that_is_gone_is_logged(
    linked: tuple[ModemProvider, list[object]], sim: ScriptedModem, caplog: pytest.LogCaptureFixture
) -> None:
    """+CMTI for an index the SIM no longer has (+CMS ERROR 321): one warning, nothing handed on, the link stays."""
    provider, events = linked
    sim._write('\r\n+CMTI: "SM",7\r\n')
    await wait_for(lambda: "AT+CMGR=7" in sim.seen)
    await provider.inbound.async_idle()
    assert events == []
    assert "SMS 7 on the SIM could not be read" in caplog.text
    assert provider.connected


async def test_an_sms_read_without_its_pdu_is_left_on_the_sim(
    linked: tuple[ModemProvider, list[object]], sim: ScriptedModem, caplog: pytest.LogCaptureFixture
) -> None:
    """+CMGR answered without a PDU line (only the header, and lines the modem wrote unasked): nothing is deleted.

    The SMS stays on the SIM for the next listing; before, it was deleted unread.
    """
    provider, events = linked
    sim.script["AT+CMGR=7"] = "\r\n+CMGR: 0,,24\r\n+CREG: 1\r\n\r\nOK\r\n"
    sim._write('\r\n+CMTI: "SM",7\r\n')
    await wait_for(lambda: "AT+CMGR=7" in sim.seen)
    await provider.inbound.async_idle()
    assert events == []
    assert "AT+CMGD=7" not in sim.seen
    assert "SMS 7 on the SIM came without its PDU; it is left there" in caplog.text


async def test_a_refused_listing_leaves_the_link_up(sim: ScriptedModem, caplog: pytest.LogCaptureFixture) -> None:
    """AT+CMGL=4 refused at link-up: noted at debug level; the link is up and announced SMS still come in."""
    sim.script["AT+CMGL=4"] = ERROR
    provider = ModemProvider(None, port=sim.path, pin=PIN)
    events: list[object] = []
    provider.on_events = events.extend
    await provider.async_start()
    try:
        await wait_for(lambda: provider.connected and "AT+CMGL=4" in sim.seen)
        await provider.inbound.async_idle()
        assert "stored SMS not listed" in caplog.text
        sim.deliver(SENDER, "After the listing")
        await wait_for(lambda: bool(events))
        await provider.inbound.async_idle()
    finally:
        await provider.async_stop()
    assert [getattr(event, "text", None) for event in events] == ["After the listing"]


async def test_a_listed_sms_that_cannot_be_deleted_is_still_handed_on(
    sim: ScriptedModem, caplog: pytest.LogCaptureFixture
) -> None:
    """Listed at link-up but its AT+CMGD refused: handed on once, a warning, and it stays on the SIM."""
    sim.cnmi = (2, 0, 0, 1, 0)
    sim.deliver(SENDER, "Stored while away")
    [slot] = sim.inbox
    sim.script[f"AT+CMGD={slot}"] = "\r\n+CMS ERROR: 321\r\n"
    provider = ModemProvider(None, port=sim.path, pin=PIN)
    events: list[object] = []
    provider.on_events = events.extend
    await provider.async_start()
    try:
        await wait_for(lambda: f"AT+CMGD={slot}" in sim.seen)
        await provider.inbound.async_idle()
    finally:
        await provider.async_stop()
    assert [getattr(event, "text", None) for event in events] == ["Stored while away"]
    assert f"SMS {slot} on the SIM could not be deleted" in caplog.text
    assert slot in sim.inbox


async def test_an_unreadable_pdu_is_logged_not_raised(
    linked: tuple[ModemProvider, list[object]], sim: ScriptedModem, caplog: pytest.LogCaptureFixture
) -> None:
    """A +CMT whose PDU is not hex: one warning, nothing handed on, the session goes on."""
    provider, events = linked
    sim._write("\r\n+CMT: ,12\r\nNOT-A-PDU\r\n")
    await wait_for(lambda: "received PDU could not be read" in caplog.text)
    assert events == []
    assert (await provider.async_signal())["rssi"] == sim.rssi


def test_a_burst_of_unreadable_pdus_gives_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    """50 PDUs it cannot read (compressed text, which another sender's gateway may set): one warning, debug lines.

    The next warning, an interval later, says how many went to the debug log meanwhile.
    """
    provider = ModemProvider(None, port="/dev/ttyUSB7")
    provider.on_events = lambda _events: None
    clock = [1000.0]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(modem_inbound.time, "monotonic", lambda: clock[0])
        for number in range(50):
            provider.inbound.take_pdu(f"NOT-A-PDU-{number}")
        clock[0] += modem_inbound.UNREADABLE_WARNING_INTERVAL
        provider.inbound.take_pdu("NOT-A-PDU-again")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert warnings[1].endswith("; and 49 more since the last warning")
    assert "NOT-A-PDU-7" in caplog.text  # in the debug log, for whoever looks into it


def _part(text: str, reference: int, sequence: int, total: int = 2) -> str:
    """One part of a concatenated inbound SMS, as a PDU."""
    concat = Concat(reference=reference, total=total, sequence=sequence)
    return encode_deliver(SENDER, text, timestamp=NOW, concat=concat).hex


async def test_half_received_messages_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond MAX_PARTIAL half-received messages the oldest is dropped: its second part alone is never handed on."""
    monkeypatch.setattr(modem_inbound, "MAX_PARTIAL", 2)
    provider = ModemProvider(None, port="/dev/ttyUSB7")
    events: list[object] = []
    provider.on_events = events.extend
    for reference in (1, 2, 3):
        provider.inbound.take_pdu(_part(f"first {reference} ", reference, 1))
    for reference in (3, 2, 1):
        provider.inbound.take_pdu(_part(f"second {reference}", reference, 2))
    assert [getattr(event, "text", None) for event in events] == ["first 3 second 3", "first 2 second 2"]


def _report(reference: int, status: int = 0x00, recipient: str = NUMBER) -> str:
    """A status report PDU for the part with TP-MR `reference`, which the SMS centre took just now."""
    taken = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return encode_status_report(reference, recipient, status=status, timestamp=taken, discharged=taken).hex


async def test_awaited_reports_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond MAX_AWAITED sent parts the oldest is forgotten; newer messages still settle whole.

    A late report of the forgotten part is taken as a one-part message's.
    """
    monkeypatch.setattr(modem_inbound, "MAX_AWAITED", 2)
    provider = ModemProvider(None, port="/dev/ttyUSB7")
    events: list[object] = []
    provider.on_events = events.extend
    inbound = provider.inbound
    first = inbound.begin_reports(NUMBER, 2)
    inbound.part_sent(first, 10)
    inbound.part_sent(first, 11)
    first_id = inbound.all_sent(first)
    inbound.end_send(first)
    second = inbound.begin_reports(NUMBER, 1)
    inbound.part_sent(second, 12)
    second_id = inbound.all_sent(second)
    inbound.end_send(second)
    inbound.take_pdu(_report(12))
    inbound.take_pdu(_report(11))
    assert events == [DeliveryReport(id=second_id, to=NUMBER, state="DELIVERED")]
    inbound.take_pdu(_report(10))  # forgotten: no longer part of the first message
    assert events[1] == DeliveryReport(id=message_id(NUMBER, [10]), to=NUMBER, state="DELIVERED")
    assert first_id not in [getattr(event, "id", None) for event in events]


async def test_a_pending_report_waits_for_the_final_one(
    linked: tuple[ModemProvider, list[object]], sim: ScriptedModem
) -> None:
    """TP-ST 0x30 (the SMS centre still tries) settles nothing; the final report later does."""
    provider, events = linked
    sim.report_status = 0x30
    [receipt] = await provider.async_send(OutboundSms(text="Water in cellar"), [TARGET])
    [part] = sim.parts
    await _settle_reports(sim)
    assert events == []
    sim._write(f"\r\n+CDS: 25\r\n{_report(part.reference, 0x00)}\r\n")
    await wait_for(lambda: bool(events))
    assert events == [DeliveryReport(id=receipt.message_id or "", to=NUMBER, state="DELIVERED")]


async def _settle_reports(sim: ScriptedModem) -> None:
    """Wait until the simulator's status reports went out."""
    await wait_for(lambda: not [task for task in sim.wire._tasks if not task.done()])


async def test_a_report_of_a_message_sent_before_a_restart(
    linked: tuple[ModemProvider, list[object]], sim: ScriptedModem
) -> None:
    """A status report nobody awaits (sent before a restart) names a one-part message by its id.

    The recipient is written with its plus.
    """
    _, events = linked
    sim._write(f"\r\n+CDS: 25\r\n{_report(42, 0x41)}\r\n")
    await wait_for(lambda: bool(events))
    assert events == [DeliveryReport(id=message_id(NUMBER, [42]), to=NUMBER, state="FAILED")]


# What the modem says it is ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "told"),
    [
        # SIMCom SIM900, as m2msupport.net's AT Command Tester transcript shows it
        (["SIMCOM_Ltd"], "SIMCOM_Ltd"),
        (["SIMCOM_SIM900"], "SIMCOM_SIM900"),
        (["Revision:1137B03SIM900M64_ST_MMS"], "1137B03SIM900M64_ST_MMS"),
        # Modems that repeat the command's name (TS 27.007 allows either form)
        (["+CGMR: 1.0"], "1.0"),
        (["+CGMI: Sierra Wireless, Incorporated"], "Sierra Wireless, Incorporated"),
        (['"Quectel"'], "Quectel"),
        (["", "  ", "EG25"], "EG25"),
        ([], None),
        (["Revision:"], None),
        (["Bad\x00\x1bmodel"], "Badmodel"),
        (["M" * 200], "M" * 64),
    ],
)
def test_identity_answers_are_read_without_their_prefix(lines: list[str], told: str | None) -> None:
    """The first line with text, without a +CGMx: or Revision: prefix, printable and at most 64 characters."""
    assert identity_answer(lines) == told


async def test_the_modem_is_asked_what_it_is_once(
    linked: tuple[ModemProvider, list[object]], sim: ScriptedModem
) -> None:
    """Maker, model and firmware are read at the first link, not at every reopening."""
    provider, _events = linked
    assert provider.hardware() == Hardware("SIMCOM_Ltd", "SIMCOM_SIM900", "1137B03SIM900M64_ST_MMS")
    sim.unplug()
    await wait_for(lambda: not provider.connected)
    await sim.replug()
    await wait_for(lambda: provider.connected)
    assert sim.seen.count("AT+CGMI") == 1


async def test_a_part_the_modem_refuses_is_left_out(sim: ScriptedModem) -> None:
    """A modem that answers ERROR to +CGMM still links; its model is unknown."""
    sim.script["AT+CGMM"] = ERROR
    provider = ModemProvider(None, port=sim.path, pin=PIN)
    await provider.async_start()
    try:
        await wait_for(lambda: provider.connected)
        assert provider.hardware() == Hardware("SIMCOM_Ltd", None, "1137B03SIM900M64_ST_MMS")
    finally:
        await provider.async_stop()


async def test_a_modem_silent_about_itself_costs_one_reopening(sim: ScriptedModem) -> None:
    """Silence to +CGMI ends that session as any silence does; the next link does not ask again and works."""
    sim.script["AT+CGMI"] = SILENT
    provider = ModemProvider(None, port=sim.path, pin=PIN)
    await provider.async_start()
    try:
        await wait_for(lambda: provider.connected)
        assert provider.hardware() is None
        assert sim.seen.count("AT+CGMI") == 1
    finally:
        await provider.async_stop()
