"""The modem provider against the modem simulator: AT session, PDU sends, errors, PIN, inbound, reports, unplug.

Facts used (3GPP): +CMS ERROR codes TS 27.005 §3.2.5 (RP causes TS 24.011 Annex E-2: 1 unassigned
number, 42 congestion; 330 SMSC address unknown, 500 unknown error); +CME ERROR codes TS 27.007 §9.2
(10 SIM not inserted, 11 SIM PIN required, 16 incorrect password); the AT+CMGS prompt and +CMGS: <mr>,
and +CMTI / +CDS, TS 27.005 §3.5.1 and §3.4.1; concatenated SMS: 153 GSM-7 / 67 UCS-2 characters per
part (PROVIDERS.md §0).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from custom_components.sms_alerts.api import modem as modem_api
from custom_components.sms_alerts.api.base import (
    AuthError,
    EntryRejectedError,
    OutboundSms,
    Outcome,
    Target,
    TargetKind,
    TransientError,
)
from custom_components.sms_alerts.api.ipex_webhook import DeliveryReport, InboundSms
from custom_components.sms_alerts.api.modem import ModemProvider
from custom_components.sms_alerts.api.modem_at import AtError, AtSession, Unsolicited
from custom_components.sms_alerts.api.modem_errors import classify
from simulators.memory_wire import MemoryWire
from simulators.modem import ModemFault, ModemSimulator

from .modem_helpers import TRANSPORTS, quick_link, running_modem, wait_for

NUMBER = "+491701234567"
TARGET = Target(kind=TargetKind.NUMBER, value=NUMBER)
PIN = "4711"


@pytest.fixture(params=TRANSPORTS)
async def sim(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncGenerator[ModemSimulator]:
    """A modem whose SIM wants PIN 4711, on a pty or in memory."""
    quick_link(monkeypatch)
    async with running_modem(request.param, monkeypatch, pin=PIN) as modem:
        yield modem


@pytest.fixture
async def linked(sim: ModemSimulator) -> AsyncGenerator[tuple[ModemProvider, list[object]]]:
    """A provider holding the modem's port, and what it handed on (inbound SMS, delivery reports)."""
    provider = ModemProvider(None, port=sim.path, pin=PIN)
    events: list[object] = []
    provider.on_events = events.extend
    await provider.async_start()
    await wait_for(lambda: provider.connected)
    yield provider, events
    await provider.async_stop()


async def test_validate_sets_the_modem_up_without_sending(sim: ModemSimulator) -> None:
    """The check unlocks the SIM, chooses PDU mode and asks for +CMTI and +CDS; no SMS is sent."""
    info = await ModemProvider(None, port=sim.path, pin=PIN).async_validate()
    assert info.unique_id == f"modem:{sim.path}"
    assert sim.pin_entered
    assert sim.pdu_mode
    assert sim.cnmi == (2, 1, 0, 1, 0)
    assert sim.messages == []


@pytest.mark.parametrize(
    ("text", "encoding", "parts"),
    [
        ("Grüße aus München: Keller nass", "gsm7", 1),
        ("Příliš žluťoučký kůň 🚨", "ucs2", 1),
        ("Pump failure in hall 3, level critical. " * 10, "gsm7", 3),
    ],
)
async def test_send_gsm7_ucs2_and_three_parts(
    sim: ModemSimulator, linked: tuple[ModemProvider, list[object]], text: str, encoding: str, parts: int
) -> None:
    """Each text arrives whole, in its alphabet and number of parts, once."""
    provider, _ = linked
    [receipt] = await provider.async_send(OutboundSms(text=text), [TARGET])
    assert receipt.outcome is Outcome.SENT
    [message] = sim.messages
    assert (message.to, message.text) == (NUMBER, text)
    assert message.options["encoding"] == encoding
    assert message.options["parts"] == parts
    assert message.options["status_report"] is True
    references = message.options["references"]
    assert receipt.message_id is not None
    assert receipt.message_id.endswith("-" + ".".join(map(str, references)))


