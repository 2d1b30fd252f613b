"""The outbox's pure parts on their own: lifecycle, settings, policy, answers, memory, composition, stored form."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import aiohttp
import pytest

from custom_components.sms_alerts.api.base import Outcome, Receipt, Target, TargetKind
from custom_components.sms_alerts.api.brevisone import BrevisOneProvider
from custom_components.sms_alerts.api.wildix import WildixProvider
from custom_components.sms_alerts.const import RETRY_INITIAL, RETRY_JITTER
from custom_components.sms_alerts.message import prepare
from custom_components.sms_alerts.outbox import lifecycle
from custom_components.sms_alerts.outbox.compose import Composer
from custom_components.sms_alerts.outbox.dispatch import Verdict as AnswerVerdict
from custom_components.sms_alerts.outbox.dispatch import interpret, outbound
from custom_components.sms_alerts.outbox.lifecycle import DONE, HELD, QUEUED, InvalidTransitionError, ItemState
from custom_components.sms_alerts.outbox.memory import REFERENCE_MEMORY, SENT_MEMORY, Memory
from custom_components.sms_alerts.outbox.models import OPTION_NAMES, Block, QueuedItem, SendOptions, SendStatus
from custom_components.sms_alerts.outbox.policy import Policy
from custom_components.sms_alerts.outbox.settings import OutboxSettings
from custom_components.sms_alerts.services import OPTIONS_SCHEMA
from custom_components.sms_alerts.storm import StormSettings, Verdict

from .module_imports import PACKAGE, imports

# The parts that decide without Home Assistant, and what they import
PURE = ("lifecycle", "models", "settings", "compose", "policy", "memory", "dispatch")
NUMBER = Target(kind=TargetKind.NUMBER, value="+491701234567")
BERLIN = dt.timezone(dt.timedelta(hours=1))


def item(
    text: str = "Freezer warm",
    *,
    severity: str = "warning",
    parts: int = 1,
    options: SendOptions | None = None,
    **kwargs: object,
) -> QueuedItem:
    """A new item to the test number."""
    return QueuedItem(
        id=f"id-{text}",
        message_id="m",
        text=text,
        target=NUMBER,
        options=options or SendOptions(),
        parts=parts,
        severity=severity,
        created=0.0,
        **kwargs,  # type: ignore[arg-type]
    )


def _modules_reached(start: Path) -> set[Path]:
    """A module and every module of ours it imports, each checked to import nothing from Home Assistant."""
    seen: set[Path] = set()
    todo = [start]
    while todo:
        path = todo.pop()
        if path in seen or (path.name == "__init__.py" and path.parent.name == "outbox"):
            continue
        seen.add(path)
        for imported in imports(path):
            if isinstance(imported, Path):
                todo.append(imported)
            else:
                assert imported != "homeassistant", f"{path.name} imports Home Assistant"
    return seen


@pytest.mark.parametrize("name", PURE)
def test_pure_parts_import_nothing_from_home_assistant(name: str) -> None:
    """The deciding parts, and every module of ours they import, run without Home Assistant."""
    seen = _modules_reached(PACKAGE / "outbox" / f"{name}.py")
    assert len(seen) > 1 or name == "lifecycle"


@pytest.mark.parametrize("path", sorted((PACKAGE / "alerts").glob("*.py")), ids=lambda path: path.stem)
def test_alert_parts_import_nothing_from_home_assistant(path: Path) -> None:
    """Reading alerts, writing their SMS, routing and escalating them run without Home Assistant."""
    assert path in _modules_reached(path)


def test_every_state_has_its_moves_and_no_way_back_from_the_end() -> None:
    """The table names every state; held states are queued; the end states lead nowhere; all else can end."""
    assert set(lifecycle.ALLOWED) == set(ItemState)
    assert HELD < QUEUED
    for state in DONE:
        assert lifecycle.ALLOWED[state] == frozenset()
    for state in set(ItemState) - DONE:
        assert lifecycle.ALLOWED[state] & {ItemState.GIVEN_UP}, state
    # Every state can be reached from a new item
    reached, todo = {ItemState.NEW}, [ItemState.NEW]
    while todo:
        for new in lifecycle.ALLOWED[todo.pop()] - reached:
            reached.add(new)
            todo.append(new)
    assert reached == set(ItemState)


def test_a_move_the_table_does_not_allow_is_refused() -> None:
    """A sent item cannot wait again; a held one cannot be sent without being released; nothing leaves the end."""
    queued = item()
    assert lifecycle.advance(queued, ItemState.IN_FLIGHT) is ItemState.NEW
    assert queued.state is ItemState.IN_FLIGHT
    lifecycle.advance(queued, ItemState.SENT)
    for new in (ItemState.WAITING, ItemState.IN_FLIGHT, ItemState.GIVEN_UP):
        with pytest.raises(InvalidTransitionError, match="sent -> "):
            lifecycle.advance(queued, new)
    held = item(state=ItemState.HELD_QUIET)
    with pytest.raises(InvalidTransitionError):
        lifecycle.advance(held, ItemState.SENT)
    assert held.state is ItemState.HELD_QUIET


def test_the_stored_form_keeps_holds_and_reads_waiting_otherwise() -> None:
    """Files of earlier versions name holds in `hold_kind`; the state comes back from it."""
    for state, kind in ((ItemState.HELD_QUIET, "quiet"), (ItemState.HELD_RATE, "throttled")):
        stored = item(state=state).to_stored()
        assert stored["hold_kind"] == kind
        assert QueuedItem.from_stored(stored).state is state
    assert item(state=ItemState.IN_FLIGHT).to_stored()["hold_kind"] is None
    assert QueuedItem.from_stored(item(state=ItemState.IN_FLIGHT).to_stored()).state is ItemState.WAITING


def test_the_send_options_are_defined_once() -> None:
    """The action's schema and the stored form follow the fields of SendOptions."""
    assert OPTION_NAMES == ("telegram", "telegram_only", "ring", "flash", "postpone", "gsm")
    assert {str(key) for key in OPTIONS_SCHEMA} == {*OPTION_NAMES, "severity"}
    options = SendOptions(ring=True, postpone=dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC))
    assert SendOptions.from_stored(options.to_stored()) == options


