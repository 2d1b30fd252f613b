"""A modem that waits for AT+CNMA after what it shows (+CMT, +CDS), and one that stopped announcing.

TS 27.005: with message service 1 (AT+CSMS) the modem waits for AT+CNMA after each +CMT and +CDS, and without one
in time sets <mt> and <ds> of AT+CNMI to 0 (a Maxon modem's manual quotes the text; a Motorola G24's says 60 s,
then the report is stored and <ds> is 0). Before, nothing asked for service 0 or sent AT+CNMA: a modem left at
service 1 announced the first status report and then nothing, so replies that acknowledge alerts were never read,
and nothing said so.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncGenerator

import pytest

from custom_components.sms_alerts.api.base import (
    OutboundSms,
    Outcome,
    ProviderError,
    Target,
    TargetKind,
    TransientError,
)
from custom_components.sms_alerts.api.ipex_webhook import DeliveryReport, InboundSms
from custom_components.sms_alerts.api.modem import ModemProvider
from custom_components.sms_alerts.api.modem_at import AtError
from custom_components.sms_alerts.api.modem_indications import (
    announcements_dropped,
    async_keep_announcing,
    async_message_service,
)
from simulators.modem import ModemSimulator

from .modem_helpers import TRANSPORTS, TablePort, quick_link, running_modem, wait_for

TARGET = Target(kind=TargetKind.NUMBER, value="+491701234567")
PIN = "4711"
SENDER = "+491709999999"
# Seconds the simulated modem waits for AT+CNMA (a real one: up to the network's limit, a G24 60 s)
ACK_TIMEOUT = 0.3


@pytest.fixture(params=TRANSPORTS)
async def sim(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncGenerator[ModemSimulator]:
    """A modem left at message service 1 (by another program), that waits ACK_TIMEOUT for AT+CNMA."""
    quick_link(monkeypatch)
    async with running_modem(request.param, monkeypatch, pin=PIN) as modem:
        modem.memory.csms = 1
        modem.ack_timeout = ACK_TIMEOUT
        yield modem


async def linked(sim: ModemSimulator, events: list[object]) -> ModemProvider:
    """Start a provider on the modem's port; what it hands on goes to `events`."""
    provider = ModemProvider(None, port=sim.path, pin=PIN)
    provider.on_events = events.extend
    await provider.async_start()
    await wait_for(lambda: provider.connected)
    await provider.inbound.async_idle()
    return provider


async def report_then_reply(sim: ModemSimulator, provider: ModemProvider, events: list[object]) -> None:
    """Send an SMS (its report comes as +CDS); once the modem's wait for AT+CNMA is over, a reply arrives."""
    [receipt] = await provider.async_send(OutboundSms(text="UPS on battery"), [TARGET])
    assert receipt.outcome is Outcome.SENT, receipt
    await wait_for(lambda: any(isinstance(event, DeliveryReport) for event in events))
    await wait_for(lambda: not sim.memory.unacknowledged)
    await asyncio.sleep(ACK_TIMEOUT * 2)  # real time: the modem's timer runs on the event loop
    sim.deliver(SENDER, "ACK 12")
    await wait_for(lambda: any(isinstance(event, InboundSms) for event in events))
    await provider.inbound.async_idle()


@pytest.mark.parametrize(
    ("services", "kept"),
    [(frozenset({0, 1}), 0), (frozenset({1}), 1)],
    ids=["service_0_taken", "service_1_only"],
)
async def test_a_modem_left_at_service_1_keeps_announcing(
    sim: ModemSimulator, services: frozenset[int], kept: int
) -> None:
    """AT+CSMS=0 at setup, so the modem acknowledges its reports itself; one with service 1 only gets AT+CNMA.

    Either way the report is not left unacknowledged, and the reply after it is still announced.
    """
    sim.memory.profile = dataclasses.replace(sim.memory.profile, services=services)
    events: list[object] = []
    provider = await linked(sim, events)
    try:
        assert sim.memory.csms == kept
        await report_then_reply(sim, provider, events)
    finally:
        await provider.async_stop()
    assert sim.cnmi == (2, 1, 0, 1, 0)
    assert sim.memory.slots["SR"] == {}


