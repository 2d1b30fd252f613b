"""Modems whose settings differ from the simulator's first one: which storage is read, and which AT+CNMI is taken.

The `mc75i` profile answers as a Cinterion MC75i does in gammu's logs (issue 1206, pull request 1207): it reads
from its own memory ("ME") while received SMS go to the SIM ("SM"), takes no status report shown at once
(<ds> 1) and only <bfr> 1, and refuses `AT+CNMI=2,1,0,2,0` with +CMS ERROR: 538. Before, such a modem was
given none of the fixed AT+CNMI settings (it announced nothing it received: no reply acknowledged an alert,
no delivery report came), and an SMS announced in one storage was looked for in another (+CMS ERROR: 321, as
serialport-gsm issue 92 shows for `+CMTI: "ME",67`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncGenerator

import aiohttp
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
from custom_components.sms_alerts.api.modem_indications import (
    FIXED_SETTINGS,
    best_setting,
    parse_ranges,
    settings_to_try,
)
from custom_components.sms_alerts.api.modem_storage import (
    StorageChoice,
    UnknownStorageError,
    parse_indication,
    parse_preferred,
)
from custom_components.sms_alerts.api.pdu import encode_deliver
from simulators.modem import ModemSimulator
from simulators.modem_memory import PROFILES

from .conftest import serving
from .modem_helpers import TRANSPORTS, TablePort, quick_link, running_modem, wait_for

NUMBER = "+491701234567"
TARGET = Target(kind=TargetKind.NUMBER, value=NUMBER)
PIN = "4711"
SENDER = "+491709999999"
TEXTS = ["Arrived on the SIM", "Kept in the modem"]


@pytest.fixture(params=TRANSPORTS)
async def mc75i(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncGenerator[ModemSimulator]:
    """A Cinterion MC75i whose SIM wants PIN 4711."""
    quick_link(monkeypatch)
    async with running_modem(request.param, monkeypatch, pin=PIN, profile="mc75i") as modem:
        yield modem


@pytest.fixture
async def linked(mc75i: ModemSimulator) -> AsyncGenerator[tuple[ModemProvider, list[object]]]:
    """A provider holding the modem's port (its listing at link time done), and what it handed on."""
    provider = ModemProvider(None, port=mc75i.path, pin=PIN)
    events: list[object] = []
    provider.on_events = events.extend
    await provider.async_start()
    await wait_for(lambda: provider.connected)
    await provider.inbound.async_idle()
    yield provider, events
    await provider.async_stop()


# Against the simulated MC75i ------------------------------------------------------------------------------------


async def test_a_modem_refusing_the_fixed_settings_gets_one_it_lists(
    mc75i: ModemSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """AT+CNMI=? is asked first: the best setting within its lists is taken, and nothing is said to be missing."""
    await ModemProvider(None, port=mc75i.path, pin=PIN).async_validate()
    assert mc75i.cnmi == (2, 1, 0, 2, 1)
    assert "announces no inbound SMS" not in caplog.text


async def test_an_sms_is_read_in_the_storage_its_announcement_names(
    mc75i: ModemSimulator, linked: tuple[ModemProvider, list[object]]
) -> None:
    """Each announcement's storage is chosen before its SMS is read and deleted there, one after the other.

    An SMS kept in the modem's memory is announced (+CMTI: "ME",n), then one arrives on the SIM (+CMTI: "SM",n,
    the same index): each is read where it is.
    """
    provider, events = linked
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0)
    slot = mc75i.memory.store("ME", encode_deliver(SENDER, "Kept in the modem", timestamp=stamp).hex)
    mc75i.wire.write(f'\r\n+CMTI: "ME",{slot}\r\n')
    await wait_for(lambda: len(events) == 1 and not mc75i.memory.slots["ME"])
    assert mc75i.memory.mem[0] == "ME"
    mc75i.deliver(SENDER, "Arrived on the SIM")
    await wait_for(lambda: len(events) == len(TEXTS) and not mc75i.inbox)
    await provider.inbound.async_idle()
    assert [(event.sender, event.text) for event in events if isinstance(event, InboundSms)] == [
        (SENDER, "Kept in the modem"),
        (SENDER, "Arrived on the SIM"),
    ]
    assert mc75i.memory.mem[0] == "SM"


async def test_a_stored_status_report_is_read_and_deleted(
    mc75i: ModemSimulator, linked: tuple[ModemProvider, list[object]]
) -> None:
    """<ds> 2: the report is stored and announced (+CDSI), read where it is, made a delivery report, deleted."""
    provider, events = linked
    [receipt] = await provider.async_send(OutboundSms(text="Freezer warm"), [TARGET])
    assert receipt.outcome is Outcome.SENT, receipt
    await wait_for(lambda: any(isinstance(event, DeliveryReport) for event in events))
    await provider.inbound.async_idle()
    [report] = [event for event in events if isinstance(event, DeliveryReport)]
    assert (report.id, report.state) == (receipt.message_id, "DELIVERED")
    assert mc75i.memory.slots["SM"] == {}


