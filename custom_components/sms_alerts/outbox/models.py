"""What the outbox keeps and reports: items, options, results and their stored form (pure)."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from ..api.base import Target, TargetKind
from ..const import DEFAULT_SEVERITY, RETRY_INITIAL, RETRY_JITTER, RETRY_MAX
from .lifecycle import ItemState

# Marks a new alert written while its first request is under way (or waits for its turn)
IN_FLIGHT = "in_flight"
DELIVERY_FAILED = "FAILED"
# How the stored form names the holds (`hold_kind`), as files written by earlier versions do
_HOLD_KINDS = {ItemState.HELD_QUIET: "quiet", ItemState.HELD_RATE: "throttled", ItemState.HELD_FALLBACK: "fallback"}
_HOLD_STATES = {kind: state for state, kind in _HOLD_KINDS.items()}


# Ids need to be unique, not secret: drawn from a generator seeded once from the system's randomness.
# (os.urandom per id makes a system call that lets go of the GIL: the event loop then waits for the
# journal's worker thread to hand it back, twice per alert.)
_IDS = random.Random()  # noqa: S311 - unique, not secret (drop_waiting is for administrators)


def new_id() -> str:
    """Return a random id of 32 hex digits, as uuid4().hex is, for a fraction of its cost."""
    return f"{_IDS.getrandbits(128):032x}"


class OutboxClosedError(Exception):
    """The entry's outbox closed (its entry unloads) before it took the alert: not taken, nothing on disk."""

    def __init__(self, title: str) -> None:
        """Name the entry."""
        super().__init__(f"{title} is being unloaded")
        self.title = title


class SendStatus(StrEnum):
    """Per-target statuses of CONTRACT."""

    SENT = "sent"
    QUEUED = "queued"
    FAILED = "failed"
    DEDUPLICATED = "deduplicated"
    THROTTLED = "throttled"


# How storm-control outcomes count in the sensor's summary: a duplicate is as good as sent, a throttled alert waits
_AS_REPORTED = {SendStatus.DEDUPLICATED: SendStatus.SENT, SendStatus.THROTTLED: SendStatus.QUEUED}


class ReportStatus(StrEnum):
    """States of the "Last send status" sensor."""

    SENT = "sent"
    PARTIAL = "partial"
    FAILED = "failed"
    QUEUED = "queued"


class Block(StrEnum):
    """Why an entry sends nothing for now."""

    AUTH = "auth"
    CONFIG = "config"


@dataclass(frozen=True, kw_only=True, slots=True)
class SendOptions:
    """Provider options of one send; only those the provider supports may be set."""

    telegram: bool = False
    telegram_only: bool = False
    ring: bool = False
    flash: bool = False
    postpone: dt.datetime | None = None
    gsm: str | None = None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> SendOptions:
        """Read the options of an action call or a legacy notify `data` (already validated)."""
        return cls(**{name: data[name] for name in OPTION_NAMES if name in data})

    def asked(self) -> set[str]:
        """Names of the options that are set."""
        return {name for name in OPTION_NAMES if getattr(self, name)}

    def to_stored(self) -> dict[str, Any]:
        """Return the JSON form kept in the outbox file (only what is set)."""
        stored: dict[str, Any] = {name: getattr(self, name) for name in self.asked()}
        if self.postpone is not None:
            stored["postpone"] = self.postpone.isoformat()
        return stored

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> SendOptions:
        """Read options back from the outbox file (plain messages share one object)."""
        if not data:
            return _NO_OPTIONS
        values = {name: data[name] for name in OPTION_NAMES if name in data}
        if "postpone" in values:
            values["postpone"] = dt.datetime.fromisoformat(values["postpone"])
        for name in ("telegram", "telegram_only", "ring", "flash"):
            if not isinstance(values.get(name, False), bool):
                raise TypeError(name)
        return cls(**values)


_NO_OPTIONS = SendOptions()
# The send options, defined once: the fields of SendOptions (the action's schema and the notify data follow them)
OPTION_NAMES = tuple(option.name for option in fields(SendOptions))