def test_settings_are_read_once_from_options_and_recipients() -> None:
    """Minutes and hours become seconds; quiet hours come from recipients with both times; bad times are skipped."""
    settings = OutboxSettings.read(
        {"max_age_hours": 2, "handover_minutes": 5, "rate_limit": 3, "ack_reference": True, "long_messages": "single"},
        [
            {"target": "+491701234567", "quiet_start": "22:00", "quiet_end": "07:00:00"},
            {"target": "+491709999999", "quiet_start": "nonsense", "quiet_end": "07:00"},
            {"target": "group:Oncall"},
        ],
    )
    assert (settings.max_age, settings.handover_delay) == (7200, 300)
    assert settings.storm == StormSettings(dedup_window=300, rate_limit=3, daily_budget=0)
    assert (settings.ack_reference, settings.single_sms, settings.gsm_only) == (True, True, False)
    assert settings.recipients == ("+491701234567", "+491709999999", "group:Oncall")
    assert list(settings.quiet_hours) == ["+491701234567"]
    assert settings.quiet_hours["+491701234567"].end == dt.time(7, 0)
    assert settings.fallback_entry_id is None


def test_policy_decides_holds_duplicates_and_the_budget_in_sms() -> None:
    """Quiet hours hold (critical passes), a copy is a duplicate, the budget counts parts."""
    settings = OutboxSettings.read(
        {"daily_budget": 4, "rate_limit": 0},
        [{"target": str(NUMBER), "quiet_start": "22:00", "quiet_end": "07:00"}],
    )
    policy = Policy(settings, Memory())
    night = dt.datetime(2026, 12, 6, 23, 0, tzinfo=BERLIN)
    held = policy.decide(item(), night.timestamp(), night)
    assert held is not None
    assert (held.hold, held.status, held.reason) == (ItemState.HELD_QUIET, SendStatus.QUEUED, "quiet hours until 07:00")
    assert held.until == dt.datetime(2026, 12, 7, 7, 0, tzinfo=BERLIN).timestamp()
    assert policy.decide(item(severity="critical"), night.timestamp(), night) is None
    day = dt.datetime(2026, 12, 7, 12, 0, tzinfo=BERLIN)
    now, today = day.timestamp(), day.date().isoformat()
    long_alert = item("UPS on battery", parts=3)
    assert policy.decide(long_alert, now, day) is None
    policy.note_sent(long_alert, now, today)
    copy = policy.decide(item("UPS on battery", parts=3), now + 1, day)
    assert copy is not None
    assert copy.verdict is Verdict.DEDUPLICATED
    over = policy.decide(item("Disk full", parts=2), now + 2, day)
    assert over is not None
    assert (over.verdict, over.reason) == (
        Verdict.OVER_BUDGET,
        "1 of the daily budget of 4 SMS is left; this alert needs 2",
    )


def test_an_answer_means_sent_retry_block_or_fail() -> None:
    """Each provider outcome maps onto one verdict; a transient answer with a try limit fails at the limit."""
    sent = interpret(Receipt(target=NUMBER, outcome=Outcome.SENT, message_id="42"), 0, 100.0)
    assert (sent.verdict, sent.message_id, sent.device_failed) == (AnswerVerdict.SENT, "42", False)
    retry = interpret(Receipt(target=NUMBER, outcome=Outcome.TRANSIENT, error="503"), 0, 100.0)
    assert retry.verdict is AnswerVerdict.RETRY
    assert retry.device_failed
    assert 100 + RETRY_INITIAL * (1 - RETRY_JITTER) <= retry.next_attempt <= 100 + RETRY_INITIAL * (1 + RETRY_JITTER)
    told = interpret(Receipt(target=NUMBER, outcome=Outcome.TRANSIENT, retry_after=7), 3, 100.0)
    assert told.next_attempt == 107.0
    limited = Receipt(target=NUMBER, outcome=Outcome.TRANSIENT, error="refused?", max_attempts=3)
    assert interpret(limited, 1, 0.0).verdict is AnswerVerdict.RETRY
    assert interpret(limited, 2, 0.0).verdict is AnswerVerdict.FAIL
    auth = interpret(Receipt(target=NUMBER, outcome=Outcome.AUTH, error="401"), 0, 0.0)
    assert (auth.verdict, auth.block) == (AnswerVerdict.BLOCK, Block.AUTH)
    assert interpret(Receipt(target=NUMBER, outcome=Outcome.CONFIG), 0, 0.0).block is Block.CONFIG
    target = interpret(Receipt(target=NUMBER, outcome=Outcome.TARGET, error="unknown number"), 0, 0.0)
    assert (target.verdict, target.error, target.device_failed) == (AnswerVerdict.FAIL, "unknown number", False)


