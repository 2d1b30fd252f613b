"""Escalations of an entry's open alerts: pages step by step until acknowledged, one timer, kept with the book.

An alert that opens at or above its source's escalation severity is paged to its policy's first step at
once, instead of the routed recipients; later steps follow when their wait ran out unanswered. Each page
goes to the outbox first and is marked paged only after the outbox has it on disk, so a crash repeats at
most the page that was under way. The pure rules are in `alerts/escalation.py`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util

from .alert_transitions import PAGED, async_send_transition
from .alerts import escalation as rules
from .alerts.book import AlertBook, OpenAlert
from .alerts.escalation import Escalation, EscalationState, Page
from .alerts.models import Alert, Severity
from .alerts.paging import ack_text, label, page_text, same_number
from .api.base import mask_target
from .const import LOGGER
from .entry_timer import EntryTimer
from .outbox import SendOptions

if TYPE_CHECKING:
    import asyncio

    from .alert_source_config import SourceConfig
    from .alert_texts import AlertTexts

RING = "ring"


class Pager(Protocol):
    """What escalations need of the alert sources: the book, the recipients, the outbox, the lock."""

    book: AlertBook
    sources: dict[str, SourceConfig]
    lock: asyncio.Lock
    texts: AlertTexts
    # False once the entry unloads: nothing is paged from then on
    taking: bool

    def recipient_targets(self) -> dict[str, str]:
        """Return the target of each recipient, by subentry id."""

    def recipient_names(self) -> dict[str, str]:
        """Return the name of each recipient, by subentry id."""

    async def async_submit(
        self,
        source: SourceConfig,
        text: str,
        target: str,
        severity: Severity,
        fingerprints: Sequence[str] = (),
        options: SendOptions | None = None,
    ) -> str | None:
        """Hand one SMS to the outbox; its item id once on disk, None when refused."""

    def changed(self) -> None:
        """Save the book soon and tell the sensors."""

    async def async_save(self) -> None:
        """Save the book now."""


@dataclass(frozen=True, kw_only=True)
class Tracked:
    """An escalated alert: what its pages say, and where its escalation stands."""

    source: str
    fingerprint: str
    code: str
    label: str
    text: str
    severity: Severity
    escalation: Escalation

    def as_dict(self) -> dict[str, Any]:
        """Return the stored form."""
        return {
            "source": self.source,
            "fingerprint": self.fingerprint,
            "code": self.code,
            "label": self.label,
            "text": self.text,
            "severity": str(self.severity),
            "escalation": rules.to_stored(self.escalation),
        }

    @classmethod
    def from_dict(cls, raw: object) -> Tracked | None:
        """Read the stored form; None for what cannot be read."""
        if not isinstance(raw, dict) or not isinstance(raw.get("escalation"), dict):
            return None
        escalation = rules.from_stored(raw["escalation"])
        if escalation is None:
            return None
        try:
            return cls(
                source=str(raw["source"]),
                fingerprint=str(raw["fingerprint"]),
                code=str(raw["code"]),
                label=str(raw.get("label", "")),
                text=str(raw["text"]),
                severity=Severity.of(raw.get("severity")),
                escalation=escalation,
            )
        except KeyError:
            return None


class Escalations:
    """The escalations of one entry's open alerts, and the one timer of the earliest due time."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        pager: Pager,
        *,
        can_ring: bool,
        replies: Callable[[], bool],
    ) -> None:
        """Start with nothing escalated; the provider can ring a page's recipients; `replies`: a reply reaches us."""
        self._hass = hass
        self._entry = entry
        self._can_ring = can_ring
        self._replies = replies
        self._pager = pager
        self.tracked: dict[tuple[str, str], Tracked] = {}
        self._timer = EntryTimer(hass, entry, "escalation", self._async_run)
        self._now: Callable[[], dt.datetime] = dt_util.utcnow
        # Whether a source's escalations are paused (its maintenance window is open)
        self.paused: Callable[[str], bool] = lambda _source_id: False

    # Storage

    def load(self, stored: object) -> None:
        """Read the stored escalations of alerts still open."""
        if not isinstance(stored, list):
            return
        for raw in stored:
            tracked = Tracked.from_dict(raw)
            if tracked is not None and (tracked.source, tracked.fingerprint) in self._pager.book.open:
                self.tracked[(tracked.source, tracked.fingerprint)] = tracked

    def as_stored(self) -> list[dict[str, Any]]:
        """Return the stored form."""
        return [tracked.as_dict() for tracked in self.tracked.values()]

    # Transitions

    def start(self, source: SourceConfig, opened: OpenAlert, alert: Alert) -> bool:
        """Escalate an alert that just opened when its source's policy applies; tell whether it does."""
        policy = source.escalation
        if not policy.applies(alert.severity):
            return False
        key = (source.subentry_id, opened.fingerprint)
        self.tracked[key] = Tracked(
            source=source.subentry_id,
            fingerprint=opened.fingerprint,
            code=opened.code,
            label=label(alert),
            text=self._pager.texts.text(source, alert, opened),
            severity=alert.severity,
            escalation=rules.start(policy, opened.code, self._now()),
        )
        LOGGER.info("%s: %s (%s) is escalated", source.name, alert.shown_name, opened.code)
        return True

    def escalating(self, source_id: str, fingerprint: str) -> bool:
        """Tell whether an alert's escalation still pages."""
        tracked = self.tracked.get((source_id, fingerprint))
        return tracked is not None and tracked.escalation.active

    def resolve(self, source_id: str, fingerprint: str) -> None:
        """End an alert's escalation: its source resolved it (RESOLVED goes to those told, as for any alert)."""
        if self.tracked.pop((source_id, fingerprint), None) is not None:
            self.arm()

    def acknowledge(self, source_id: str, fingerprint: str, by: str) -> Tracked | None:
        """End an active escalation as acknowledged; return it, or None when there was none running."""
        tracked = self.tracked.get((source_id, fingerprint))
        if tracked is None or not tracked.escalation.active:
            return None
        ended = replace(tracked, escalation=rules.acknowledge(tracked.escalation, self._now(), by))
        self.tracked[(source_id, fingerprint)] = ended
        self.arm()
        return ended

    def snooze(self, source_id: str, fingerprint: str, minutes: int) -> dt.datetime | None:
        """Hold an active escalation for some minutes; return until when, or None when none is running."""
        tracked = self.tracked.get((source_id, fingerprint))
        if tracked is None or not tracked.escalation.active:
            return None
        until = self._now() + dt.timedelta(minutes=minutes)
        self.tracked[(source_id, fingerprint)] = replace(tracked, escalation=rules.snooze(tracked.escalation, until))
        self.arm()
        return until

    def keep(self, open_alerts: Mapping[tuple[str, str], OpenAlert]) -> None:
        """Forget the escalations of alerts no longer open (forgotten by the book's bound)."""
        self.tracked = {key: tracked for key, tracked in self.tracked.items() if key in open_alerts}

    # Pages

    async def async_page_due(self) -> None:
        """Page every step that is due, and end escalations whose last wait ran out (the caller holds the lock)."""
        paged = False
        for key, tracked in list(self.tracked.items()):
            source = self._pager.sources.get(tracked.source)
            if source is None or not tracked.escalation.active or self.paused(tracked.source):
                continue
            policy = source.escalation
            now = self._now()
            if not policy.steps:
                # The source's policy was taken away: its escalations end, nobody is paged any more
                self.tracked[key] = replace(tracked, escalation=rules.resolve(tracked.escalation, now))
                self._pager.changed()
                continue
            escalation = rules.fit(policy, tracked.escalation)
            if escalation is not tracked.escalation:
                # The policy was edited: a step past its new end starts the next round
                self.tracked[key] = replace(tracked, escalation=escalation)
                self._pager.changed()
            ended = rules.exhausted(policy, escalation, now)
            if ended is not escalation:
                LOGGER.warning(
                    "%s: nobody acknowledged %s (%s); its escalation ran out", source.name, tracked.label, tracked.code
                )
                self.tracked[key] = replace(tracked, escalation=ended)
                self._pager.changed()
                continue
            page = rules.due_page(policy, escalation, now)
            if page is None:
                continue
            await self._async_page(source, tracked, page)
            # Marked only now that the outbox has the page on disk: a crash before repeats this page only
            current = self.tracked.get(key)
            if current is not None:
                self.tracked[key] = replace(current, escalation=rules.mark_paged(policy, current.escalation, page, now))
            paged = True
        if paged:
            self._pager.changed()
            await self._pager.async_save()
        self.arm()

    async def _async_page(self, source: SourceConfig, tracked: Tracked, page: Page) -> None:
        """Send one step's page to its recipients (with a ring where asked and the provider can)."""
        targets = self._pager.recipient_targets()
        ring = page.ring and self._can_ring
        if page.ring and not ring:
            LOGGER.debug("%s: the provider cannot ring; %s is paged by SMS only", source.name, tracked.code)
        options = SendOptions(ring=True) if ring else None
        text = page_text(tracked.text, tracked.code, replies=self._replies())
        LOGGER.info("%s: paging step %d (round %d) of %s", source.name, page.step + 1, page.round + 1, tracked.code)
        names = self._pager.recipient_names()
        paged = []
        for recipient in page.recipients:
            target = targets.get(recipient)
            if target is None:
                LOGGER.warning("%s: a recipient of step %d was removed; not paged", source.name, page.step + 1)
                continue
            item_id = await self._pager.async_submit(
                source, text, target, tracked.severity, [tracked.fingerprint], options
            )
            if item_id is not None:
                self._pager.book.notified(tracked.source, tracked.fingerprint, {target: item_id})
                paged.append(f"{names.get(recipient, recipient)} ({mask_target(target)})")
        if paged and (opened := self._pager.book.open.get((tracked.source, tracked.fingerprint))) is not None:
            who = ", ".join(paged)
            async_send_transition(
                self._hass, self._entry.entry_id, opened, PAGED, who, step=page.step + 1, round=page.round + 1
            )

    async def async_announce(self, source: SourceConfig, tracked: Tracked, by: str, sender: str | None) -> None:
        """Tell everybody paged so far, except the one who replied, that the alert was acknowledged."""
        targets = self._pager.recipient_targets()
        text = ack_text(tracked.code, tracked.label, by)
        chosen = [targets[who] for who in tracked.escalation.told if who in targets]
        for target in dict.fromkeys(chosen):
            if sender is not None and same_number(target, sender):
                continue
            await self._pager.async_submit(source, text, target, tracked.severity)

    # The timer

    @callback
    def arm(self) -> None:
        """Set the one timer to the earliest due time (a step, a snooze's end, a last wait's end)."""
        times = [
            when
            for tracked in self.tracked.values()
            if not self.paused(tracked.source) and (when := rules.next_time(tracked.escalation))
        ]
        self._timer.set(min(times) if times else None)

    @callback
    def cancel(self) -> None:
        """Stop the timer (at unload)."""
        self._timer.cancel()

    async def _async_run(self) -> None:
        """Page what is due, one body or page at a time (not once the entry unloads: its next load pages it)."""
        async with self._pager.lock:
            if self._pager.taking:
                await self.async_page_due()

    # What is shown

    def describe(self, source_id: str, fingerprint: str, names: Mapping[str, str]) -> dict[str, Any] | None:
        """Describe an alert's escalation for its sensor and diagnostics (no numbers): None when it is not escalated."""
        tracked = self.tracked.get((source_id, fingerprint))
        if tracked is None:
            return None
        escalation = tracked.escalation
        policy = self._pager.sources[source_id].escalation if source_id in self._pager.sources else None
        steps = len(policy.steps) if policy is not None else 0
        last = escalation.paged[-1] if escalation.paged else None
        return {
            "state": str(escalation.state),
            "step": None if last is None else last.step + 1,
            "steps": steps,
            "round": None if last is None else last.round + 1,
            "pages": len(escalation.paged),
            "paged": [names.get(who, who) for who in escalation.told],
            "last_page": None if last is None else last.at.isoformat(),
            "next_page": _iso(rules.next_time(escalation)) if escalation.step < steps else None,
            "snoozed_until": _iso(escalation.snoozed_until) if escalation.state is EscalationState.ACTIVE else None,
            "acknowledged_by": escalation.by if escalation.state is EscalationState.ACKNOWLEDGED else None,
        }


def _iso(value: dt.datetime | None) -> str | None:
    """Write a time as ISO text, or None."""
    return None if value is None else value.isoformat()