@dataclass(kw_only=True, slots=True)
class QueuedItem:
    """One message to one target, as the outbox keeps it until it is delivered or given up."""

    id: str
    message_id: str
    text: str
    target: Target
    options: SendOptions
    parts: int
    severity: str
    created: float
    encoding: str = "gsm7"
    attempts: int = 0
    next_attempt: float = 0.0
    last_error: str | None = None
    visited: tuple[str, ...] = ()
    # Held (quiet hours, rate limit, a fallback being loaded) until this time; such alerts go out as a summary
    hold_until: float = 0.0
    state: ItemState = ItemState.NEW
    # Items a storm summary stands for
    merged: tuple[str, ...] = ()

    @property
    def hold_kind(self) -> str | None:
        """Name of the hold in the stored form, if the item is held."""
        return _HOLD_KINDS.get(self.state)

    def to_stored(self) -> dict[str, Any]:
        """Return the JSON form kept in the outbox file."""
        return {
            "id": self.id,
            "message_id": self.message_id,
            "text": self.text,
            "target": {"kind": str(self.target.kind), "value": self.target.value},
            "options": self.options.to_stored(),
            "parts": self.parts,
            "encoding": self.encoding,
            "severity": self.severity,
            "created": self.created,
            "attempts": self.attempts,
            "next_attempt": self.next_attempt,
            "last_error": self.last_error,
            "visited": list(self.visited),
            "hold_until": self.hold_until,
            "hold_kind": self.hold_kind,
            "merged": list(self.merged),
        }

    @classmethod
    def from_stored(cls, data: Mapping[str, Any], targets: dict[tuple[Any, Any], Target] | None = None) -> QueuedItem:
        """Read an item back; raise KeyError, TypeError or ValueError on anything malformed.

        `targets` lets the items of one file share their (immutable) targets: faster and smaller.
        """
        text, target = data["text"], data["target"]
        kind, value = target["kind"], target["value"]
        if not isinstance(text, str) or not text or not isinstance(value, str):
            raise TypeError("text")
        if targets is None or (resolved := targets.get((kind, value))) is None:
            resolved = Target(kind=TargetKind(kind), value=value)
            if targets is not None:
                targets[kind, value] = resolved
        error = data.get("last_error")
        return cls(
            id=str(data["id"]),
            message_id=str(data["message_id"]),
            text=text,
            target=resolved,
            options=SendOptions.from_stored(data.get("options", {})),
            parts=int(data["parts"]),
            encoding=str(data.get("encoding", "gsm7")),
            severity=str(data.get("severity", DEFAULT_SEVERITY)),
            created=float(data["created"]),
            attempts=int(data.get("attempts", 0)),
            next_attempt=float(data.get("next_attempt", 0.0)),
            last_error=None if error is None else str(error),
            visited=tuple(str(entry_id) for entry_id in data.get("visited", ())),
            hold_until=float(data.get("hold_until", 0.0)),
            state=_HOLD_STATES.get(str(data.get("hold_kind")), ItemState.WAITING),
            merged=tuple(str(item_id) for item_id in data.get("merged", ())),
        )


