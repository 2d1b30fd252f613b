"""Storm control for one entry: duplicates, the rate limit, quiet hours and the daily budget decide (pure)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..storm import CRITICAL, StormGuard, Verdict
from .lifecycle import ItemState
from .memory import Memory
from .models import QueuedItem, SendStatus
from .settings import OutboxSettings


@dataclass(frozen=True, kw_only=True)
class Decision:
    """What storm control does with one new alert that is not sent now."""

    verdict: Verdict
    status: SendStatus
    reason: str
    # For a held alert: its hold, and until when
    hold: ItemState | None = None
    until: float = 0.0


class Policy:
    """Decides per alert and target; remembers what was sent and held (the guard's memory lives here)."""

    def __init__(self, settings: OutboxSettings, memory: Memory) -> None:
        """Apply one entry's limits and its recipients' quiet hours."""
        self._settings = settings
        self._memory = memory
        self.guard = StormGuard(settings=settings.storm)
        # Written and read with the rest of the outbox's memory: a reload or restart keeps the windows and counts
        memory.storm = self.guard

    def alert_text(self, item: QueuedItem) -> str:
        """Return the alert's own text (without its acknowledgement reference), which the duplicate window compares."""
        return self._memory.alert_text(item, self._settings.ack_reference)

    def decide(self, item: QueuedItem, now: float, local_now: dt.datetime) -> Decision | None:
        """Decide for a new alert at `now` (`local_now` is the same moment in Home Assistant's time zone).

        None: send it. Otherwise: hold it, drop it as a duplicate, or refuse it over the budget.
        """
        quiet_end = self._quiet_until(item, local_now)
        verdict = self.guard.decide(
            target=str(item.target),
            text=self.alert_text(item),
            severity=item.severity,
            now=now,
            today=local_now.date().isoformat(),
            parts=item.parts,
            quiet=quiet_end is not None,
        )
        if verdict is Verdict.SEND:
            return None
        if verdict is Verdict.QUIET and quiet_end is not None:
            return Decision(
                verdict=verdict,
                status=SendStatus.QUEUED,
                reason=f"quiet hours until {quiet_end.strftime('%H:%M')}",
                hold=ItemState.HELD_QUIET,
                until=quiet_end.timestamp(),
            )
        if verdict is Verdict.DEDUPLICATED:
            return Decision(verdict=verdict, status=SendStatus.DEDUPLICATED, reason=self._duplicate_reason(item))
        if verdict is Verdict.THROTTLED:
            limit = self.guard.settings.rate_limit
            return Decision(
                verdict=verdict,
                status=SendStatus.THROTTLED,
                reason=f"over {limit} SMS per minute to this target: sent in a summary when the minute ends",
                hold=ItemState.HELD_RATE,
                until=self.guard.window_end(str(item.target), now),
            )
        return Decision(verdict=Verdict.OVER_BUDGET, status=SendStatus.FAILED, reason=self._budget_reason(item))

    def note_sent(self, item: QueuedItem, now: float, today: str) -> None:
        """Count an alert that went out (or waits to): for duplicates, the rate limit and the budget."""
        self.guard.note_sent(
            target=str(item.target), text=self.alert_text(item), now=now, today=today, parts=item.parts
        )

    def reserve(self, item: QueuedItem) -> None:
        """Count a taken alert while it is under way (budget, rate limit, duplicates): alerts at once share them."""
        self.guard.reserve(target=str(item.target), text=self.alert_text(item), parts=item.parts)

    def release(self, item: QueuedItem) -> None:
        """End the reservation of an alert whose first send ended."""
        self.guard.release(target=str(item.target), text=self.alert_text(item), parts=item.parts)

    def note_held(self, item: QueuedItem, now: float) -> None:
        """Remember a held alert: a copy of it meanwhile is a duplicate."""
        self.guard.note_held(target=str(item.target), text=self.alert_text(item), now=now)

    def note_released(self, item: QueuedItem, now: float) -> None:
        """Forget that an alert is held: it goes out now."""
        self.guard.note_released(target=str(item.target), text=self.alert_text(item), now=now)

    def may_release(self, target: str, now: float) -> bool:
        """Tell whether the alerts the rate limit holds for a target may go out now (see StormGuard.may_release)."""
        return self.guard.may_release(target, now)

    def release_at(self, target: str, now: float) -> float:
        """When the alerts the rate limit holds for a target may go out, where they may not now."""
        return self.guard.release_at(target, now)

    def note_rate_release(self, target: str, now: float) -> None:
        """Remember that the alerts the rate limit held for a target went out now."""
        self.guard.note_rate_release(target, now)

    def note_dropped(self, item: QueuedItem) -> None:
        """Forget an alert the user dropped before it went out: the same alert later is sent, not deduplicated."""
        self.guard.forget(target=str(item.target), text=self.alert_text(item))

    @property
    def daily_budget(self) -> int:
        """SMS a day (0: no budget)."""
        return self.guard.settings.daily_budget

    def _budget_reason(self, item: QueuedItem) -> str:
        """Say why an alert is over the day's budget."""
        budget = self.daily_budget
        left = self.guard.budget_left()
        if not left:
            return f"the daily budget of {budget} SMS is spent"
        return f"{left} of the daily budget of {budget} SMS is left; this alert needs {item.parts}"

    def _duplicate_reason(self, item: QueuedItem) -> str:
        """Say where the earlier copy of a duplicate is: held to go out once, or sent."""
        if self.guard.is_held(target=str(item.target), text=self.alert_text(item)):
            return "the same alert to this target is held already and goes out once"
        return f"the same alert went to this target in the last {self.guard.settings.dedup_window / 60:g} min"

    def _quiet_until(self, item: QueuedItem, now: dt.datetime) -> dt.datetime | None:
        """When the quiet hours of the item's recipient end, if they hold it at `now` (critical alerts pass)."""
        if item.severity == CRITICAL:
            return None
        quiet = self._settings.quiet_hours.get(str(item.target))
        return quiet.until(now) if quiet is not None else None
