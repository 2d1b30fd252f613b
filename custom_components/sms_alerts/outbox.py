"""The one way out: every send is tried, kept while it waits, retried, handed over or given up here."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

from .api.base import (
    OutboundSms,
    Outcome,
    Provider,
    Receipt,
    Target,
    TargetKind,
    error_receipt,
    mask_target,
)
from .const import (
    CONF_ACK_REFERENCE,
    CONF_DAILY_BUDGET,
    CONF_DEDUP_MINUTES,
    CONF_FALLBACK_ENTRY,
    CONF_GSM_ONLY,
    CONF_HANDOVER_MINUTES,
    CONF_LONG_MESSAGES,
    CONF_MAX_AGE_HOURS,
    CONF_PROVIDER,
    CONF_QUIET_END,
    CONF_QUIET_START,
    CONF_RATE_LIMIT,
    CONF_TARGET,
    DEFAULT_DAILY_BUDGET,
    DEFAULT_DEDUP_MINUTES,
    DEFAULT_HANDOVER_MINUTES,
    DEFAULT_MAX_AGE_HOURS,
    DEFAULT_RATE_LIMIT,
    DEFAULT_SEVERITY,
    DOMAIN,
    EVENT_FAILED,
    LOGGER,
    LONG_SINGLE,
    RETRY_INITIAL,
    RETRY_JITTER,
    RETRY_MAX,
    SIGNAL_QUEUE_CHANGED,
    SIGNAL_SEND_REPORT,
    SUBENTRY_RECIPIENT,
)
from .data import SmsAlertsConfigEntry
from .errors import validation_error
from .journal import TrackedDict
from .message import (
    GSM_SINGLE,
    MAX_MESSAGE_LENGTH,
    UCS2_SINGLE,
    Encoding,
    MessageError,
    PreparedMessage,
    SmsInfo,
    encoding_of,
    prepare,
    sms_info,
    to_gsm7,
    truncate,
    truncate_gsm,
)
from .outbox_store import OutboxStore, storage_key  # noqa: F401 - storage_key: read from here by other modules
from .storm import CRITICAL, SEVERITY_RANK, QuietHours, StormGuard, StormSettings, Verdict, summary_text

DELIVERY_FAILED = "FAILED"
_REFERENCE = re.compile(r"#(\d+)\b")
# An alert's text with its acknowledgement reference at the end
_REFERENCED = re.compile(r"(.*) #(\d+)", re.DOTALL)
# How many alert references are kept for acknowledgements
REFERENCE_MEMORY = 500
# How many provider message ids are kept for delivery reports
SENT_MEMORY = 1000
# Marks a new alert written while its first request is under way (or waits for its turn)
IN_FLIGHT = "in_flight"
# Held by the rate limit until its minute ends, then sent in a summary
HOLD_THROTTLED = "throttled"
# Held for a fallback entry that is being set up or reloaded; taken when its state changes, and
# looked at again this often in any case
HOLD_FALLBACK = "fallback"
FALLBACK_WAIT = 60.0
# States of a fallback entry (not disabled) that end in its being loaded
_FALLBACK_COMING = (
    ConfigEntryState.NOT_LOADED,
    ConfigEntryState.SETUP_IN_PROGRESS,
    ConfigEntryState.SETUP_RETRY,
    ConfigEntryState.UNLOAD_IN_PROGRESS,
)
OPTION_NAMES = ("telegram", "telegram_only", "ring", "flash", "postpone", "gsm")
# Repair issues an entry can raise; each clears after the next successful send
ENTRY_ISSUES = (
    "no_api_permission",
    "ssl_error",
    "weak_tls",
    "entry_rejected",
    "sms_api_disabled",
    "sms_not_enabled",
    "invalid_sender",
    "no_sms_api",
    "redirected",
    "invalid_gsm",
    "sender_not_allowed",
    "no_sender",
    "daily_budget",
)


async def async_remove_store(hass: HomeAssistant, entry: SmsAlertsConfigEntry) -> None:
    """Delete the outbox file of a removed entry, whose waiting messages must not vanish with it.

    They go to the entry's fallback entry where there is one (as after a refused login); the others
    are given up for good, each with sms_alerts_failed and a warning, as at the end of their lifetime.
    """
    store = OutboxStore(hass, entry.entry_id)
    items, _skipped = parse_items(await store.async_load())
    dropped = hand_over(hass, entry, items or [], "removed")
    if dropped:
        LOGGER.warning(
            "%s was removed with %s message(s) waiting and no fallback to take them; "
            "sms_alerts_failed is fired for each",
            entry.title,
            len(dropped),
        )
        for item in dropped:
            error = f"{entry.title} was removed before the message could be sent"
            fire_failed(hass, entry, str(item.target), item.text, error)
    await store.async_remove()


def hand_over(hass: HomeAssistant, entry: SmsAlertsConfigEntry, items: list[QueuedItem], why: str) -> list[QueuedItem]:
    """Let the entry's fallback take over the messages it may take; return those left.

    The fallback sends them in the background, as any send: the removal or the unload does not
    wait for its device. A message the fallback handed over itself is not handed back.
    """
    fallback = fallback_outbox(hass, entry) if items else None
    if fallback is None:
        if items and (missing := fallback_entry(hass, entry)) is not None:
            LOGGER.warning(
                "%s was %s with %s message(s) waiting; its fallback %s",
                entry.title,
                why,
                len(items),
                not_loaded(missing),
            )
        return items
    fallback_id = entry.options[CONF_FALLBACK_ENTRY]
    handed = [item for item in items if fallback_id not in item.visited]
    if handed:
        LOGGER.warning(
            "%s was %s with %s message(s) waiting; its fallback takes them over", entry.title, why, len(handed)
        )
        hass.async_create_background_task(fallback.async_take_over(handed), f"{DOMAIN} take over ({why})")
    return [item for item in items if fallback_id in item.visited]


def fallback_entry(hass: HomeAssistant, entry: SmsAlertsConfigEntry) -> SmsAlertsConfigEntry | None:
    """Return the entry's fallback entry, loaded or not, if it has one."""
    fallback_id = entry.options.get(CONF_FALLBACK_ENTRY)
    fallback: SmsAlertsConfigEntry | None = hass.config_entries.async_get_entry(fallback_id) if fallback_id else None
    return fallback if fallback is not None and fallback.domain == DOMAIN else None


def fallback_outbox(hass: HomeAssistant, entry: SmsAlertsConfigEntry) -> Outbox | None:
    """Return the outbox of the entry's fallback entry, if it has one and it is loaded."""
    fallback = fallback_entry(hass, entry)
    if fallback is None or fallback.state is not ConfigEntryState.LOADED:
        return None
    return fallback.runtime_data.outbox


def fallback_coming(fallback: SmsAlertsConfigEntry) -> bool:
    """Tell whether a fallback entry that is not loaded will be in a moment (it is set up or reloaded)."""
    return fallback.disabled_by is None and fallback.state in _FALLBACK_COMING


def not_loaded(fallback: SmsAlertsConfigEntry) -> str:
    """Say, for the log, that a fallback entry is not loaded, and why."""
    why = "disabled" if fallback.disabled_by is not None else str(fallback.state.value).replace("_", " ")
    return f"{fallback.title} is not loaded ({why})"