@dataclass(frozen=True, kw_only=True)
class TargetResult:
    """What became of one target."""

    target: str
    status: SendStatus
    provider: str
    error: str | None
    parts: int
    message_id: str | None = None
    encoding: str = "gsm7"
    # A duplicate of a message still held (quiet hours, rate limit): that outbox item goes out for both
    copy_of: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form used in action responses (`id`: the provider's message id, if it gave one)."""
        return {
            "target": self.target,
            "status": str(self.status),
            "provider": self.provider,
            "error": self.error,
            "parts": self.parts,
            "encoding": self.encoding,
            "id": self.message_id,
        }


@dataclass(frozen=True, kw_only=True)
class WaitingMessage:
    """One message that waits or is held in an outbox, as the list_waiting action shows it."""

    id: str
    target: str
    message: str
    state: ItemState
    severity: str
    # Seconds since the alert was taken
    age: int
    tries: int
    error: str | None
    # The earliest time it may go (the end of its hold); None while refused credentials wait for a new login
    next_try: dt.datetime | None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form used in the action's response."""
        return {
            "id": self.id,
            "target": self.target,
            "message": self.message,
            "state": str(self.state),
            "severity": self.severity,
            "age": self.age,
            "tries": self.tries,
            "error": self.error,
            "next_try": None if self.next_try is None else self.next_try.isoformat(),
        }


@dataclass(frozen=True, kw_only=True)
class Accepted:
    """An alert taken by the outbox: its items (one per target, in order) and the report of its first send.

    `line` is the journal line that holds it: on disk once the outbox's `async_written(line)` returned
    (at once where the caller asked to wait for it).
    """

    item_ids: tuple[str, ...]
    report: asyncio.Future[SendReport]
    line: int = 0


@dataclass(frozen=True, kw_only=True)
class SendReport:
    """All results of one send, as the sensor and the action see them; item_ids run parallel to results."""

    message_id: str
    item_ids: tuple[str, ...]
    results: tuple[TargetResult, ...]
    time: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    # Delivery states reported by the provider, by target
    delivery: Mapping[str, str] = field(default_factory=dict)

    @property
    def status(self) -> ReportStatus:
        """Summarise: all sent, all failed, something still waiting, or a mix."""
        statuses = {_AS_REPORTED.get(result.status, result.status) for result in self.results}
        if statuses == {SendStatus.SENT}:
            return ReportStatus.SENT
        if statuses == {SendStatus.FAILED}:
            return ReportStatus.FAILED
        if SendStatus.FAILED not in statuses:
            return ReportStatus.QUEUED
        return ReportStatus.PARTIAL

    @property
    def failed(self) -> list[TargetResult]:
        """Results that failed."""
        return [result for result in self.results if result.status is SendStatus.FAILED]

    def result_of(self, item_id: str) -> TargetResult | None:
        """Return the result of one item, None when the report has none."""
        return next((result for key, result in zip(self.item_ids, self.results, strict=False) if key == item_id), None)

    def with_delivery(self, item_id: str, state: str) -> SendReport:
        """Return the report with a delivery state for one target."""
        target = self.results[self.item_ids.index(item_id)].target
        return replace(self, delivery={**self.delivery, target: state})

    def with_result(self, item_id: str, result: TargetResult) -> SendReport:
        """Return the report with one target's result replaced."""
        results = tuple(
            result if known == item_id else old for known, old in zip(self.item_ids, self.results, strict=True)
        )
        return replace(self, results=results)


def parse_items(stored: Any) -> tuple[list[QueuedItem] | None, int]:
    """Read the outbox file's data: the items (None if there is no list) and how many were unreadable."""
    raw_items = stored.get("items") if isinstance(stored, dict) else None
    if not isinstance(raw_items, list):
        return None, 0
    items: list[QueuedItem] = []
    skipped = 0
    targets: dict[tuple[Any, Any], Target] = {}
    for raw in raw_items:
        try:
            item = QueuedItem.from_stored(raw, targets)
        except (KeyError, TypeError, ValueError, AttributeError):
            skipped += 1
        else:
            # A restart or reload may have fixed what failed: try again at once
            item.next_attempt = 0.0
            items.append(item)
    return items, skipped


def interrupted_sends(stored: Any) -> int:
    """How many stored messages were under way when Home Assistant stopped."""
    items = stored.get("items") if isinstance(stored, dict) else None
    if not isinstance(items, list):
        return 0
    return sum(1 for item in items if isinstance(item, dict) and item.get(IN_FLIGHT) is True)


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Delay before the next try: the provider's Retry-After wins, else 30 s doubling to 30 min, with jitter."""
    if retry_after is not None and retry_after > 0:
        return min(retry_after, RETRY_MAX)
    base = min(RETRY_MAX, RETRY_INITIAL * 2.0 ** max(attempts - 1, 0))
    jitter: float = random.uniform(1 - RETRY_JITTER, 1 + RETRY_JITTER)  # noqa: S311 - jitter, not security
    return base * jitter