@pytest.mark.parametrize(
    ("code", "outcome", "key"),
    [
        (42, Outcome.TRANSIENT, "network_busy"),  # congestion
        (1, Outcome.TARGET, "target_rejected"),  # unassigned number
        (330, Outcome.CONFIG, "smsc_unknown"),  # SMSC address unknown
        (331, Outcome.TRANSIENT, "no_network"),
        (500, Outcome.TRANSIENT, "modem_error"),  # unknown: retried a few times only
    ],
)
async def test_cms_errors_are_classified(
    sim: ModemSimulator, linked: tuple[ModemProvider, list[object]], code: int, outcome: Outcome, key: str
) -> None:
    """A +CMS ERROR after the PDU is transient, a refused target or an entry problem, as its code says."""
    provider, _ = linked
    sim.refuse(code)
    [receipt] = await provider.async_send(OutboundSms(text="Disk full"), [TARGET])
    assert (receipt.outcome, receipt.error_key) == (outcome, key)
    assert f"+CMS ERROR: {code}" in (receipt.error or "")
    assert receipt.max_attempts == (3 if code == 500 else None)
    assert sim.messages == []
    # The session is still in step: the next send goes through
    [receipt] = await provider.async_send(OutboundSms(text="Disk full"), [TARGET])
    assert receipt.outcome is Outcome.SENT


def test_verbose_and_unknown_errors() -> None:
    """Text errors (AT+CMEE=2) are read by their words; RP causes not listed are transient."""
    assert classify(AtError("CME", None, "SIM PIN required"), doing="x").key == "sim_pin_required"
    assert classify(AtError("CME", None, "SIM not inserted"), doing="x").key == "no_sim"
    assert isinstance(classify(AtError("CMS", 17), doing="x"), TransientError)
    assert classify(AtError("ERROR"), doing="x").outcome is Outcome.TRANSIENT


async def test_pin_missing_wrong_and_never_retried(sim: ModemSimulator) -> None:
    """No PIN or a wrong one is an auth error; a refused PIN is not entered again (three tries lock the SIM)."""
    with pytest.raises(AuthError) as missing:
        await ModemProvider(None, port=sim.path).async_validate()
    assert missing.value.key == "sim_pin_required"
    provider = ModemProvider(None, port=sim.path, pin="0000")
    with pytest.raises(AuthError) as wrong:
        await provider.async_validate()
    assert wrong.value.key == "wrong_pin"
    sim.pin = "0000"  # were it entered again, it would now pass
    with pytest.raises(AuthError, match="refused this PIN before"):
        await provider.async_validate()
    assert not sim.pin_entered
    assert "0000" not in str(wrong.value)


async def test_no_sim_is_an_entry_problem(sim: ModemSimulator) -> None:
    """A modem without SIM: the entry cannot send until someone acts (a repair issue)."""
    sim.inject(ModemFault.NO_SIM)
    with pytest.raises(EntryRejectedError) as err:
        await ModemProvider(None, port=sim.path, pin=PIN).async_validate()
    assert err.value.key == "no_sim"


async def test_no_port_and_no_answer(sim: ModemSimulator, tmp_path: object) -> None:
    """A path that is no port: no_port; a port where nothing answers AT: no_answer."""
    with pytest.raises(TransientError) as missing:
        await ModemProvider(None, port="/dev/serial/by-id/usb-no-such-modem").async_validate()
    assert missing.value.key == "no_port"
    mute = MemoryWire(lambda _kind, _text: asyncio.sleep(0))
    await mute.start()
    mute.echo = False
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(modem_api, "async_open_port", _memory_opener)
            with pytest.raises(TransientError) as silent:
                await ModemProvider(None, port=mute.port).async_validate()
    finally:
        await mute.stop()
    assert silent.value.key == "no_answer"


async def _memory_opener(port: str, baudrate: int) -> tuple[object, object]:
    """Open a memory port (for a port no simulator answers on)."""
    return MemoryWire.wires[port].open_host()