def fire_failed(hass: HomeAssistant, entry: SmsAlertsConfigEntry, target: str, message: str, error: str) -> None:
    """Fire the event automations escalate on, for a message given up for good."""
    hass.bus.async_fire(
        EVENT_FAILED, {"entry_id": entry.entry_id, "target": target, "message": message, "error": error}
    )


def new_id() -> str:
    """Return a random id of 32 hex digits, as uuid4().hex is, for a fraction of its cost."""
    return os.urandom(16).hex()


def _now() -> float:
    """Return the current time as a timestamp (frozen in tests)."""
    return dt_util.utcnow().timestamp()


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
    # Held by storm control or quiet hours until this time; such items go out together as a summary
    hold_until: float = 0.0
    hold_kind: str | None = None
    # Items a storm summary stands for
    merged: tuple[str, ...] = ()

    def sms(self) -> OutboundSms:
        """Return what the provider sends."""
        return OutboundSms(
            text=self.text,
            telegram=self.options.telegram,
            telegram_only=self.options.telegram_only,
            ring=self.options.ring,
            flash=self.options.flash,
            postpone=None if self.options.postpone is None else dt_util.as_local(self.options.postpone),
            gsm=self.options.gsm,
        )

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
            hold_kind=None if data.get("hold_kind") is None else str(data["hold_kind"]),
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
class SendReport:
    """All results of one send, as the sensor and the action see them; item_ids run parallel to results."""

    message_id: str
    item_ids: tuple[str, ...]
    results: tuple[TargetResult, ...]
    time: dt.datetime = field(default_factory=dt_util.utcnow)
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


