"""The escalation engine: policies read from text, and one alert's escalation through time; pure."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.sms_alerts.alerts.escalation import (
    MAX_STEPS,
    Escalation,
    EscalationState,
    Page,
    Policy,
    PolicyError,
    Step,
    acknowledge,
    due_page,
    exhausted,
    fit,
    from_stored,
    mark_paged,
    next_time,
    parse_policy,
    policy_text,
    resolve,
    snooze,
    start,
    to_stored,
)
from custom_components.sms_alerts.alerts.models import Severity

T0 = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)
NAMES = {"Anna": "r-anna", "Ben": "r-ben", "Duty phone": "r-duty"}
POLICY = Policy((Step(("r-anna",), 5), Step(("r-ben", "r-duty"), 10, ring=True)), repeat=1)


def minutes(value: float) -> dt.datetime:
    """T0 plus some minutes."""
    return T0 + dt.timedelta(minutes=value)


def run_until(policy: Policy, escalation: Escalation, until: dt.datetime) -> tuple[Escalation, list[Page]]:
    """Page every step due up to `until`, minute by minute, as the caller does on each timer."""
    pages: list[Page] = []
    now = T0
    while now <= until:
        while (page := due_page(policy, escalation, now)) is not None:
            pages.append(page)
            escalation = mark_paged(policy, escalation, page, now)
        escalation = exhausted(policy, escalation, now)
        now += dt.timedelta(minutes=1)
    return escalation, pages


def test_policy_text_reads_names_any_case_with_wait_and_ring() -> None:
    """One step a line: names, minutes, and `ring`; blank lines are ignored; names map to recipient ids."""
    policy = parse_policy("anna | 5\n\n Ben, DUTY PHONE |10| Ring \n", NAMES, repeat=1)
    assert policy == POLICY
    assert policy_text(policy, {key: name for name, key in NAMES.items()}) == "Anna | 5\nBen, Duty phone | 10 | ring"
    assert policy.recipients == frozenset({"r-anna", "r-ben", "r-duty"})


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ("Anna", "escalation_step", 1),
        ("Anna | five", "escalation_step", 1),
        ("Anna | 5\nAnna | 0", "escalation_wait", 2),
        ("Anna | 1441", "escalation_wait", 1),
        ("Anna | 5 | call", "escalation_step", 1),
        ("Anna | 5\nZoe | 5", "escalation_recipient", 2),
        ("\n".join(["Anna | 1"] * (MAX_STEPS + 1)), "escalation_steps", 0),
    ],
)
def test_policy_text_refused_with_the_line(text: str, key: str, line: int) -> None:
    """A line that does not read names its problem and its line."""
    with pytest.raises(PolicyError) as err:
        parse_policy(text, NAMES)
    assert (err.value.key, err.value.line) == (key, line)


def test_repeat_out_of_range_is_refused() -> None:
    """Repeat is 0 to 10."""
    with pytest.raises(PolicyError, match="escalation_repeat"):
        parse_policy("Anna | 5", NAMES, repeat=11)


def test_severity_threshold() -> None:
    """A critical-only policy escalates critical alerts; a warning policy also critical ones; none without steps."""
    assert POLICY.applies(Severity.CRITICAL)
    assert not POLICY.applies(Severity.WARNING)
    warning = Policy(POLICY.steps, severity=Severity.WARNING)
    assert warning.applies(Severity.CRITICAL)
    assert warning.applies(Severity.WARNING)
    assert not warning.applies(Severity.INFO)
    assert not Policy(()).applies(Severity.CRITICAL)


def test_unanswered_escalation_runs_every_step_of_every_round_then_ends() -> None:
    """Step 1 now, step 2 five minutes later, again after ten, and exhausted ten minutes after the last."""
    escalation, pages = run_until(POLICY, start(POLICY, "a", T0), minutes(60))
    assert [(page.round, page.step, page.recipients, page.ring) for page in pages] == [
        (0, 0, ("r-anna",), False),
        (0, 1, ("r-ben", "r-duty"), True),
        (1, 0, ("r-anna",), False),
        (1, 1, ("r-ben", "r-duty"), True),
    ]
    assert [paged.at for paged in escalation.paged] == [minutes(0), minutes(5), minutes(15), minutes(20)]
    assert escalation.state is EscalationState.EXHAUSTED
    assert escalation.ended_at == minutes(30)
    assert escalation.told == ("r-anna", "r-ben", "r-duty")


def test_an_edited_policy_goes_on_from_the_step_reached() -> None:
    """Three steps cut to two while the third was due: the next round starts; more rounds go on; none is skipped."""
    three = Policy((*POLICY.steps, Step(("r-duty",), 5)), repeat=1)
    escalation, _pages = run_until(three, start(three, "a", T0), minutes(14))
    assert (escalation.step, escalation.round, escalation.due) == (2, 0, minutes(15))
    # The list is cut to two steps: what was the third step is now round 2's first
    fitted = fit(POLICY, escalation)
    assert (fitted.step, fitted.round, fitted.due) == (0, 1, escalation.due)
    page = due_page(POLICY, fitted, minutes(15))
    assert page is not None
    assert (page.round, page.step, page.recipients) == (1, 0, ("r-anna",))
    # The last round's end (exhausted once its wait runs out) stays as it is...
    last, _pages = run_until(POLICY, start(POLICY, "b", T0), minutes(25))
    assert (last.step, last.round, last.state) == (2, 1, EscalationState.ACTIVE)
    assert fit(POLICY, last) is last
    # ...unless more rounds are given: it goes on with the next one
    more = Policy(POLICY.steps, repeat=2)
    assert (fit(more, last).step, fit(more, last).round) == (0, 2)
    # An escalation that ended is left alone
    assert fit(more, acknowledge(last, minutes(26), "r-anna")).state is EscalationState.ACKNOWLEDGED


def test_acknowledged_between_steps_pages_no_more() -> None:
    """An acknowledgement after the first page ends it: nothing more is due."""
    escalation, _ = run_until(POLICY, start(POLICY, "a", T0), minutes(2))
    escalation = acknowledge(escalation, minutes(3), "r-anna")
    assert (escalation.state, escalation.by, escalation.ended_at) == (
        EscalationState.ACKNOWLEDGED,
        "r-anna",
        minutes(3),
    )
    assert due_page(POLICY, escalation, minutes(100)) is None
    assert next_time(escalation) is None
    # Ending it again changes nothing
    assert resolve(escalation, minutes(4)) == escalation
    assert acknowledge(escalation, minutes(4), "r-ben") == escalation


def test_resolved_ends_it() -> None:
    """The source resolving the alert ends the escalation."""
    escalation = resolve(start(POLICY, "a", T0), minutes(1))
    assert (escalation.state, escalation.by) == (EscalationState.RESOLVED, "source")
    assert due_page(POLICY, escalation, minutes(100)) is None


def test_snooze_holds_the_next_step() -> None:
    """Snoozed for 30 minutes after the first page: the second step waits until then."""
    escalation, _ = run_until(POLICY, start(POLICY, "a", T0), minutes(0))
    escalation = snooze(escalation, minutes(30))
    assert due_page(POLICY, escalation, minutes(29)) is None
    assert next_time(escalation) == minutes(30)
    page = due_page(POLICY, escalation, minutes(30))
    assert page is not None
    assert page.step == 1


def test_marking_the_same_page_twice_skips_nothing() -> None:
    """A page marked again (a retry after a crash) neither advances nor repeats anything."""
    escalation = start(POLICY, "a", T0)
    page = due_page(POLICY, escalation, T0)
    assert page is not None
    once = mark_paged(POLICY, escalation, page, T0)
    assert mark_paged(POLICY, once, page, minutes(1)) == once


def test_a_policy_without_steps_ends_at_once() -> None:
    """Nothing to page: the escalation is exhausted from the start."""
    escalation = start(Policy(()), "a", T0)
    assert escalation.state is EscalationState.EXHAUSTED
    assert due_page(Policy(()), escalation, T0) is None


def test_stored_form_round_trips_and_bad_data_reads_as_none() -> None:
    """JSON-ready data reads back equal; data that is not an escalation gives None, never an exception."""
    escalation, _ = run_until(POLICY, start(POLICY, "a", T0), minutes(7))
    escalation = snooze(escalation, minutes(40))
    assert from_stored(to_stored(escalation)) == escalation
    for bad in ({}, {"key": "a", "state": "nope"}, {"key": "a", "step": "x"}, {"key": "a", "paged": [1]}):
        assert from_stored(bad) is None


_ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("wait"), st.integers(min_value=0, max_value=40)),
        st.tuples(st.just("crash"), st.just(0)),
        st.tuples(st.just("ack"), st.just(0)),
        st.tuples(st.just("resolve"), st.just(0)),
        st.tuples(st.just("snooze"), st.integers(min_value=1, max_value=60)),
    ),
    max_size=40,
)
_POLICIES = st.builds(
    Policy,
    st.lists(
        st.builds(Step, st.tuples(st.sampled_from(["a", "b", "c"])), st.integers(min_value=1, max_value=30)),
        min_size=1,
        max_size=4,
    ).map(tuple),
    st.integers(min_value=0, max_value=3),
)


@given(policy=_POLICIES, actions=_ACTIONS)
def test_pages_follow_the_policy_in_order_whatever_happens(policy: Policy, actions: list[tuple[str, int]]) -> None:
    """Random waits, crashes (a page handed over but not marked), acknowledgements and snoozes.

    The pages noted are always a prefix of the policy's steps in order, none after the end, none
    before its time; a crash repeats only the page that was under way; the stored form reads back.
    """
    now = T0
    escalation = start(policy, "k", now)
    expected = [(round_, step) for round_ in range(policy.repeat + 1) for step in range(len(policy.steps))]
    handed: list[tuple[int, int]] = []
    for action, value in actions:
        if action == "wait":
            now += dt.timedelta(minutes=value)
            while (page := due_page(policy, escalation, now)) is not None:
                handed.append((page.round, page.step))
                escalation = mark_paged(policy, escalation, page, now)
            escalation = exhausted(policy, escalation, now)
        elif action == "crash":
            # The page goes to the outbox, the process dies before it is marked: the next start hands it again
            page = due_page(policy, escalation, now)
            if page is not None:
                handed.append((page.round, page.step))
        elif action == "ack":
            escalation = acknowledge(escalation, now, "a")
        elif action == "resolve":
            escalation = resolve(escalation, now)
        else:
            escalation = snooze(escalation, now + dt.timedelta(minutes=value))
        assert from_stored(to_stored(escalation)) == escalation
        noted = [(paged.round, paged.step) for paged in escalation.paged]
        assert noted == expected[: len(noted)]
        # Handed to the outbox: each noted page once, plus at most one repeat of a page under way at a crash
        assert sorted(set(handed)) == sorted(set(noted) | ({handed[-1]} if handed else set()))
        assert all(handed.count(page) <= 2 for page in handed)
        times = [paged.at for paged in escalation.paged]
        assert times == sorted(times)
        if not escalation.active:
            assert due_page(policy, escalation, now + dt.timedelta(days=1)) is None
