"""Escalation until somebody acknowledges: policies, and where one alert's escalation stands; pure.

A policy is a list of steps. Each step pages some recipients (by SMS, and with `ring` also by a call
where the provider can ring), then waits a number of minutes for an acknowledgement before the next
step. After the last step the whole list runs again `repeat` times; then the escalation is exhausted.
An acknowledgement or the alert's resolution ends it at any point; a snooze holds it until a time.

Written for a crash at any instant: the caller hands a due page to the outbox first and marks it paged
after (`mark_paged`), so a crash in between repeats only the page that was under way, never skips one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from .models import Severity

MAX_STEPS = 10
MAX_WAIT_MINUTES = 24 * 60
MAX_REPEAT = 10
# One line of the policy text: recipients, then the minutes to wait, then optionally "ring"
_STEP = re.compile(r"^(?P<who>[^|]+)\|\s*(?P<wait>\d+)\s*(?:\|\s*(?P<ring>ring)\s*)?$", re.IGNORECASE)


class PolicyError(ValueError):
    """A policy text that cannot be read: `key` names the problem, `line` the line (1-based; 0: the whole)."""

    def __init__(self, key: str, line: int = 0, detail: str = "") -> None:
        """Keep the translation key, the line and a short detail."""
        super().__init__(f"{key} (line {line}): {detail}" if line else key)
        self.key = key
        self.line = line
        self.detail = detail


@dataclass(frozen=True)
class Step:
    """Page these recipients, then wait `wait` minutes for an acknowledgement."""

    recipients: tuple[str, ...]
    wait: int
    ring: bool = False


@dataclass(frozen=True)
class Policy:
    """Ordered steps, run `repeat` more times after the last, for alerts at or above `severity`."""

    steps: tuple[Step, ...]
    repeat: int = 0
    severity: Severity = Severity.CRITICAL

    def applies(self, severity: Severity) -> bool:
        """Tell whether an alert of this severity is escalated."""
        return bool(self.steps) and severity.rank <= self.severity.rank

    @property
    def recipients(self) -> frozenset[str]:
        """Everybody a step may page."""
        return frozenset(who for step in self.steps for who in step.recipients)


def parse_policy(
    text: str, names: Mapping[str, str], *, repeat: int = 0, severity: Severity = Severity.CRITICAL
) -> Policy:
    """Read a policy written one step a line: `Anna, Ben | 10` or `Duty phone | 5 | ring`.

    `names` maps what a user writes (a recipient's name, any case) to the recipient's id. An empty
    text is a policy with no steps (nothing is escalated).
    """
    if not 0 <= repeat <= MAX_REPEAT:
        raise PolicyError("escalation_repeat")
    lookup = {name.strip().casefold(): key for name, key in names.items()}
    steps: list[Step] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _STEP.match(line)
        if match is None:
            raise PolicyError("escalation_step", number)
        wait = int(match["wait"])
        if not 0 < wait <= MAX_WAIT_MINUTES:
            raise PolicyError("escalation_wait", number)
        who: list[str] = []
        for name in match["who"].split(","):
            key = lookup.get(name.strip().casefold())
            if key is None:
                raise PolicyError("escalation_recipient", number, name.strip()[:40])
            if key not in who:
                who.append(key)
        steps.append(Step(tuple(who), wait, ring=match["ring"] is not None))
    if len(steps) > MAX_STEPS:
        raise PolicyError("escalation_steps")
    return Policy(tuple(steps), repeat, severity)


def policy_text(policy: Policy, names: Mapping[str, str]) -> str:
    """Write a policy back as the text `parse_policy` reads (`names`: recipient id to name)."""
    lines = []
    for step in policy.steps:
        who = ", ".join(names.get(key, key) for key in step.recipients)
        lines.append(f"{who} | {step.wait}" + (" | ring" if step.ring else ""))
    return "\n".join(lines)


class EscalationState(StrEnum):
    """Where an escalation stands."""

    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    # Every step of every round paged, nobody acknowledged
    EXHAUSTED = "exhausted"


@dataclass(frozen=True)
class Page:
    """A step that is due: page these recipients now (round 0 is the first run of the steps)."""

    step: int
    round: int
    recipients: tuple[str, ...]
    ring: bool


@dataclass(frozen=True)
class Paged:
    """A page that went to the outbox."""

    step: int
    round: int
    recipients: tuple[str, ...]
    at: dt.datetime


@dataclass(frozen=True)
class Escalation:
    """One alert's escalation: the next step, when it is due, and what was paged."""

    key: str
    state: EscalationState = EscalationState.ACTIVE
    step: int = 0
    round: int = 0
    due: dt.datetime | None = None
    snoozed_until: dt.datetime | None = None
    paged: tuple[Paged, ...] = ()
    ended_at: dt.datetime | None = None
    # Who acknowledged (a recipient id, a user, "source"), once acknowledged
    by: str | None = None

    @property
    def active(self) -> bool:
        """Tell whether steps may still be paged."""
        return self.state is EscalationState.ACTIVE

    @property
    def told(self) -> tuple[str, ...]:
        """Everybody paged so far, in the order first paged (for announcing an acknowledgement)."""
        seen: dict[str, None] = {}
        for page in self.paged:
            for who in page.recipients:
                seen.setdefault(who, None)
        return tuple(seen)


def start(policy: Policy, key: str, now: dt.datetime) -> Escalation:
    """Begin an escalation: its first step is due now."""
    if not policy.steps:
        return Escalation(key, EscalationState.EXHAUSTED, ended_at=now)
    return Escalation(key, due=now)


def next_time(escalation: Escalation) -> dt.datetime | None:
    """When something is next due (the later of the step and the snooze), or None once it ended."""
    if not escalation.active or escalation.due is None:
        return None
    if escalation.snoozed_until is not None and escalation.snoozed_until > escalation.due:
        return escalation.snoozed_until
    return escalation.due


def fit(policy: Policy, escalation: Escalation) -> Escalation:
    """Fit a running escalation to its source's policy as it is now (edited since it started, perhaps).

    It goes on from the step it reached: past the end of a shorter list, with the next round where one remains
    (given more rounds, one in its last wait goes on); unchanged otherwise.
    """
    if not escalation.active or escalation.step < len(policy.steps) or escalation.round >= policy.repeat:
        return escalation
    return replace(escalation, step=0, round=escalation.round + 1)


def due_page(policy: Policy, escalation: Escalation, now: dt.datetime) -> Page | None:
    """Return the page due at `now`, if any: hand it to the outbox, then call `mark_paged`."""
    when = next_time(escalation)
    if when is None or when > now or escalation.step >= len(policy.steps):
        return None
    step = policy.steps[escalation.step]
    return Page(escalation.step, escalation.round, step.recipients, step.ring)


def mark_paged(policy: Policy, escalation: Escalation, page: Page, now: dt.datetime) -> Escalation:
    """Note that a due page went to the outbox, and plan the next step (or the end).

    A page already noted (the same step and round) changes nothing: marking twice never skips a step.
    """
    if not escalation.active or (page.step, page.round) != (escalation.step, escalation.round):
        return escalation
    paged = (*escalation.paged, Paged(page.step, page.round, page.recipients, now))
    wait = dt.timedelta(minutes=policy.steps[page.step].wait)
    step, round_ = page.step + 1, page.round
    if step >= len(policy.steps):
        step, round_ = 0, round_ + 1
    if round_ > policy.repeat:
        # The last step's wait still runs: the escalation is exhausted once it ends unanswered
        return replace(escalation, paged=paged, step=len(policy.steps), due=now + wait)
    return replace(escalation, paged=paged, step=step, round=round_, due=now + wait)


def exhausted(policy: Policy, escalation: Escalation, now: dt.datetime) -> Escalation:
    """End an escalation whose last wait ran out unanswered; unchanged otherwise."""
    when = next_time(escalation)
    if escalation.step < len(policy.steps) or when is None or when > now:
        return escalation
    return replace(escalation, state=EscalationState.EXHAUSTED, due=None, ended_at=now)


def acknowledge(escalation: Escalation, now: dt.datetime, by: str) -> Escalation:
    """End an active escalation as acknowledged; an ended one stays as it is."""
    if not escalation.active:
        return escalation
    return replace(escalation, state=EscalationState.ACKNOWLEDGED, due=None, ended_at=now, by=by)


def resolve(escalation: Escalation, now: dt.datetime) -> Escalation:
    """End an active escalation because its alert is over."""
    if not escalation.active:
        return escalation
    return replace(escalation, state=EscalationState.RESOLVED, due=None, ended_at=now, by="source")


def snooze(escalation: Escalation, until: dt.datetime) -> Escalation:
    """Hold an active escalation until a time (a later snooze replaces an earlier one)."""
    if not escalation.active:
        return escalation
    return replace(escalation, snoozed_until=until)


# The stored form (JSON): times as ISO strings


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _read_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def to_stored(escalation: Escalation) -> dict[str, Any]:
    """Write an escalation as JSON-ready data."""
    return {
        "key": escalation.key,
        "state": str(escalation.state),
        "step": escalation.step,
        "round": escalation.round,
        "due": _time(escalation.due),
        "snoozed_until": _time(escalation.snoozed_until),
        "paged": [
            {"step": page.step, "round": page.round, "recipients": list(page.recipients), "at": _time(page.at)}
            for page in escalation.paged
        ],
        "ended_at": _time(escalation.ended_at),
        "by": escalation.by,
    }


def from_stored(data: Mapping[str, Any]) -> Escalation | None:
    """Read an escalation back; None for data that does not read as one (never raises)."""
    try:
        paged = tuple(
            Paged(int(page["step"]), int(page["round"]), tuple(str(who) for who in page["recipients"]), at)
            for page in data.get("paged", ())
            if (at := _read_time(page.get("at"))) is not None
        )
        return Escalation(
            key=str(data["key"]),
            state=EscalationState(data.get("state", EscalationState.ACTIVE)),
            step=int(data.get("step", 0)),
            round=int(data.get("round", 0)),
            due=_read_time(data.get("due")),
            snoozed_until=_read_time(data.get("snoozed_until")),
            paged=paged,
            ended_at=_read_time(data.get("ended_at")),
            by=data.get("by") if isinstance(data.get("by"), str) else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