class Outbox:
    """Sends, keeps, retries and reports the messages of one entry; the only place retries live."""

    def __init__(self, hass: HomeAssistant, entry: SmsAlertsConfigEntry, provider: Provider) -> None:
        """Bind the outbox to its entry, its provider client and its file."""
        self._hass = hass
        self._entry = entry
        self._provider = provider
        self._store = OutboxStore(hass, entry.entry_id)
        # Waiting messages by id, oldest first; what changed is written to the journal
        self._tracked: TrackedDict[QueuedItem] = TrackedDict()
        self._draining = False
        # Provider message id -> outbox item id of recent sends
        self._sent: dict[str, QueuedItem] = {}
        # Provider message ids whose FAILED delivery report was acted on already
        self._failed_reports: dict[str, None] = {}
        # Acknowledgement references of recent alerts: number -> (message text, targets)
        self._references: dict[int, tuple[str, tuple[str, ...]]] = {}
        self._next_reference = 1
        self._lock = asyncio.Lock()
        self._block: Block | None = None
        self._block_error: str | None = None
        self._retry_at = 0.0
        # When a request last failed (0 once one went through): a new alert then tries no waiting message
        self._failed_at = 0.0
        # Repair issues of refused accounts may be left from before a restart: the first success clears them
        self._issues_open = True
        # Set by the entry's health: True when the provider is known to be unreachable
        self.known_down: Callable[[], bool] = lambda: False
        self._unsub_timer: CALLBACK_TYPE | None = None
        self._unsub_fallback: CALLBACK_TYPE | None = None
        self._closed = False
        # New messages whose first request is under way (or waits for its turn); written at once
        self._in_flight: dict[str, QueuedItem] = {}
        self._fallback_missing_noted = False
        self.last_report: SendReport | None = None
        options = entry.options
        self._quiet_hours = self._read_quiet_hours(entry)
        self._guard = StormGuard(
            settings=StormSettings(
                dedup_window=float(options.get(CONF_DEDUP_MINUTES, DEFAULT_DEDUP_MINUTES)) * 60,
                rate_limit=int(options.get(CONF_RATE_LIMIT, DEFAULT_RATE_LIMIT)),
                daily_budget=int(options.get(CONF_DAILY_BUDGET, DEFAULT_DAILY_BUDGET)),
            )
        )

    # Settings

    @property
    def max_age(self) -> float:
        """Seconds a message may wait before it is given up."""
        return float(self._entry.options.get(CONF_MAX_AGE_HOURS, DEFAULT_MAX_AGE_HOURS)) * 3600

    @property
    def handover_delay(self) -> float:
        """Seconds a message waits here before the fallback entry takes it."""
        return float(self._entry.options.get(CONF_HANDOVER_MINUTES, DEFAULT_HANDOVER_MINUTES)) * 60

    @property
    def _items(self) -> TrackedDict[QueuedItem]:
        """Waiting messages by id, oldest first."""
        return self._tracked

    @_items.setter
    def _items(self, items: dict[str, QueuedItem]) -> None:
        """Replace the waiting messages (each counts as changed)."""
        self._tracked = TrackedDict(items)

    @property
    def items(self) -> list[QueuedItem]:
        """The waiting messages, oldest first (a copy)."""
        return list(self._items.values())

    @property
    def block(self) -> Block | None:
        """Why the entry sends nothing for now, if it does not."""
        return self._block

    # Life cycle

    async def async_load(self) -> None:
        """Read the waiting messages; skip what cannot be read, loudly; then start draining."""
        stored = await self._store.async_load()
        items, skipped = parse_items(stored)
        if stored is not None and items is None:
            LOGGER.error("The outbox of %s holds no list of messages; it starts empty", self._entry.title)
        self._items = {item.id: item for item in items or []}
        self._items.take_changes()
        self._load_references(stored)
        self._load_sent(stored)
        if interrupted := interrupted_sends(stored):
            LOGGER.warning(
                "%s was sending %s message(s) when it last stopped; sending them again, "
                "so a recipient may get one twice",
                self._entry.title,
                interrupted,
            )
        if skipped:
            LOGGER.error("Skipped %s unreadable message(s) in the outbox of %s", skipped, self._entry.title)
        if self._items:
            LOGGER.info("%s has %s message(s) waiting; sending them now", self._entry.title, len(self._items))
        if (fallback := fallback_entry(self._hass, self._entry)) is not None:
            self._unsub_fallback = fallback.async_on_state_change(self._on_fallback_state)
        self._queue_changed()
        self._schedule()

    @callback
    def _on_fallback_state(self) -> None:
        """Let the fallback entry take what waits for it as soon as it is loaded again (or give up on it)."""
        if fallback_outbox(self._hass, self._entry) is not None:
            self._fallback_missing_noted = False
        if self._items and not self._closed:
            self._start_drain()

    async def async_unload(self) -> None:
        """Stop retrying and write the waiting messages at once, with any new send still under way.

        Such a send finishes here, but the entry's next outbox owns the file and sends it again:
        a duplicate is possible, a loss is not. (A drain pass under way is cancelled and awaited
        by the unload, so its last write comes before the next outbox reads the file.)
        """
        self._closed = True
        if self._unsub_fallback is not None:
            self._unsub_fallback()
            self._unsub_fallback = None
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None
        self._release_when_disabled()
        self._items.take_changes()
        await self._store.async_close(self._stored_data)

    def _release_when_disabled(self) -> None:
        """Let the fallback take the messages of an entry being disabled (not those held for quiet hours).

        Say what stays.
        """
        if self._entry.disabled_by is None:
            return
        # Held only until the minute ends: summed up now, they go too
        self._release_held(early=HOLD_THROTTLED)
        # New messages under way go too: their request may still go through, so a duplicate is possible
        waiting = [item for item in self._items.values() if item.hold_kind in (None, HOLD_FALLBACK)]
        waiting += self._in_flight.values()
        left = {item.id for item in hand_over(self._hass, self._entry, waiting, "disabled")}
        for item in waiting:
            if item.id not in left:
                self._items.pop(item.id, None)
                self._in_flight.pop(item.id, None)
        if kept := len(self._items) + len(self._in_flight):
            LOGGER.warning(
                "%s was disabled with %s message(s) waiting; they are kept and sent when it is enabled again",
                self._entry.title,
                kept,
            )

    # Sending

    def recipients(self) -> list[str]:
        """Targets of all the entry's recipients."""
        return [
            subentry.data[CONF_TARGET]
            for subentry in self._entry.subentries.values()
            if subentry.subentry_type == SUBENTRY_RECIPIENT
        ]

    def prepare(
        self, message: str, title: str | None, targets: Iterable[str] | None, options: SendOptions
    ) -> PreparedMessage:
        """Check text, targets and options before anything is sent; raise ServiceValidationError."""
        unsupported = options.asked() - self._provider.options
        if unsupported:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="option_not_supported",
                translation_placeholders={
                    "option": ", ".join(sorted(unsupported)),
                    "provider": self._entry.data[CONF_PROVIDER],
                },
            )
        for name in sorted(options.asked()):
            try:
                self._provider.normalize_option(name, getattr(options, name))
            except ValueError as err:
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="invalid_option",
                    translation_placeholders={"option": name, "value": str(getattr(options, name))},
                ) from err
        raw_targets = list(targets) if targets else self.recipients()
        if not raw_targets:
            raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_recipients")
        try:
            prepared = prepare(
                message,
                title,
                raw_targets,
                region=self._hass.config.country,
                supported=self._provider.target_kinds,
            )
        except MessageError as err:
            raise validation_error(err) from err
        if prepared.cut_from is not None:
            LOGGER.warning(
                "%s: an alert of %s characters was cut to %s to be sent",
                self._entry.title,
                prepared.cut_from,
                MAX_MESSAGE_LENGTH,
            )
        return self._shape(prepared)

    def _shape(self, prepared: PreparedMessage) -> PreparedMessage:
        """Apply the entry's text options: GSM-7 only (transliterated), and one SMS at most (cut with an ellipsis).

        Encoding and parts are those of what the provider sends, which may differ from the text (Wildix look-alikes).
        """
        text = prepared.text
        if self._entry.options.get(CONF_GSM_ONLY):
            text = to_gsm7(text)
        if self._entry.options.get(CONF_LONG_MESSAGES) == LONG_SINGLE:
            text = self._cut_to_one(text)
        sent = self._provider.texts_sent(text)
        if text == prepared.text and sent == [text]:
            return prepared
        return replace(prepared, text=text, info=self._info(text, sent))

    def _cut_to_one(self, text: str, room: int = 0) -> str:
        """Cut a text to one SMS with an ellipsis, leaving `room` GSM-7 characters for what follows it."""
        gsm = all(encoding_of(sent) is Encoding.GSM7 for sent in self._provider.texts_sent(text))
        return truncate_gsm(text, GSM_SINGLE - room) if gsm else truncate(text, UCS2_SINGLE - room)

    def _info(self, text: str, sent: list[str] | None = None) -> SmsInfo:
        """Return encoding, units and SMS parts of what the provider sends for `text`."""
        sent = self._provider.texts_sent(text) if sent is None else sent
        if sent == [text]:
            return sms_info(text)
        infos = [sms_info(part) for part in sent]
        ucs2 = any(info.encoding is Encoding.UCS2 for info in infos)
        return SmsInfo(
            encoding=Encoding.UCS2 if ucs2 else Encoding.GSM7,
            units=sum(info.units for info in infos),
            parts=sum(info.parts for info in infos),
        )

    async def async_submit(
        self,
        message: str,
        title: str | None,
        targets: Iterable[str] | None,
        options: SendOptions,
        severity: str = DEFAULT_SEVERITY,
    ) -> SendReport:
        """Prepare and send: the entry point of the action and both notify paths."""
        return await self.async_send(self.prepare(message, title, targets, options), options, severity)

    async def async_send(
        self, prepared: PreparedMessage, options: SendOptions, severity: str = DEFAULT_SEVERITY
    ) -> SendReport:
        """Send a prepared message to its targets and report the outcome of each.

        Shielded: once taken, an alert is sent, kept or handed over even if its caller is cancelled
        meanwhile (an automation in restart mode, triggered again while the device is slow).
        """
        task = self._hass.async_create_task(self._async_send(prepared, options, severity), f"{DOMAIN} send")
        return await asyncio.shield(task)

    async def _async_send(self, prepared: PreparedMessage, options: SendOptions, severity: str) -> SendReport:
        """Send a prepared message to its targets and report the outcome of each."""
        now = _now()
        message_id = new_id()
        if self._entry.options.get(CONF_ACK_REFERENCE):
            prepared = self._with_reference(prepared)
        items = [
            QueuedItem(
                id=new_id(),
                message_id=message_id,
                text=prepared.text,
                target=target,
                options=options,
                parts=prepared.info.parts,
                encoding=str(prepared.info.encoding),
                severity=severity,
                created=now,
                visited=(self._entry.entry_id,),
            )
            for target in prepared.targets
        ]
        if LOGGER.isEnabledFor(logging.DEBUG):
            LOGGER.debug(
                "Sending %s %s part(s) to %s",
                prepared.info.encoding,
                prepared.info.parts,
                ", ".join(mask_target(target) for target in prepared.targets),
            )
        # On disk from now on: written while storm control decides and the first request starts
        accepted = self._write_new(items)
        results = await self._async_storm_control(items)
        self._write_settled([item for item in items if item.id in results])
        taken = [item for item in items if item.id not in results]
        results.update(await self._async_take(taken, accepted))
        today = dt_util.now().date().isoformat()
        for item in taken:
            if results[item.id].status in (SendStatus.SENT, SendStatus.QUEUED):
                self._guard.note_sent(
                    target=str(item.target), text=self._alert_text(item), now=now, today=today, parts=item.parts
                )
        rejected = [self._reject(raw, err, prepared) for raw, err in prepared.rejected]
        report = SendReport(
            message_id=message_id,
            item_ids=(*(item.id for item in items), *(new_id() for _ in rejected)),
            results=(*(results[item.id] for item in items), *rejected),
        )
        self.last_report = report
        async_dispatcher_send(self._hass, SIGNAL_SEND_REPORT.format(self._entry.entry_id), report)
        return report

    def _reject(self, raw: str, err: MessageError, prepared: PreparedMessage) -> TargetResult:
        """Fail a target that could not be read, sent beside others: logged, and the event fired."""
        error = str(validation_error(err))
        LOGGER.warning(
            "Message to %s via %s failed: the target cannot be read (%s)", mask_target(raw), self._entry.title, err.key
        )
        fire_failed(self._hass, self._entry, raw, prepared.text, error)
        return TargetResult(
            target=raw,
            status=SendStatus.FAILED,
            provider=self._provider.key,
            error=error,
            parts=prepared.info.parts,
            message_id=None,
            encoding=str(prepared.info.encoding),
        )

    def _with_reference(self, prepared: PreparedMessage) -> PreparedMessage:
        """Add a short reference (#42) that a reply can quote to acknowledge the alert."""
        reference = self._next_reference
        self._next_reference += 1
        self._references[reference] = (prepared.text, tuple(str(target) for target in prepared.targets))
        self._store.reference(reference, prepared.text, [str(target) for target in prepared.targets])
        while len(self._references) > REFERENCE_MEMORY:
            del self._references[next(iter(self._references))]
        tag = f" #{reference}"
        if self._entry.options.get(CONF_LONG_MESSAGES) == LONG_SINGLE:
            # Still one SMS: the cut leaves room for the reference
            text = self._cut_to_one(prepared.text, len(tag)) + tag
        else:
            text = prepared.text + tag
        return replace(prepared, text=text, info=self._info(text))

    async def _async_storm_control(self, items: list[QueuedItem]) -> dict[str, TargetResult]:
        """Apply quiet hours, duplicates, the rate limit and the daily budget; return the items they settled."""
        now = _now()
        local_now = dt_util.now()
        today = local_now.date().isoformat()
        results: dict[str, TargetResult] = {}
        held = False
        for item in items:
            quiet_end = self._quiet_until(item, local_now)
            verdict = self._guard.decide(
                target=str(item.target),
                text=self._alert_text(item),
                severity=item.severity,
                now=now,
                today=today,
                parts=item.parts,
                quiet=quiet_end is not None,
            )
            if verdict is Verdict.SEND:
                continue
            if verdict is Verdict.QUIET and quiet_end is not None:
                until = dt_util.as_local(dt_util.utc_from_timestamp(quiet_end)).strftime("%H:%M")
                results[item.id] = self._hold(item, quiet_end, "quiet", SendStatus.QUEUED, f"quiet hours until {until}")
                held = True
            elif verdict is Verdict.DEDUPLICATED:
                results[item.id] = self._result(item, SendStatus.DEDUPLICATED, self._duplicate_reason(item))
            elif verdict is Verdict.THROTTLED:
                limit = self._guard.settings.rate_limit
                results[item.id] = self._hold(
                    item,
                    self._guard.window_end(str(item.target), now),
                    HOLD_THROTTLED,
                    SendStatus.THROTTLED,
                    f"over {limit} SMS per minute to this target: sent in a summary when the minute ends",
                )
                held = True
            else:
                results[item.id] = await self._async_over_budget(item)
                held = held or results[item.id].status is SendStatus.QUEUED
        if held:
            await self._async_save()
            self._queue_changed()
            self._schedule()
        return results

    def _alert_text(self, item: QueuedItem) -> str:
        """Return the alert's own text, which the duplicate window compares: without its acknowledgement reference."""
        if item.merged or not self._entry.options.get(CONF_ACK_REFERENCE):
            return item.text
        if (match := _REFERENCED.fullmatch(item.text)) is None:
            return item.text
        known = self._references.get(int(match.group(2)))
        return known[0] if known is not None else match.group(1)

    def _duplicate_reason(self, item: QueuedItem) -> str:
        """Say where the earlier copy of a duplicate is: held to go out once, or sent."""
        if self._guard.is_held(target=str(item.target), text=self._alert_text(item)):
            return "the same alert to this target is held already and goes out once"
        return f"the same alert went to this target in the last {self._guard.settings.dedup_window / 60:g} min"

    def _hold(self, item: QueuedItem, until: float, kind: str, status: SendStatus, reason: str) -> TargetResult:
        """Keep an alert in the outbox until `until`, when it goes out alone or in a summary."""
        item.hold_until, item.hold_kind, item.last_error = until, kind, reason
        self._items[item.id] = item
        self._guard.note_held(target=str(item.target), text=self._alert_text(item), now=_now())
        return self._result(item, status, reason)

    async def _async_over_budget(self, item: QueuedItem) -> TargetResult:
        """Refuse an alert whose SMS would pass the day's budget, with a repair issue; a fallback may take it."""
        budget = self._guard.settings.daily_budget
        left = self._guard.budget_left()
        self._issues_open = True
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            f"{self._entry.entry_id}_daily_budget",
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="daily_budget",
            translation_placeholders={"entry": self._entry.title, "budget": str(budget)},
        )
        if not left:
            return await self._async_fail(item, f"the daily budget of {budget} SMS is spent")
        return await self._async_fail(
            item, f"{left} of the daily budget of {budget} SMS is left; this alert needs {item.parts}"
        )

    def _quiet_until(self, item: QueuedItem, now: dt.datetime) -> float | None:
        """When the quiet hours of the item's recipient end, if they hold it at `now` (critical alerts pass)."""
        if item.severity == CRITICAL:
            return None
        quiet = self._quiet_hours.get(str(item.target))
        until = quiet.until(now) if quiet is not None else None
        return until.timestamp() if until is not None else None

    @staticmethod
    def _read_quiet_hours(entry: SmsAlertsConfigEntry) -> dict[str, QuietHours]:
        """Quiet hours by recipient target (a change of recipients reloads the entry, and this with it)."""
        quiet: dict[str, QuietHours] = {}
        for subentry in entry.subentries.values():
            data = subentry.data
            if subentry.subentry_type != SUBENTRY_RECIPIENT or not data.get(CONF_QUIET_START):
                continue
            start, end = dt_util.parse_time(data[CONF_QUIET_START]), dt_util.parse_time(data.get(CONF_QUIET_END, ""))
            if start is not None and end is not None:
                quiet.setdefault(data[CONF_TARGET], QuietHours(start=start, end=end))
        return quiet

    async def async_take_over(self, items: Sequence[QueuedItem]) -> list[TargetResult]:
        """Take messages another entry could not deliver, as its fallback (of one or several messages)."""
        taken: list[QueuedItem] = []
        results: dict[str, TargetResult] = {}
        for item in items:
            moved = replace(
                item,
                attempts=0,
                next_attempt=0.0,
                last_error=None,
                hold_until=0.0,
                hold_kind=None,
                visited=(*item.visited, self._entry.entry_id),
            )
            if item.target.kind not in self._provider.target_kinds:
                error = f"{self._entry.title} cannot send to {item.target.kind} targets"
                results[item.id] = await self._async_fail(moved, error)
            else:
                taken.append(moved)
        # One waiting here for this entry's own fallback is written, and looked at again
        await self._async_settle(results)
        if taken:
            LOGGER.info("%s takes over %s message(s) as fallback", self._entry.title, len(taken))
        # One message at a time, in order: a send carries the text of one message to its targets.
        # The later ones count as under way meanwhile (an unload writes them too).
        by_message: dict[str, list[QueuedItem]] = {}
        for item in taken:
            by_message.setdefault(item.message_id, []).append(item)
            self._in_flight[item.id] = item
        accepted = self._write_new(taken)
        try:
            for group in by_message.values():
                results.update(await self._async_take(group, accepted))
        finally:
            for item in taken:
                self._in_flight.pop(item.id, None)
        return [results[item.id] for item in items]

    async def _async_take(self, items: list[QueuedItem], accepted: int | None = None) -> dict[str, TargetResult]:
        """Try new items at once, unless the entry is blocked or their target has messages waiting.

        From now until each is settled (sent, queued, handed over, given up) they count as under way:
        they are written to the journal now, while their request starts (the caller does not wait for
        the disk), so neither a crash nor a reload loses one; an unload meanwhile writes or hands them over.
        `accepted` is the journal line that wrote them, if the caller did.
        """
        for item in items:
            self._in_flight[item.id] = item
        if accepted is None:
            accepted = self._write_new(items)
        try:
            async with self._lock:
                return await self._async_take_locked(items, accepted)
        finally:
            for item in items:
                self._in_flight.pop(item.id, None)
            self._write_settled(items)

    def _write_new(self, items: Iterable[QueuedItem]) -> int:
        """Start writing new items to the journal, marked as under way; return the number of the last line."""
        seq = 0
        if not self._closed:
            for item in items:
                seq = self._store.put({**item.to_stored(), IN_FLIGHT: True})
        return seq

    def _write_settled(self, items: Iterable[QueuedItem]) -> None:
        """Write at once that new items which do not wait here left the outbox (sent, handed over, given up)."""
        if self._closed:
            return
        for item in items:
            if item.id not in self._items:
                self._store.delete(item.id)
        self._flush()

    async def _async_take_locked(self, items: list[QueuedItem], accepted: int) -> dict[str, TargetResult]:
        """Send, queue or hand over new items, with the lock held; stop where the entry was unloaded."""
        results: dict[str, TargetResult] = {}
        if self._unloaded_now():
            # While they waited for the lock: the unload wrote them, or handed them over
            return self._unloaded(items)
        if self._block is Block.AUTH:
            # Refused credentials are never tried again before reauth: new messages go elsewhere at once
            for item in items:
                if self._unloaded_now():
                    break
                del self._in_flight[item.id]
                results[item.id] = await self._async_fail(item, self._block_error or str(self._block))
        else:
            was_down = self.known_down()
            await self._async_try_waiting_first(items, was_down)
            waiting = {queued.target for queued in self._items.values() if not queued.hold_kind}
            await self._async_queue_behind([item for item in items if item.target in waiting], was_down, results)
            await self._async_send_direct([item for item in items if item.target not in waiting], was_down, results)
        if self._unloaded_now():
            return {**results, **self._unloaded([item for item in items if item.id not in results])}
        await self._async_settle(results, accepted)
        return results

    async def _async_try_waiting_first(self, items: list[QueuedItem], was_down: bool) -> None:
        """Try the messages waiting for the targets of new items now, oldest first, so these need not queue.

        A device that answers again is found by the next alert, whatever its target. Not within
        RETRY_INITIAL of a failed request (a storm to a device that is down makes no request per
        alert), nor for a target whose alerts the fallback takes because the provider is known down.
        """
        if _now() < self._failed_at + RETRY_INITIAL:
            return
        targets = {item.target for item in items if not (was_down and self._fallback(item))}
        tried = False
        while not self._unloaded_now() and self._block is not Block.AUTH:
            heads = [item for item in self._heads() if item.target in targets]
            if not heads:
                break
            group = [item for item in heads if item.message_id == heads[0].message_id]
            tried = True
            for item, result in await self._async_try_group(group):
                self._update_report(item, result)
            if any(item.id in self._items for item in group):
                break  # still waiting: the new items queue behind it
        if tried and not self._unloaded_now():
            # What went out leaves the journal now: a crash must not send it again
            self._flush()
            self._queue_changed()

    async def _async_queue_behind(
        self, items: list[QueuedItem], was_down: bool, results: dict[str, TargetResult]
    ) -> None:
        """Queue new items behind the messages waiting for their targets (or hand them all over, in order)."""
        for item in items:
            if was_down and self._fallback(item):
                # Waiting here behind messages to a provider that is down helps nobody: those go first
                await self._async_hand_over_waiting(item.target)
            if self._unloaded_now():
                return
            del self._in_flight[item.id]
            if was_down and self._fallback(item) and not self._waiting_for(item.target):
                results[item.id] = await self._async_fail(item, f"{self._entry.title} is unreachable")
                continue
            item.last_error = "waiting behind earlier messages to this target"
            self._items[item.id] = item
            results[item.id] = self._result(item, SendStatus.QUEUED, item.last_error)

    def _waiting_for(self, target: Target) -> bool:
        """Tell whether messages wait for a target in the order of its queue (held ones aside)."""
        return any(queued.target == target and not queued.hold_kind for queued in self._items.values())

    async def _async_hand_over_waiting(self, target: Target) -> None:
        """Hand the messages waiting for a target to the fallback, oldest first, up to one it may not take."""
        handed = False
        for item in [queued for queued in self._items.values() if queued.target == target and not queued.hold_kind]:
            if self._unloaded_now() or self._fallback(item) is None:
                break
            if self._items.pop(item.id, None) is None:
                continue  # a drain pass took it meanwhile
            handed = True
            result = await self._async_fail(item, item.last_error or f"{self._entry.title} is unreachable")
            self._update_report(item, result)
        if handed and not self._unloaded_now():
            # Handed over: no longer this entry's, so a crash must not send it again from here
            self._flush()
            self._queue_changed()

    async def _async_send_direct(
        self, items: list[QueuedItem], was_down: bool, results: dict[str, TargetResult]
    ) -> None:
        """Make the first request for new items and act on the answers."""
        if not items or self._unloaded_now():
            return
        receipts = await self._async_provider_send(items)
        for index, (item, receipt) in enumerate(zip(items, receipts, strict=True)):
            if self._unloaded_now():
                results.update(self._unloaded(items[index:], receipts[index:]))
                return
            del self._in_flight[item.id]
            if was_down and receipt.outcome is Outcome.TRANSIENT and self._fallback(item):
                # Known down before this try too: the fallback takes it now instead of after retries
                results[item.id] = await self._async_fail(item, receipt.error or "provider unreachable")
            else:
                results[item.id] = await self._async_handle(item, receipt, queued=False)

    def _unloaded_now(self) -> bool:
        """Tell whether the entry was unloaded (asked again after every wait: it changes meanwhile)."""
        return self._closed

    def _unloaded(self, items: list[QueuedItem], receipts: list[Receipt] | None = None) -> dict[str, TargetResult]:
        """Report new messages the entry was unloaded under: the unload wrote them, or handed them over.

        Whoever holds them now (the reloaded entry, the fallback) sends them; nothing more happens
        here. A request that went through is reported sent, though they may send it again.
        """
        title = self._entry.title
        results = {item.id: self._result(item, SendStatus.QUEUED, f"{title} was unloaded meanwhile") for item in items}
        for item, receipt in zip(items, receipts or (), strict=False):
            if receipt.outcome is Outcome.SENT:
                results[item.id] = self._result(item, SendStatus.SENT, None, receipt.message_id)
        return results

    async def _async_settle(self, results: dict[str, TargetResult], accepted: int | None = None) -> None:
        """Write what changed after new messages were tried, and plan the retries.

        Queued messages are on disk before the action returns: the journal line `accepted` holds them
        (written while their request ran, so mostly on disk already); without it, every line so far.
        """
        if self._closed:
            # Unloaded meanwhile: the file belongs to the entry's next outbox now
            return
        queued = any(result.status is SendStatus.QUEUED for result in results.values())
        if queued:
            self._flush()
            await self._store.async_written(accepted)
            self._queue_changed()
            self._schedule()

    async def _async_provider_send(self, items: list[QueuedItem]) -> list[Receipt]:
        """Send one message's items through the provider; an unexpected error keeps them all for another try."""
        try:
            return await self._provider.async_send(items[0].sms(), [item.target for item in items])
        except Exception as err:  # noqa: BLE001 - logged with its traceback; the messages must not be lost
            error = self._provider.unexpected_error(err, ", ".join(mask_target(item.target) for item in items))
            return [error_receipt(item.target, error) for item in items]

    async def _async_handle(self, item: QueuedItem, receipt: Receipt, *, queued: bool) -> TargetResult:
        """Act on one provider answer; `queued` tells whether the item is in the outbox already."""
        outcome = receipt.outcome
        error = receipt.error or str(outcome)
        if outcome not in (Outcome.SENT, Outcome.TARGET):
            self._failed_at = _now()
        if outcome is Outcome.SENT:
            self._on_success()
            if queued:
                del self._items[item.id]
            if receipt.message_id:
                self._remember_sent(receipt.message_id, item)
            return self._result(item, SendStatus.SENT, None, receipt.message_id)
        if outcome is Outcome.TRANSIENT and (receipt.max_attempts is None or item.attempts + 1 < receipt.max_attempts):
            item.attempts += 1
            item.last_error = error
            item.next_attempt = _now() + backoff(item.attempts, receipt.retry_after)
            self._retry_at = max(self._retry_at, item.next_attempt)
            self._items[item.id] = item
            LOGGER.info(
                "%s: message to %s queued after try %s (%s); next try in %.0f s",
                self._entry.title,
                mask_target(item.target),
                item.attempts,
                error,
                item.next_attempt - _now(),
            )
            return self._result(item, SendStatus.QUEUED, error)
        if outcome in (Outcome.AUTH, Outcome.CONFIG):
            self._set_block(Block.AUTH if outcome is Outcome.AUTH else Block.CONFIG, receipt)
            if queued:
                # Waits without requests until the credentials or the account are fixed
                item.last_error = error
                self._items.touch(item.id)
                return self._result(item, SendStatus.QUEUED, error)
        if queued:
            del self._items[item.id]
        return await self._async_fail(item, error)

    async def _async_fail(self, item: QueuedItem, error: str) -> TargetResult:
        """Hand a message this entry cannot deliver to the fallback entry; give it up where none can.

        A fallback entry being set up (at start) or reloaded takes it in a moment: the message waits
        here for it, held, until it is loaded or the message's lifetime ends.
        """
        fallback = self._fallback(item)
        pending = self._pending_fallback(item) if fallback is None else None
        if pending is not None and fallback_coming(pending):
            item.hold_until, item.hold_kind, item.last_error = _now() + FALLBACK_WAIT, HOLD_FALLBACK, error
            self._items[item.id] = item
            return self._result(item, SendStatus.QUEUED, f"waiting for {pending.title} to be loaded: {error}")
        if fallback is not None:
            LOGGER.info(
                "%s hands the message to %s over to %s (%s)",
                self._entry.title,
                mask_target(item.target),
                fallback._entry.title,  # noqa: SLF001 - outboxes of one integration
                error,
            )
            # Shielded: the fallback owns the message now, even if this side is cancelled (an unload)
            return (await asyncio.shield(fallback.async_take_over([item])))[0]
        self._give_up(item, error)
        return self._result(item, SendStatus.FAILED, error)

    def _fallback(self, item: QueuedItem) -> Outbox | None:
        """Return the loaded fallback entry's outbox, unless the message has been there already."""
        if self._entry.options.get(CONF_FALLBACK_ENTRY) in item.visited:
            return None
        return fallback_outbox(self._hass, self._entry)

    def _fallback_coming_for(self, item: QueuedItem) -> bool:
        """Tell whether the fallback entry that would take the message is being set up or reloaded."""
        pending = self._pending_fallback(item)
        return pending is not None and fallback_coming(pending)

    def _pending_fallback(self, item: QueuedItem) -> SmsAlertsConfigEntry | None:
        """Return the fallback entry that would take the message if it were loaded, but is not."""
        if self._entry.options.get(CONF_FALLBACK_ENTRY) in item.visited:
            return None
        fallback = fallback_entry(self._hass, self._entry)
        return fallback if fallback is not None and fallback.state is not ConfigEntryState.LOADED else None

    def _result(
        self, item: QueuedItem, status: SendStatus, error: str | None, message_id: str | None = None
    ) -> TargetResult:
        """Build the result of one target as this entry reports it."""
        return TargetResult(
            target=str(item.target),
            status=status,
            provider=self._provider.key,
            error=error,
            parts=item.parts,
            message_id=message_id,
            encoding=item.encoding,
        )

    def _remember_sent(self, message_id: str, item: QueuedItem) -> None:
        """Keep the latest provider message ids, to match delivery reports to their sends.

        Where the provider reports deliveries, they are kept on disk too: a report may come hours
        later, after a restart or a reload, and a FAILED one must still find its message.
        """
        self._sent[message_id] = item
        if len(self._sent) > SENT_MEMORY:
            del self._sent[next(iter(self._sent))]
        if self._provider.reports_delivery and not self._closed:
            self._store.sent(message_id, item.to_stored())

    @callback
    async def async_delivery_report(self, message_id: str, state: str, to: str = "") -> bool:
        """Act on a provider's delivery report; a failed delivery counts as a failed send. False if unknown."""
        item = self._sent.get(message_id)
        if item is None:
            if state.upper() == DELIVERY_FAILED and message_id not in self._failed_reports:
                # Sent too long ago to be remembered: it cannot be sent again, but it must not pass silently
                LOGGER.warning(
                    "%s: the provider reported the delivery of message %s to %s as failed; "
                    "the message is too old to be known here, so it cannot be sent again",
                    self._entry.title,
                    message_id,
                    mask_target(to),
                )
                error = f"the provider reported the delivery as failed (message {message_id}, no longer known)"
                fire_failed(self._hass, self._entry, to, "", error)
            return False
        report = self.last_report
        if report is not None and item.id in report.item_ids:
            self.last_report = report.with_delivery(item.id, state)
            async_dispatcher_send(self._hass, SIGNAL_SEND_REPORT.format(self._entry.entry_id), self.last_report)
        if state.upper() == DELIVERY_FAILED:
            del self._sent[message_id]
            if not self._closed:
                self._store.unsent(message_id)
            # The same report posted again (the provider missed our answer) is acted on once
            self._failed_reports[message_id] = None
            while len(self._failed_reports) > SENT_MEMORY:
                del self._failed_reports[next(iter(self._failed_reports))]
            result = await self._async_fail(item, "the provider reported the delivery as failed")
            self._update_report(item, result)
            # Forgotten as sent; kept if it now waits for a fallback being reloaded
            await self._async_save()
            if result.status is SendStatus.QUEUED:
                self._queue_changed()
                self._schedule()
        return True

    @callback
    def async_acknowledged(self, text: str) -> tuple[int, str, tuple[str, ...]] | None:
        """Find the alert a reply acknowledges by its reference (#42): (reference, message, targets), or None."""
        for match in _REFERENCE.finditer(text):
            reference = int(match.group(1))
            known = self._references.get(reference)
            if known is not None:
                return reference, *known
        return None

    def _give_up(self, item: QueuedItem, error: str) -> None:
        """Log a message given up for good once, and fire the event automations escalate on."""
        missing = self._pending_fallback(item)
        LOGGER.warning(
            "Message to %s via %s failed: %s%s",
            mask_target(item.target),
            self._entry.title,
            error,
            "" if missing is None else f"; its fallback {not_loaded(missing)}",
        )
        fire_failed(self._hass, self._entry, str(item.target), item.text, error)

    # Entry state

    def _set_block(self, block: Block, receipt: Receipt) -> None:
        """Stop sending: start reauth for refused credentials, raise a repair issue for an unusable account."""
        first = self._block is None
        self._block = block
        self._block_error = receipt.error
        if block is Block.AUTH:
            if first:
                LOGGER.warning("%s refused the credentials; reauthentication started", self._entry.title)
            self._entry.async_start_reauth(self._hass)
            return
        # An account fixed on the device side is found by one try per retry cap, never more often
        self._retry_at = _now() + RETRY_MAX
        self._issues_open = True
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            self._issue_id(receipt.error_key),
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=receipt.error_key if receipt.error_key in ENTRY_ISSUES else "entry_rejected",
            translation_placeholders={"entry": self._entry.title, "error": receipt.error or ""},
        )

    def _on_success(self) -> None:
        """Clear the entry's block and repair issues after a success, and let waiting messages follow at once."""
        waited = self._block is not None or self._retry_at or self._failed_at
        self._block = None
        self._block_error = None
        self._retry_at = 0.0
        if waited:
            self.async_recovered()
        if self._issues_open:
            self._issues_open = False
            for key in ENTRY_ISSUES:
                ir.async_delete_issue(self._hass, DOMAIN, self._issue_id(key))

    @callback
    def async_recovered(self) -> None:
        """Try what waits now: the provider answers again (a send went through, its status page answers).

        Waiting messages go at once, not at their next retry; those held (quiet hours, rate limit,
        a fallback being loaded) keep their time, and refused credentials still wait for a new login.
        """
        if self._closed or self._block is Block.AUTH:
            return
        now = _now()
        self._retry_at = 0.0
        self._failed_at = 0.0
        for item in self._items.values():
            if not item.hold_kind and item.next_attempt > now:
                item.next_attempt = now
        self._schedule()

    def _issue_id(self, key: str | None) -> str:
        """One repair issue per entry and cause."""
        return f"{self._entry.entry_id}_{key if key in ENTRY_ISSUES else 'entry_rejected'}"

    # Draining

    @callback
    def _schedule(self, minimum: float = 0.0) -> None:
        """Drain now if something is due, else wake at the next moment something will be."""
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None
        if self._closed or not self._items:
            return
        delay = max(minimum, self._next_wake() - _now())
        if delay <= 0:
            self._start_drain()
        else:
            self._unsub_timer = async_call_later(self._hass, delay, self._async_wake)

    def _next_wake(self) -> float:
        """Earliest time a try, a hand-over or an expiry is due."""
        items = self._items.values()
        moments = [item.created + self.max_age for item in items]
        moments += [
            item.hold_until if item.hold_kind != HOLD_FALLBACK or self._fallback_coming_for(item) else 0.0
            for item in items
            if item.hold_kind
        ]
        moments += [item.created + self.handover_delay for item in items if not item.hold_kind and self._fallback(item)]
        if self._block is not Block.AUTH:
            heads = self._heads()
            moments += [max(item.next_attempt, self._retry_at) for item in heads]
        return min(moments)

    def _heads(self) -> list[QueuedItem]:
        """Return the oldest waiting message of each target: only it may be tried (order per target)."""
        heads: dict[Target, QueuedItem] = {}
        for item in self._items.values():
            if item.hold_kind:
                continue
            heads.setdefault(item.target, item)
        return list(heads.values())

    @callback
    def _async_wake(self, _now_dt: dt.datetime) -> None:
        """Start a drain pass when the timer fires."""
        self._unsub_timer = None
        self._start_drain()

    @callback
    def _start_drain(self) -> None:
        """Run a drain pass in the background."""
        self._entry.async_create_background_task(
            self._hass, self.async_drain(), f"{DOMAIN} outbox {self._entry.entry_id}"
        )

    async def async_drain(self) -> None:
        """Expire, hand over, then try every due message, oldest first per target, until none is due."""
        if self._draining:
            return  # the running pass goes on until nothing is due
        self._draining = True
        try:
            await self._async_expire_and_hand_over()
            self._release_held()
            while groups := self._due_groups():
                for group in groups:
                    sending = await self._async_send_group(group)
                    # Settled at once: a crash in the middle of a drain sends again only what was under way
                    self._flush()
                    if not sending:
                        break
                self._queue_changed()
        finally:
            self._draining = False
            self._flush()
            # Never spin: whatever is left waits at least a second
            self._schedule(minimum=1.0)

    async def _async_send_group(self, group: list[QueuedItem]) -> bool:
        """Send the due heads of one message in one provider call; False when the entry must stop for now."""
        async with self._lock:
            if self._closed or not self._may_send():
                return False
            handled = await self._async_try_group(group)
        for item, result in handled:
            self._update_report(item, result)
        return self._may_send()

    async def _async_try_group(self, group: list[QueuedItem]) -> list[tuple[QueuedItem, TargetResult]]:
        """Make one provider call for waiting heads of one message (those still waiting), with the lock held."""
        group = [item for item in group if item.id in self._items]
        if not group:
            return []
        receipts = await self._async_provider_send(group)
        return [
            (item, await self._async_handle(item, receipt, queued=True))
            for item, receipt in zip(group, receipts, strict=True)
        ]

    def _release_held(self, early: str | None = None) -> None:
        """Turn held alerts whose time has come into sendable items: one alone, several as one summary.

        `early` releases every alert of that kind of hold now, whatever its time.
        """
        now = _now()
        due: dict[Target, list[QueuedItem]] = {}
        for item in self._items.values():
            if item.hold_kind not in (None, HOLD_FALLBACK) and (item.hold_until <= now or item.hold_kind == early):
                due.setdefault(item.target, []).append(item)
        today = dt_util.now().date().isoformat()
        for target, group in due.items():
            for item in group:
                self._guard.note_released(target=str(target), text=self._alert_text(item), now=now)
            if len(group) == 1:
                item = group[0]
                item.hold_kind, item.hold_until, item.next_attempt = None, 0.0, 0.0
                self._items.touch(item.id)
            else:
                for item in group:
                    del self._items[item.id]
                item = self._summary(target, group)
                self._items[item.id] = item
            self._guard.note_sent(
                target=str(target), text=self._alert_text(item), now=now, today=today, parts=item.parts
            )
        if due:
            self._queue_changed()

    def _summary(self, target: Target, group: list[QueuedItem]) -> QueuedItem:
        """One SMS standing for several held alerts to one target."""
        texts = [(item.severity, item.text, item.created) for item in group]
        limit = GSM_SINGLE
        text = summary_text(texts, limit)
        while self._info(text).parts > 1:
            # UCS-2 (or escape characters) need a shorter cut to fit one SMS
            limit = UCS2_SINGLE if limit == GSM_SINGLE else limit - 10
            text = summary_text(texts, limit)
        first = group[0]
        return replace(
            first,
            id=new_id(),
            text=text,
            parts=1,
            encoding=str(self._info(text).encoding),
            severity=max((item.severity for item in group), key=lambda s: SEVERITY_RANK.get(s, 1)),
            created=min(item.created for item in group),
            attempts=0,
            next_attempt=0.0,
            last_error=None,
            hold_until=0.0,
            hold_kind=None,
            merged=tuple(item_id for item in group for item_id in (item.id, *item.merged)),
        )

    def _may_send(self) -> bool:
        """Tell whether the entry may make requests now (no refused login, no backoff running)."""
        return self._block is not Block.AUTH and _now() >= self._retry_at

    def _due_groups(self) -> list[list[QueuedItem]]:
        """Due heads, grouped by message (one provider call each), oldest message first."""
        if self._closed or not self._may_send():
            return []
        now = _now()
        groups: dict[str, list[QueuedItem]] = {}
        for item in self._heads():
            if item.next_attempt <= now:
                groups.setdefault(item.message_id, []).append(item)
        return list(groups.values())

    async def _async_expire_and_hand_over(self) -> None:
        """Give up messages past their lifetime; hand long-waiting ones to the fallback."""
        now = _now()
        expired = [item for item in self._items.values() if item.created + self.max_age <= now]
        for item in expired:
            del self._items[item.id]
            error = f"not delivered within {self.max_age / 3600:g} h: {item.last_error}"
            self._give_up(item, error)
            self._update_report(item, self._result(item, SendStatus.FAILED, error))
        due = [
            item
            for item in self._items.values()
            if not item.hold_kind and (item.created + self.handover_delay <= now or self.known_down())
        ]
        waited = [item for item in due if self._fallback(item)]
        self._note_fallback_missing([item for item in due if not self._fallback(item)])
        # Held for a fallback that was being set up: it takes them now, or they wait on, or it is gone for good
        # (before held alerts are released, so these are never sent here)
        waited += [
            item
            for item in self._items.values()
            if item.hold_kind == HOLD_FALLBACK and (item.hold_until <= now or not self._fallback_coming_for(item))
        ]
        for item in waited:
            if self._items.pop(item.id, None) is None:
                continue  # a new alert to its target handed it over meanwhile
            result = await self._async_fail(item, item.last_error or "waited too long")
            self._update_report(item, result)
        if expired or waited:
            self._queue_changed()

    def _note_fallback_missing(self, stuck: list[QueuedItem]) -> None:
        """Warn once that messages due for the fallback stay here because it is not loaded (again once it was)."""
        missing = next((entry for item in stuck if (entry := self._pending_fallback(item)) is not None), None)
        if missing is not None and not self._fallback_missing_noted:
            self._fallback_missing_noted = True
            LOGGER.warning(
                "%s cannot hand %s waiting message(s) over: its fallback %s; they stay here",
                self._entry.title,
                len(stuck),
                not_loaded(missing),
            )

    def _update_report(self, item: QueuedItem, result: TargetResult) -> None:
        """Let the last report follow a message that was delivered, handed over or given up later."""
        report = self.last_report
        if report is None or result.status is SendStatus.QUEUED:
            return
        ids = [item_id for item_id in (item.id, *item.merged) if item_id in report.item_ids]
        if not ids:
            return
        for item_id in ids:
            report = report.with_result(item_id, result)
        self.last_report = report
        async_dispatcher_send(self._hass, SIGNAL_SEND_REPORT.format(self._entry.entry_id), self.last_report)

    @callback
    def _queue_changed(self) -> None:
        """Tell the queue sensor."""
        async_dispatcher_send(self._hass, SIGNAL_QUEUE_CHANGED.format(self._entry.entry_id), len(self._items))

    def _flush(self) -> None:
        """Start writing what changed to the journal (a line per changed item); a snapshot now and then."""
        if self._closed:
            return
        for item_id in self._items.take_changes():
            item = self._items.get(item_id)
            if item is not None:
                self._store.put(item.to_stored())
            elif item_id not in self._in_flight:
                self._store.delete(item_id)
        if self._store.compaction_due(len(self._items)):
            self._hass.async_create_task(self._async_snapshot(), f"{DOMAIN} outbox snapshot", eager_start=False)

    async def _async_snapshot(self) -> None:
        """Write the whole outbox as the Store file, so the journal starts over."""
        if not self._closed:
            await self._store.async_snapshot(self._stored_data)

    async def _async_save(self) -> None:
        """Write what changed and wait until it is on disk: a crash a moment later must not lose it."""
        self._flush()
        await self._store.async_written()

    def _stored_data(self) -> dict[str, Any]:
        """Return the outbox file: waiting messages, then any whose first request is under way."""
        items = [item.to_stored() for item in self._items.values()]
        items += [{**item.to_stored(), IN_FLIGHT: True} for item in self._in_flight.values()]
        data: dict[str, Any] = {
            "items": items,
            "next_reference": self._next_reference,
            "references": [[number, text, list(targets)] for number, (text, targets) in self._references.items()],
        }
        if self._provider.reports_delivery:
            data["sent"] = [[message_id, item.to_stored()] for message_id, item in self._sent.items()]
        return data

    def _load_sent(self, stored: Any) -> None:
        """Read the remembered sends back (for late delivery reports); anything malformed is dropped."""
        sent = stored.get("sent") if isinstance(stored, dict) else None
        targets: dict[tuple[Any, Any], Target] = {}
        for entry in sent if isinstance(sent, list) else []:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                message_id, data = entry
                self._sent[str(message_id)] = QueuedItem.from_stored(data, targets)
        while len(self._sent) > SENT_MEMORY:
            del self._sent[next(iter(self._sent))]

    def _load_references(self, stored: Any) -> None:
        """Read the acknowledgement references back; anything malformed is dropped."""
        if not isinstance(stored, dict):
            return
        with contextlib.suppress(TypeError, ValueError):
            self._next_reference = max(1, int(stored.get("next_reference", 1)))
        for entry in stored.get("references", []) if isinstance(stored.get("references"), list) else []:
            with contextlib.suppress(TypeError, ValueError):
                number, text, targets = entry
                self._references[int(number)] = (str(text), tuple(str(target) for target in targets))