async def test_inbound_sms_is_read_joined_and_deleted(
    sim: ModemSimulator, linked: tuple[ModemProvider, list[object]]
) -> None:
    """+CMTI: the stored parts are read (AT+CMGR), joined, handed on once, and deleted (AT+CMGD)."""
    provider, events = linked
    text = "ACK #12 " * 30
    sim.deliver("+491709999999", text)
    await wait_for(lambda: bool(events) and not sim.inbox)
    await provider.inbound.async_idle()
    [sms] = events
    assert isinstance(sms, InboundSms)
    assert (sms.sender, sms.text) == ("+491709999999", text)


@pytest.mark.parametrize("chatter", ["huawei", "sim800", "call"])
async def test_what_a_modem_writes_unasked_breaks_neither_a_send_nor_a_reading(
    sim: ModemSimulator, linked: tuple[ModemProvider, list[object]], chatter: str
) -> None:
    """Lines real modems write unasked in the middle of answers break neither a send nor a reading.

    A Huawei stick's ^RSSI, a SIM800's +CREG: 1 and SMS Ready, a caller ringing and hanging up (RING, NO
    CARRIER; this integration never dials). A send goes out once and is reported sent; an SMS that arrives is
    read and handed on, then deleted. Before, a NO CARRIER failed the send (it went, and was sent again), and a
    line before +CMGR's PDU was read as the PDU: the reply was deleted unread.
    """
    provider, events = linked
    assert sim.chat(chatter)
    [receipt] = await provider.async_send(OutboundSms(text="Water in the cellar"), [TARGET])
    assert receipt.outcome is Outcome.SENT, receipt
    assert [message.text for message in sim.messages] == ["Water in the cellar"]
    sim.deliver("+491709999999", "ACK 17")
    await wait_for(lambda: bool([event for event in events if isinstance(event, InboundSms)]) and not sim.inbox)
    await provider.inbound.async_idle()
    assert [event.text for event in events if isinstance(event, InboundSms)] == ["ACK 17"]


async def test_messages_stored_while_away_are_read_at_link_up(sim: ModemSimulator) -> None:
    """SMS that arrived while nobody listened are read with AT+CMGL when the port opens."""
    sim.cnmi = (2, 1, 0, 0, 0)
    sim.deliver("+491709999999", "Reply while away")
    provider = ModemProvider(None, port=sim.path, pin=PIN)
    events: list[object] = []
    provider.on_events = events.extend
    await provider.async_start()
    try:
        await wait_for(lambda: bool(events) and not sim.inbox)
    finally:
        await provider.async_stop()
    assert [getattr(event, "text", None) for event in events] == ["Reply while away"]


@pytest.mark.parametrize(("status", "state"), [(0x00, "DELIVERED"), (0x41, "FAILED")])
async def test_status_reports_become_delivery_reports(
    sim: ModemSimulator, linked: tuple[ModemProvider, list[object]], status: int, state: str
) -> None:
    """+CDS for every part: delivered once all are; failed at the first failed part; one report per message."""
    provider, events = linked
    sim.report_status = status
    [receipt] = await provider.async_send(OutboundSms(text="x" * 200), [TARGET])
    await wait_for(lambda: bool(events))
    await asyncio.sleep(0.2)  # the second part's report comes too
    assert events == [DeliveryReport(id=receipt.message_id or "", to=NUMBER, state=state)]


async def test_a_report_before_the_last_part_is_sent_waits_for_it(
    sim: ModemSimulator, linked: tuple[ModemProvider, list[object]]
) -> None:
    """A quick SMS centre reports the first part while the second is still being sent: one report, for the message."""
    provider, events = linked
    sim.report_delay = 0.0
    sim.send_delay = 0.2
    [receipt] = await provider.async_send(OutboundSms(text="x" * 200), [TARGET])
    await wait_for(lambda: bool(events))
    await asyncio.sleep(0.2)
    assert receipt.message_id is not None
    assert receipt.message_id.count(".") == 1  # both parts' references
    assert events == [DeliveryReport(id=receipt.message_id, to=NUMBER, state="DELIVERED")]