async def test_announcements_the_modem_dropped_are_asked_for_again(
    sim: ModemSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The periodic status read finds <mt> and <ds> at 0: the setting is made again, and what was stored is read."""
    events: list[object] = []
    provider = await linked(sim, events)
    try:
        sim.cnmi = (2, 0, 0, 0, 0)  # as after an AT+CNMA that never came
        sim.deliver(SENDER, "ACK 12")  # stored, not announced
        assert sim.inbox
        await provider.async_signal()
        await wait_for(lambda: any(isinstance(event, InboundSms) for event in events))
        await provider.inbound.async_idle()
        assert sim.cnmi == (2, 1, 0, 1, 0)
        assert not sim.inbox
        assert caplog.text.count("stopped announcing received SMS and status reports; asked again") == 1
        # Read again with nothing dropped: nothing more is said or done
        await provider.async_signal()
    finally:
        await provider.async_stop()
    assert caplog.text.count("stopped announcing") == 1


@pytest.mark.parametrize(
    ("setting", "answer", "dropped"),
    [
        ("AT+CNMI=2,1,0,1,0", "+CNMI: 2,0,0,0,0", True),
        ("AT+CNMI=2,1,0,1,0", "+CNMI: 2,1,0,0,0", True),
        ("AT+CNMI=2,1,0,1,0", "+CNMI: 2,1,0,1,0", False),
        ("AT+CNMI=2,1,0,2", "+CNMI: 2,1,0,2,1", False),
        ("AT+CNMI=2,1", "+CNMI: 2,1,0,0,0", False),  # <ds> was not asked for
        ("AT+CNMI=2,1,0,1,0", "+CNMI: 2,2,0,1,0", False),  # changed, not dropped
        ("AT+CNMI=2,1,0,1,0", "ERROR", False),
    ],
)
def test_dropped_announcements_are_told_from_the_answer(setting: str, answer: str, dropped: bool) -> None:
    """<mt> or <ds> asked for and now 0."""
    assert announcements_dropped(setting, [answer]) is dropped


class Session:
    """An AT session answering from a table: lines, or AtError for a refusal."""

    def __init__(self, answers: dict[str, list[str] | AtError]) -> None:
        """Answer from `answers`; other commands get no lines."""
        self.answers = answers

    async def command(self, line: str) -> list[str]:
        """Answer one command."""
        answer = self.answers.get(line, [])
        if isinstance(answer, AtError):
            raise answer
        return answer


@pytest.mark.parametrize(
    ("answers", "acknowledging"),
    [
        ({"AT+CSMS?": ["+CSMS: 0,1,1,1"]}, False),
        ({"AT+CSMS=0": AtError("ERROR"), "AT+CSMS?": ["+CSMS: 1,1,1,1"]}, True),
        ({"AT+CSMS=0": AtError("ERROR"), "AT+CSMS?": AtError("ERROR")}, True),
        ({"AT+CSMS?": []}, True),
    ],
    ids=["service_0", "service_1_kept", "no_answer", "no_line"],
)
async def test_acknowledgements_follow_the_message_service(
    answers: dict[str, list[str] | AtError], acknowledging: bool
) -> None:
    """AT+CNMA is sent where the modem keeps service 1 or does not say which it has."""
    assert await async_message_service(Session(answers)) is acknowledging  # type: ignore[arg-type]


async def test_an_acknowledgement_the_modem_did_not_expect_changes_nothing(
    sim: ModemSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A modem that did not say its service gets AT+CNMA; with service 0 it answers +CMS ERROR: 340, a debug line."""
    caplog.set_level(logging.DEBUG, logger="custom_components.sms_alerts.api.modem_inbound")
    events: list[object] = []
    provider = await linked(sim, events)
    try:
        assert sim.memory.csms == 0
        provider.inbound.acknowledging = True
        [receipt] = await provider.async_send(OutboundSms(text="UPS on battery"), [TARGET])
        assert receipt.outcome is Outcome.SENT
        await wait_for(lambda: "AT+CNMA not taken" in caplog.text)
        await provider.inbound.async_idle()
    finally:
        await provider.async_stop()
    assert [type(event) for event in events] == [DeliveryReport]
    assert "+CMS ERROR: 340" in caplog.text


@pytest.mark.parametrize(
    ("setting", "table", "asked_again", "warnings"),
    [
        (None, {}, False, 0),
        ("AT+CNMI=2,1,0,1,0", {"AT+CNMI?": TransientError("reading: no answer", key="no_answer")}, False, 0),
        ("AT+CNMI=2,1,0,1,0", {"AT+CNMI?": ["+CNMI: 2,1,0,1,0"]}, False, 0),
        ("AT+CNMI=2,1,0,1,0", {"AT+CNMI?": ["+CNMI: 2,0,0,0,0"]}, True, 1),
        (
            "AT+CNMI=2,1,0,1,0",
            {"AT+CNMI?": ["+CNMI: 2,0,0,0,0"], "AT+CNMI=2,1,0,1,0": TransientError("asking: ERROR", key="x")},
            False,
            2,
        ),
    ],
    ids=["none_made", "unreadable", "kept", "dropped", "refused_again"],
)
async def test_keeping_the_announcements(
    setting: str | None,
    table: dict[str, list[str] | ProviderError],
    asked_again: bool,
    warnings: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only a setting made and found dropped is asked for again; a refusal is a second warning, nothing raises."""
    port = TablePort(table)
    assert await async_keep_announcing(port.async_command, setting, "/dev/ttyUSB2") is asked_again
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == warnings
    assert port.asked == ([] if setting is None else ["AT+CNMI?", *([setting] if warnings else [])])
