"""Storm control applied to new alerts: each is let through, held, deduplicated or refused over the budget."""

from __future__ import annotations

from dataclasses import replace

from homeassistant.util import dt as dt_util

from ..storm import Verdict
from .drain import Drain
from .lifecycle import ItemState
from .models import QueuedItem, SendStatus, TargetResult
from .parts import Parts
from .settle import Settler


class Screen:
    """Decides for the new items of one entry before their first request, with the entry's policy."""

    def __init__(self, parts: Parts, settler: Settler, drain: Drain) -> None:
        """Screen new messages for one entry."""
        self._queue = parts.queue
        self._gate = parts.gate
        self._policy = parts.policy
        self._now = parts.clock
        self._settler = settler
        self._drain = drain

    async def async_screen(self, items: list[QueuedItem], reserved: list[QueuedItem]) -> dict[str, TargetResult]:
        """Apply quiet hours, duplicates, the rate limit and the daily budget; return the items they settled.

        Each item let through is reserved against the budget at once (added to `reserved`, which the
        caller releases once the send ended): the next target of the same alert, and an alert taken
        meanwhile, are decided with it counted.
        """
        now = self._now()
        local_now = dt_util.now()
        results: dict[str, TargetResult] = {}
        held = False
        for item in items:
            if item.state is not ItemState.NEW:
                continue  # the entry was unloaded meanwhile, and its fallback took the alert
            decision = self._policy.decide(item, now, local_now)
            if decision is None:
                self._policy.reserve(item)
                reserved.append(item)
                continue
            if decision.hold is not None:
                item.hold_until, item.last_error = decision.until, decision.reason
                self._queue.move(item, decision.hold)
                self._policy.note_held(item, now)
                results[item.id] = self._settler.result(item, decision.status, decision.reason)
                held = True
            elif decision.verdict is Verdict.DEDUPLICATED:
                self._queue.move(item, ItemState.DEDUPLICATED)
                result = self._settler.result(item, decision.status, decision.reason)
                results[item.id] = replace(result, copy_of=self._held_copy(item))
            else:
                # Over the daily budget: a repair issue, and a fallback may take it
                self._gate.over_budget(self._policy.daily_budget)
                results[item.id] = await self._settler.async_fail(item, decision.reason)
                held = held or results[item.id].status is SendStatus.QUEUED
        if held:
            await self._queue.async_save()
            self._queue.changed()
            self._drain.schedule()
        return results

    def _held_copy(self, item: QueuedItem) -> str | None:
        """Return the held message a duplicate is a copy of (it goes out for both); None when none is held."""
        text = self._policy.alert_text(item)
        return next(
            (
                held.id
                for held in self._queue.held()
                if held.target == item.target and held.id != item.id and self._policy.alert_text(held) == text
            ),
            None,
        )