async def test_unplug_in_a_send_then_replug_recovers(
    sim: ModemSimulator, linked: tuple[ModemProvider, list[object]]
) -> None:
    """Pulled out mid-send: transient (a duplicate is possible); the link reopens the port once it is back."""
    provider, _ = linked
    links: list[bool] = []
    provider.on_link = lambda up, _err: links.append(up)
    sim.inject(ModemFault.UNPLUG)
    [receipt] = await provider.async_send(OutboundSms(text="Door open"), [TARGET])
    assert (receipt.outcome, receipt.error_key) == (Outcome.TRANSIENT, "port_closed")
    assert "duplicate is possible" in (receipt.error or "")
    await wait_for(lambda: False in links)
    [receipt] = await provider.async_send(OutboundSms(text="Door open"), [TARGET])
    assert receipt.outcome is Outcome.TRANSIENT
    port = await sim.replug()
    assert provider.port in (port, sim.wire.port)
    await wait_for(lambda: provider.connected)
    assert links[-1] is True
    [receipt] = await provider.async_send(OutboundSms(text="Door open"), [TARGET])
    assert receipt.outcome is Outcome.SENT
    assert [message.text for message in sim.messages] == ["Door open"]


class _Writer:
    """A writer that keeps what was written."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    async def drain(self) -> None:
        return

    def close(self) -> None:
        return


async def test_session_sorts_echo_prompt_and_unsolicited_lines() -> None:
    """Echo is skipped, +CMTI and the two-line +CDS go to the handler, answers to the command in flight."""
    reader = asyncio.StreamReader()
    writer = _Writer()
    codes: list[Unsolicited] = []
    session = AtSession(reader, writer, on_unsolicited=codes.append)
    session.start()
    answer = asyncio.ensure_future(session.command("AT+CSQ"))
    await asyncio.sleep(0)
    reader.feed_data(b'AT+CSQ\r\r\n+CMTI: "SM",4\r\n\r\n+CSQ: 17,99\r\n+CDS: 6\r\n0011AA\r\n\r\nOK\r\n')
    lines = await answer
    await session.close()
    written = writer.written
    assert lines == ["+CSQ: 17,99"]
    assert codes == [Unsolicited(name="+CMTI", args='"SM",4'), Unsolicited(name="+CDS", args="6", pdu="0011AA")]
    assert written == [b"AT+CSQ\r"]


async def test_a_modem_left_waiting_for_a_pdu_is_set_up(sim: ModemSimulator) -> None:
    """Home Assistant stopped after the `> ` prompt: the ESC written first ends the PDU input, and the setup works."""
    sim.wire.expect_pdu()  # as after AT+CMGS=<length> and the prompt
    await ModemProvider(None, port=sim.path, pin=PIN).async_validate()
    assert sim.pdu_mode
    assert sim.pin_entered


async def test_an_sms_arriving_while_stored_ones_are_listed_is_handed_on_once(sim: ModemSimulator) -> None:
    """Listed by AT+CMGL and announced by +CMTI at the same time: one event, and the SIM ends empty."""
    provider = ModemProvider(None, port=sim.path, pin=PIN)
    events: list[object] = []
    provider.on_events = events.extend
    original = provider.inbound.read_stored

    def listing_meets_an_arrival() -> None:
        original()
        sim.deliver("+491709999999", "Arrived while listing")

    provider.inbound.read_stored = listing_meets_an_arrival  # type: ignore[method-assign]
    await provider.async_start()
    try:
        await wait_for(lambda: bool(events) and not sim.inbox)
        await provider.inbound.async_idle()
    finally:
        await provider.async_stop()
    assert [getattr(event, "text", None) for event in events] == ["Arrived while listing"]