async def test_messages_stored_while_away_are_read_from_each_storage(mc75i: ModemSimulator) -> None:
    """At link time the storage read now and the one SMS arrive in are both listed (AT+CPMS? names them)."""
    mc75i.cnmi = (0, 0, 0, 0, 1)  # nobody listens: stored, not announced
    mc75i.deliver(SENDER, "Arrived on the SIM")
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0)
    mc75i.memory.store("ME", encode_deliver(SENDER, "Kept in the modem", timestamp=stamp).hex)
    provider = ModemProvider(None, port=mc75i.path, pin=PIN)
    events: list[object] = []
    provider.on_events = events.extend
    await provider.async_start()
    try:
        await wait_for(lambda: len(events) == len(TEXTS))
        await provider.inbound.async_idle()
    finally:
        await provider.async_stop()
    assert sorted(getattr(event, "text", "") for event in events) == TEXTS
    assert mc75i.memory.slots["SM"] == mc75i.memory.slots["ME"] == {}


async def test_a_storage_the_modem_will_not_read_leaves_the_message_with_a_warning(
    mc75i: ModemSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Status reports kept where the modem cannot read them (a Huawei MU509's "SR"): a warning, nothing else breaks."""
    mc75i.memory.profile = dataclasses.replace(PROFILES["mc75i"], reports="SR")
    mc75i.memory.slots["SR"] = {}
    provider = ModemProvider(None, port=mc75i.path, pin=PIN)
    events: list[object] = []
    provider.on_events = events.extend
    await provider.async_start()
    try:
        await wait_for(lambda: provider.connected)
        [receipt] = await provider.async_send(OutboundSms(text="Freezer warm"), [TARGET])
        assert receipt.outcome is Outcome.SENT
        await wait_for(lambda: "could not be read" in caplog.text)
        # Another SMS is still read where it is
        mc75i.deliver(SENDER, "ACK 1")
        await wait_for(lambda: any(isinstance(event, InboundSms) for event in events))
    finally:
        await provider.async_stop()
    assert "SMS 1 among the stored status reports could not be read" in caplog.text
    assert len(mc75i.memory.slots["SR"]) == 1


async def test_an_announcement_naming_an_unknown_storage_is_not_read(
    mc75i: ModemSimulator, linked: tuple[ModemProvider, list[object]], caplog: pytest.LogCaptureFixture
) -> None:
    """Which message `+CMTI: "XY",3` means cannot be told: one warning, no read, no delete."""
    provider, events = linked
    mc75i.wire.write('\r\n+CMTI: "XY",3\r\n')
    await wait_for(lambda: "names a storage it does not know" in caplog.text)
    await provider.inbound.async_idle()
    assert events == []
    assert "could not be read" not in caplog.text


# What is read from the modem's answers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ('"SM",3', ("SM", 3)),
        ('"me", 12', ("ME", 12)),
        ("SR,1", ("SR", 1)),
        ("3", (None, 3)),
        (",-1", None),  # a SIM7000G's +CMTI: ,-1 (stored nowhere)
        ('"SM",', None),
        ('"SM",٣', None),
    ],
)
def test_an_indication_gives_its_storage_and_index(args: str, expected: tuple[str | None, int] | None) -> None:
    """+CMTI / +CDSI: the storage, when named, and the index; no index, no message."""
    assert parse_indication(args) == expected


def test_an_indication_naming_a_storage_27_005_does_not_know_is_refused() -> None:
    """Only BM, ME, MT, SM, TA and SR are storages."""
    with pytest.raises(UnknownStorageError):
        parse_indication('"XY",3')


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (['+CPMS: "ME",0,25,"ME",0,25,"SM",0,20'], ("ME", "SM")),
        (['+CPMS: "SM",0,20,"SM",0,20,"SM",0,20'], ("SM", "SM")),
        (['+CPMS: "SM",3,30'], ("SM", None)),
        (["+CPMS: 0,25,0,25,0,20"], None),
        ([], None),
    ],
)
def test_the_preferred_storages_are_read(lines: list[str], expected: tuple[str, str | None] | None) -> None:
    """AT+CPMS?: <mem1> and <mem3>."""
    assert parse_preferred(lines) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # Cinterion MC75i (gammu issue 1206)
        ("+CNMI: (0-3),(0,1),(0,2,3),(0,2),(1)", "AT+CNMI=2,1,0,2,1"),
        # 27.005's full ranges
        ("+CNMI: (0-3),(0-3),(0-3),(0-2),(0,1)", "AT+CNMI=2,1,0,1,0"),
        # Only four fields listed: <bfr> is left to the modem
        ("+CNMI: (0-2),(0-3),(0,2),(0-2)", "AT+CNMI=2,1,0,1"),
        # No storing: received SMS shown at once
        ("+CNMI: (0,1),(0,2),(0),(0,1),(0,1)", "AT+CNMI=1,2,0,1,0"),
        # No cell broadcast off: the setting stops before <bm>
        ("+CNMI: (2),(1),(2),(1),(0)", "AT+CNMI=2,1"),
    ],
)
def test_the_best_setting_within_the_lists_is_chosen(line: str, expected: str) -> None:
    """Per field the best value the modem takes: mode 2, +CMTI, no broadcasts, +CDS (else +CDSI), flush."""
    ranges = parse_ranges([line])
    assert ranges is not None
    assert best_setting(ranges) == expected


