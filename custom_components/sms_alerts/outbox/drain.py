"""The drain of one entry's outbox: when to wake, what is due, and trying it, oldest first per target."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace

from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

from ..api.base import Target, mask_target
from ..const import DOMAIN, LOGGER
from ..message import GSM_SINGLE, UCS2_SINGLE, Encoding
from ..storm import SEVERITY_RANK, summary_text
from .lifecycle import ItemState
from .models import QueuedItem, SendStatus, TargetResult, WaitingMessage, new_id
from .parts import Parts
from .router import not_loaded
from .settle import Settler

# The shortest cut a storm summary is given (it names at least its count)
MIN_SUMMARY = 20


class Drain:
    """Wakes when something is due, then expires, hands over, releases held alerts and tries what is due."""

    def __init__(self, parts: Parts, settler: Settler) -> None:
        """Drain one entry's outbox."""
        self._hass = parts.hass
        self._entry = parts.entry
        self._settings = parts.settings
        self._queue = parts.queue
        self._gate = parts.gate
        self._router = parts.router
        self._policy = parts.policy
        self._composer = parts.composer
        self._now = parts.clock
        self._today = parts.today
        self._known_down = parts.known_down
        self._settler = settler
        self._draining = False
        self._unsub_timer: CALLBACK_TYPE | None = None
        self._fallback_missing_noted = False

    # When

    @callback
    def schedule(self, minimum: float = 0.0) -> None:
        """Drain now if something is due, else wake at the next moment something will be."""
        self.stop()
        if self._queue.unloaded() or not self._queue.items:
            return
        delay = max(minimum, self._next_wake() - self._now())
        if delay <= 0:
            self.start()
        else:
            self._unsub_timer = async_call_later(self._hass, delay, self._async_wake)

    @callback
    def stop(self) -> None:
        """Cancel the timer."""
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None

    @callback
    def fallback_loaded(self) -> None:
        """Note that the fallback entry was loaded again: warn again if it goes missing."""
        self._fallback_missing_noted = False

    def _next_wake(self) -> float:
        """Earliest time a try, a hand-over or an expiry is due."""
        items = self._queue.items.values()
        moments = [item.created + self._settings.max_age for item in items]
        moments += [
            item.hold_until if item.state is not ItemState.HELD_FALLBACK or self._router.coming_for(item) else 0.0
            for item in self._queue.held()
        ]
        moments += [
            item.created + self._settings.handover_delay
            for item in self._queue.waiting()
            if self._router.fallback(item)
        ]
        if not self._gate.auth_refused:
            moments += [max(item.next_attempt, self._gate.retry_at) for item in self._queue.heads()]
        return min(moments)

    @callback
    def _async_wake(self, _now_dt: dt.datetime) -> None:
        """Start a drain pass when the timer fires."""
        self._unsub_timer = None
        self.start()

    @callback
    def start(self) -> None:
        """Run a drain pass in the background."""
        self._entry.async_create_background_task(
            self._hass, self.async_drain(), f"{DOMAIN} outbox {self._entry.entry_id}"
        )

    # What

    async def async_drain(self) -> None:
        """Expire, hand over, then try every due message, oldest first per target, until none is due."""
        if self._draining:
            return  # the running pass goes on until nothing is due
        self._draining = True
        try:
            # With the lock: a message a new alert is trying just now is neither handed over nor given up meanwhile
            async with self._queue.lock:
                await self._async_expire_and_hand_over()
            self.release_held()
            while groups := self._due_groups():
                for group in groups:
                    sending = await self._async_send_group(group)
                    # Settled at once: a crash in the middle of a drain sends again only what was under way
                    self._queue.flush()
                    if not sending:
                        break
                self._queue.changed()
        finally:
            self._draining = False
            self._queue.flush()
            # Never spin: whatever is left waits at least a second
            self.schedule(minimum=1.0)

    def _due_groups(self) -> list[list[QueuedItem]]:
        """Due heads, grouped by message (one provider call each), oldest message first."""
        now = self._now()
        if self._queue.unloaded() or not self._gate.may_send(now):
            return []
        groups: dict[str, list[QueuedItem]] = {}
        for item in self._queue.heads():
            if item.next_attempt <= now:
                groups.setdefault(item.message_id, []).append(item)
        return list(groups.values())

    async def _async_send_group(self, group: list[QueuedItem]) -> bool:
        """Send the due heads of one message in one provider call; False when the entry must stop for now."""
        async with self._queue.lock:
            if self._queue.unloaded() or not self._gate.may_send(self._now()):
                return False
            handled = await self.async_try_group(group)
        for item, result in handled:
            self._settler.update_report(item, result)
        return self._gate.may_send(self._now())

    async def async_try_group(self, group: list[QueuedItem]) -> list[tuple[QueuedItem, TargetResult]]:
        """Make one provider call for waiting heads of one message (those still waiting), with the lock held."""
        group = [item for item in group if item.id in self._queue.items and item.state is ItemState.WAITING]
        if not group:
            return []
        receipts = await self._settler.async_call(group)
        handled: list[tuple[QueuedItem, TargetResult]] = []
        for item, receipt in zip(group, receipts, strict=True):
            if item.state is not ItemState.WAITING:
                # Handed to the fallback while its request ran (the entry was disabled): the fallback's now
                LOGGER.info(
                    "%s: a message to %s was answered after its fallback took it over (%s): it may arrive twice",
                    self._entry.title,
                    mask_target(item.target),
                    receipt.outcome,
                )
                continue
            handled.append((item, await self._settler.async_handle(item, receipt)))
        return handled

    async def _async_expire_and_hand_over(self) -> None:
        """Give up messages past their lifetime; hand long-waiting ones to the fallback."""
        now = self._now()
        max_age = self._settings.max_age
        expired = [item for item in self._queue.items.values() if item.created + max_age <= now]
        for item in expired:
            error = f"not delivered within {max_age / 3600:g} h: {item.last_error}"
            self._settler.give_up(item, error)
            self._settler.update_report(item, self._settler.result(item, SendStatus.FAILED, error))
        known_down = self._known_down()
        due = [
            item for item in self._queue.waiting() if item.created + self._settings.handover_delay <= now or known_down
        ]
        waited = [item for item in due if self._router.fallback(item)]
        self._note_fallback_missing([item for item in due if not self._router.fallback(item)])
        # Held for a fallback that was being set up: it takes them now, or they wait on, or it is gone for good
        # (before held alerts are released, so these are never sent here)
        waited += [
            item
            for item in self._queue.items.values()
            if item.state is ItemState.HELD_FALLBACK and (item.hold_until <= now or not self._router.coming_for(item))
        ]
        for item in waited:
            if item.id not in self._queue.items:
                continue  # a new alert to its target handed it over meanwhile
            result = await self._settler.async_fail(item, item.last_error or "waited too long")
            self._settler.update_report(item, result)
        if expired or waited:
            self._queue.changed()

    def _note_fallback_missing(self, stuck: list[QueuedItem]) -> None:
        """Warn once that messages due for the fallback stay here because it is not loaded (again once it was)."""
        missing = next((entry for item in stuck if (entry := self._router.pending(item)) is not None), None)
        if missing is not None and not self._fallback_missing_noted:
            self._fallback_missing_noted = True
            LOGGER.warning(
                "%s cannot hand %s waiting message(s) over: its fallback %s; they stay here",
                self._entry.title,
                len(stuck),
                not_loaded(missing),
            )

    # By hand

    @callback
    def retry_now(self) -> bool:
        """Try what waits now, as when the provider answers again; False while refused credentials stop it.

        Waiting messages go at once, not at their next retry; those held (quiet hours, rate limit,
        a fallback being loaded) keep their time, and refused credentials still wait for a new login.
        """
        if self._queue.unloaded() or self._gate.auth_refused:
            return False
        now = self._now()
        self._gate.recovered()
        for item in self._queue.waiting():
            item.next_attempt = min(item.next_attempt, now)
        self.schedule()
        return True

    def listing(self) -> list[WaitingMessage]:
        """Describe the waiting and held messages, oldest first, with the earliest time each may go."""
        now = self._now()
        return [
            WaitingMessage(
                id=item.id,
                target=str(item.target),
                message=item.text,
                state=item.state,
                severity=item.severity,
                age=max(0, round(now - item.created)),
                tries=item.attempts,
                error=item.last_error,
                next_try=None if (when := self._next_try(item, now)) is None else dt_util.utc_from_timestamp(when),
            )
            for item in self._queue.items.values()
        ]

    def _next_try(self, item: QueuedItem, now: float) -> float | None:
        """Return the earliest time a message may go: the end of its hold, or of its backoff and the entry's."""
        if item.state is not ItemState.WAITING:
            return item.hold_until
        if self._gate.auth_refused:
            return None
        return max(item.next_attempt, self._gate.retry_at, now)

    async def async_drop(self, item_id: str) -> bool:
        """Drop one waiting or held message on purpose, written at once; False if none here has that id.

        Taken with the lock: a message being tried just now is dropped only if the answer leaves it waiting.
        """
        async with self._queue.lock:
            item = self._queue.items.get(item_id)
            if item is None or self._queue.unloaded():
                return False
            self._policy.note_dropped(item)
            self._settler.drop(item)
            await self._queue.async_save()
        self._queue.changed()
        # The next message to its target may go now
        self.schedule()
        return True

    async def async_withdraw(self, item_ids: Iterable[str]) -> set[str]:
        """Take out held messages whose alert is over before they went (quiet hours, rate limit); return their ids.

        No event is fired: nothing was lost, the sender said the alert ended.
        """
        withdrawn: set[str] = set()
        async with self._queue.lock:
            if self._queue.unloaded():
                return withdrawn
            for item_id in item_ids:
                item = self._queue.items.get(item_id)
                if item is None or item.state not in (ItemState.HELD_QUIET, ItemState.HELD_RATE):
                    continue
                self._policy.note_dropped(item)
                self._queue.move(item, ItemState.DROPPED)
                withdrawn.add(item_id)
            if withdrawn:
                await self._queue.async_save()
        if withdrawn:
            self._queue.changed()
            self.schedule()
        return withdrawn

    # Held alerts

    def release_held(self, early: ItemState | None = None) -> None:
        """Turn held alerts whose time has come into waiting ones: one alone, several as one summary.

        `early` releases every alert of that hold now, whatever its time.
        """
        now = self._now()
        due = self._due_held(now, early)
        today = self._today()
        for target, group in due.items():
            for item in group:
                self._policy.note_released(item, now)
            if len(group) == 1:
                item = group[0]
                item.hold_until, item.next_attempt = 0.0, 0.0
                self._queue.move(item, ItemState.WAITING)
            else:
                for item in group:
                    self._queue.move(item, ItemState.MERGED)
                item = self._summary(target, group)
                self._queue.move(item, ItemState.WAITING)
            self._policy.note_sent(item, now, today)
        if due:
            self._queue.changed()

    def _due_held(self, now: float, early: ItemState | None) -> dict[Target, list[QueuedItem]]:
        """Return the held alerts to let out now, by target.

        Those the rate limit holds for a target go out together, once the window allows it (see
        Policy.may_release); until then their time moves to when it will.
        """
        due: dict[Target, list[QueuedItem]] = {}
        rate_held: dict[Target, list[QueuedItem]] = {}
        rate_due: set[Target] = set()
        for item in self._queue.items.values():
            if item.state is ItemState.HELD_RATE:
                rate_held.setdefault(item.target, []).append(item)
                if item.hold_until <= now or early is ItemState.HELD_RATE:
                    rate_due.add(item.target)
            elif item.state is ItemState.HELD_QUIET and (item.hold_until <= now or early is ItemState.HELD_QUIET):
                due.setdefault(item.target, []).append(item)
        for target in rate_due:
            key = str(target)
            if early is not ItemState.HELD_RATE and not self._policy.may_release(key, now):
                until = self._policy.release_at(key, now)
                for item in rate_held[target]:
                    item.hold_until = until
                continue
            self._policy.note_rate_release(key, now)
            due.setdefault(target, []).extend(rate_held[target])
        return due

    def _summary(self, target: Target, group: list[QueuedItem]) -> QueuedItem:
        """One SMS standing for several held alerts to one target."""
        texts = [(item.severity, item.text, item.created) for item in group]
        limit = GSM_SINGLE
        text = summary_text(texts, limit)
        while self._composer.info(text).parts > 1 and limit > MIN_SUMMARY:
            # The longest cut that fits one SMS: GSM-7's `|` takes two septets (each summary has some), and a
            # UCS-2 text fits 70 characters
            ucs2 = self._composer.info(text).encoding is not Encoding.GSM7
            limit = UCS2_SINGLE if ucs2 and limit > UCS2_SINGLE else limit - 1
            text = summary_text(texts, limit)
        first = group[0]
        return replace(
            first,
            id=new_id(),
            text=text,
            parts=1,
            encoding=str(self._composer.info(text).encoding),
            severity=max((item.severity for item in group), key=lambda s: SEVERITY_RANK.get(s, 1)),
            created=min(item.created for item in group),
            attempts=0,
            next_attempt=0.0,
            last_error=None,
            hold_until=0.0,
            state=ItemState.NEW,
            merged=tuple(item_id for item in group for item_id in (item.id, *item.merged)),
        )