def test_a_postponed_send_is_given_in_home_assistant_time() -> None:
    """An aware time is converted; a naive one is read as Home Assistant's local time."""
    aware = item(options=SendOptions(postpone=dt.datetime(2026, 12, 7, 7, 0, tzinfo=dt.UTC)))
    assert outbound(aware, BERLIN).postpone == dt.datetime(2026, 12, 7, 8, 0, tzinfo=BERLIN)
    naive = item(options=SendOptions(postpone=dt.datetime(2026, 12, 7, 8, 0)))  # noqa: DTZ001 - a naive time on purpose
    assert outbound(naive, BERLIN).postpone == dt.datetime(2026, 12, 7, 8, 0, tzinfo=BERLIN)


def test_memory_keeps_references_and_sends_and_reads_them_back() -> None:
    """References roll over; a reply finds its alert; a failed report is acted on once; the stored form reads back."""
    memory = Memory()
    first = memory.new_reference("Freezer warm", (str(NUMBER),))
    assert memory.acknowledged(f"OK #{first}, on my way") == (first, "Freezer warm", (str(NUMBER),))
    assert memory.alert_text(item(f"Freezer warm #{first}"), referenced=True) == "Freezer warm"
    assert memory.alert_text(item(f"Freezer warm #{first}"), referenced=False) == f"Freezer warm #{first}"
    for number in range(REFERENCE_MEMORY):
        memory.new_reference(f"alert {number}", ())
    assert memory.acknowledged(f"#{first}") is None
    memory.remember_sent("42", item())
    stored = memory.stored(with_sent=True)
    again = Memory()
    again.load(stored)
    assert (again.next_reference, again.references) == (memory.next_reference, memory.references)
    assert again.sent["42"].text == "Freezer warm"
    assert again.failed_report("42") is not None
    assert again.failure_known("42")
    assert again.failed_report("42") is None
    broken = Memory()
    broken.load({"next_reference": "x", "references": [[1, "a"]], "sent": [["1", {"text": 3}]]})
    assert (broken.next_reference, broken.references, broken.sent) == (1, {}, {})


async def test_composer_keeps_one_sms_one_with_its_reference() -> None:
    """Cut to one SMS, with the acknowledgement reference inside the cut; look-alikes count as what is sent."""
    async with aiohttp.ClientSession() as session:
        provider = BrevisOneProvider.from_config(session, {"url": "http://127.0.0.1", "username": "u", "password": "p"})
        composer = Composer(provider, OutboxSettings(single_sms=True), "SMS Gateway")
        prepared = composer.prepare("x" * 200, None, [str(NUMBER)], SendOptions(), "DE")
        assert (len(prepared.text), prepared.info.parts) == (160, 1)
        referenced = composer.with_reference(prepared, 1234)
        assert referenced.text.endswith("… #1234") or referenced.text.endswith("... #1234")
        assert (len(referenced.text), referenced.info.parts) == (160, 1)
        wildix = WildixProvider.from_config(
            session, {"url": "https://pbx.example.com", "username": "u", "password": "p"}
        )
        plain = Composer(wildix, OutboxSettings(), "Wildix")
        sent = prepare("Température ✓", None, [str(NUMBER)], region="DE", supported=wildix.target_kinds)
        assert plain.shape(sent).info == plain.info(sent.text)


def test_memory_forgets_the_oldest_first() -> None:
    """A text without a reference is its own; past the memory's size the oldest sends and reports go."""
    memory = Memory()
    assert memory.alert_text(item("No reference here"), referenced=True) == "No reference here"
    for number in range(SENT_MEMORY + 1):
        memory.remember_sent(str(number), item())
    assert "0" not in memory.sent
    assert len(memory.sent) == SENT_MEMORY
    for number in range(1, SENT_MEMORY + 1):
        assert memory.failed_report(str(number)) is not None
    memory.remember_sent("late", item())
    assert memory.failed_report("late") is not None
    assert not memory.failure_known("1")
    assert memory.failure_known("late")
    stored = {"sent": [[str(number), item().to_stored()] for number in range(SENT_MEMORY + 5)]}
    again = Memory()
    again.load(stored)
    assert len(again.sent) == SENT_MEMORY
    assert "4" not in again.sent
    assert "5" in again.sent