@pytest.mark.parametrize(
    "lines",
    [
        ["+CNMI: (0-3),(0),(0),(0),(0)"],  # it can announce nothing it receives
        ["+CNMI: (0-3),(a),(0),(0),(0)"],
        ["+CNMI: (0-99999),(1),(0),(0),(0)"],
        ["+CNMI: 2,1,0,1,0"],  # the answer to AT+CNMI?, not to AT+CNMI=?
        [],
    ],
)
def test_an_unusable_list_leaves_the_fixed_settings(lines: list[str]) -> None:
    """Nothing worth choosing in the answer: the fixed settings are tried in turn, as without AT+CNMI=?."""
    assert settings_to_try(lines) == list(FIXED_SETTINGS)


def test_the_chosen_setting_comes_first_and_once() -> None:
    """The fixed settings follow the chosen one, without it."""
    chosen = settings_to_try(["+CNMI: (0-3),(0-3),(0-3),(0-2),(0,1)"])
    assert chosen == list(FIXED_SETTINGS)
    assert settings_to_try(None) == list(FIXED_SETTINGS)
    assert settings_to_try(["+CNMI: (0-3),(0,1),(0,2,3),(0,2),(1)"]) == ["AT+CNMI=2,1,0,2,1", *FIXED_SETTINGS]


@pytest.mark.parametrize(
    ("answer", "expected", "current"),
    [
        (['+CPMS: "ME",0,25,"ME",0,25,"SM",0,20'], ["ME", "SM"], "ME"),
        (['+CPMS: "SM",0,20,"SM",0,20,"SM",0,20'], ["SM"], "SM"),
        (["+CPMS: 0,25,0,25,0,20"], [None], None),
        (TransientError("reading the message storages: the modem answered ERROR"), [None], None),
    ],
    ids=["two", "one", "unreadable", "refused"],
)
async def test_the_storages_listed_at_link_time(
    answer: list[str] | ProviderError, expected: list[str | None], current: str | None
) -> None:
    """AT+CPMS? names where to list: the storage read now and the one SMS arrive in; without it, where it reads now."""
    choice = StorageChoice(TablePort({"AT+CPMS?": answer}))
    assert await choice.async_to_list() == expected
    assert choice.current == current


async def test_a_storage_is_chosen_only_when_it_changes() -> None:
    """AT+CPMS="…" only for a storage other than the one chosen last; forgotten when the link opens again."""
    port = TablePort({})
    choice = StorageChoice(port)
    for storage in (None, "SM", "SM", "SR", "SR"):
        await choice.async_choose(storage)
    assert port.asked == ['AT+CPMS="SM"', 'AT+CPMS="SR"']
    choice.forget()
    await choice.async_choose("SR")
    assert port.asked[-1] == 'AT+CPMS="SR"'


def test_other_lines_before_the_lists_are_passed_over() -> None:
    """A line a modem writes unasked before its +CNMI: lists is not read as them."""
    assert settings_to_try(["^RSSI: 17", "+CNMI: (0-3),(0,1),(0,2,3),(0,2),(1)"])[0] == "AT+CNMI=2,1,0,2,1"


async def test_the_controls_plug_in_another_model(socket_enabled: None) -> None:
    """POST /_sim/modem?profile=…: another model is plugged in (its identity, storages, settings); unknown ones 400."""
    modem = ModemSimulator(memory=True)
    await modem.start()
    try:
        async with serving(modem) as running, aiohttp.ClientSession() as session:
            for query, status in (
                ("profile=nokia", 400),
                ("chatter=loud", 400),
                ("fault=melted", 400),
                ("profile=mc75i", 200),
            ):
                async with session.post(f"{running.url}/_sim/modem?{query}") as resp:
                    assert resp.status == status, query
            async with session.post(f"{running.url}/_sim/inbound?from=%2B491709999999") as resp:
                assert resp.status == 400
        assert modem.identity["+CGMM"] == "MC75i"
        assert modem.memory.mem == ["ME", "ME", "SM"]
    finally:
        await modem.stop()
