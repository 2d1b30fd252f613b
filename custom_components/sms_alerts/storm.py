"""Storm control: duplicates, a rate limit, a daily budget and quiet hours; imports nothing from Home Assistant."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
CRITICAL = "critical"
RATE_WINDOW = 60.0
# How often the whole memory is swept of what left the windows; one target's own times are pruned on every use
SWEEP_INTERVAL = 10.0


class Verdict(StrEnum):
    """What storm control decides for one alert to one target."""

    SEND = "send"
    DEDUPLICATED = "deduplicated"
    THROTTLED = "throttled"
    QUIET = "quiet"
    OVER_BUDGET = "over_budget"


@dataclass(frozen=True, kw_only=True)
class StormSettings:
    """Limits of one entry (0 switches a limit off)."""

    dedup_window: float = 300.0
    rate_limit: int = 10
    daily_budget: int = 0


@dataclass(frozen=True, kw_only=True)
class QuietHours:
    """A recipient's quiet hours, in Home Assistant's time zone; they may span midnight."""

    start: dt.time
    end: dt.time

    def until(self, now: dt.datetime) -> dt.datetime | None:
        """Return when the quiet hours around `now` (an aware local time) end, or None outside them."""
        start = now.replace(hour=self.start.hour, minute=self.start.minute, second=0, microsecond=0)
        end = now.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if self.start == self.end:
            return None
        if self.start < self.end:
            return end if start <= now < end else None
        # Spans midnight: 22:00-07:00
        if now >= start:
            return end + dt.timedelta(days=1)
        return end if now < end else None


@dataclass(kw_only=True)
class StormGuard:
    """Remembers recent sends of one entry and decides what a new alert may do."""

    settings: StormSettings
    # Texts sent to a target, and when
    recent: dict[tuple[str, str], float] = field(default_factory=dict)
    # Texts held for a target (rate limit, quiet hours) and not yet released, and since when
    held: dict[tuple[str, str], float] = field(default_factory=dict)
    # Send times of the last minute, per target: the rate limit protects each recipient
    sent_times: dict[str, deque[float]] = field(default_factory=dict)
    day: str = ""
    # SMS of the day: every part of a long alert counts
    day_count: int = 0
    # Alerts taken to go out whose first send has not ended yet: the budget, the rate limit and the duplicate
    # window count them already (alerts taken at the same time must not all pass)
    reserved: int = 0
    reserved_sends: dict[str, int] = field(default_factory=dict)
    reserved_texts: dict[tuple[str, str], int] = field(default_factory=dict)
    # When alerts held by the rate limit last went out to a target (a summary): at most one a window
    rate_released: dict[str, float] = field(default_factory=dict)
    deduplicated: int = 0
    throttled: int = 0
    next_sweep: float = field(default=0.0, repr=False)
    # While a list is attached here (the outbox's journal follows the guard), each change of what `stored`
    # returns is recorded as an event, [name, *arguments], which `apply` does again over what `restore` read;
    # `noticed` is called when the first event of a batch comes. Without a list nothing is recorded.
    changes: list[list[Any]] | None = field(default=None, repr=False, compare=False)
    noticed: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def decide(
        self, *, target: str, text: str, severity: str, now: float, today: str, parts: int = 1, quiet: bool = False
    ) -> Verdict:
        """Decide for one alert; critical alerts are never deduplicated, throttled or over budget.

        `parts` are the SMS the alert takes: it is over budget when they do not all fit what is left.
        `quiet` tells that the recipient's quiet hours hold the alert: a copy of one sent or held
        within the window is still a duplicate. Nothing is counted here: the outbox reserves the parts
        of what it takes (reserve) until the send ends, then counts what it actually sent or queued
        (note_sent) and what it held (note_held).
        """
        if today != self.day:
            self._record("day", today)
        self._forget(now, today)
        if severity == CRITICAL:
            return Verdict.SEND
        self._prune(target, now)
        if self._seen(target, text, now):
            self.deduplicated += 1
            return Verdict.DEDUPLICATED
        if quiet:
            return Verdict.QUIET
        if self.settings.daily_budget and self.day_count + self.reserved + parts > self.settings.daily_budget:
            return Verdict.OVER_BUDGET
        under_way = self.reserved_sends.get(target, 0)
        if self.settings.rate_limit and len(self.sent_times.get(target, ())) + under_way >= self.settings.rate_limit:
            self.throttled += 1
            return Verdict.THROTTLED
        return Verdict.SEND

    def note_sent(self, *, target: str, text: str, now: float, today: str, parts: int = 1) -> None:
        """Count an alert of `parts` SMS that goes out or waits to go out (a storm summary counts too)."""
        self._record("sent", target, text, now, today, parts)
        self._forget(now, today)
        self._prune(target, now)
        if self.settings.dedup_window:
            self.recent[(target, text)] = now
        self.sent_times.setdefault(target, deque()).append(now)
        self.day_count += parts

    def stored(self) -> dict[str, Any]:
        """Return what outlives a reload or a restart: the times in the windows, the rate releases, the day's count.

        Reservations are not kept: the alerts under way are in the outbox's file and are decided again.
        """
        return {
            "recent": [[target, text, when] for (target, text), when in self.recent.items()],
            "held": [[target, text, when] for (target, text), when in self.held.items()],
            "sent_times": [[target, list(times)] for target, times in self.sent_times.items()],
            "rate_released": [[target, when] for target, when in self.rate_released.items()],
            "day": self.day,
            "day_count": self.day_count,
        }

    def restore(self, stored: object) -> None:
        """Read back what `stored` wrote; a part that cannot be read starts afresh, as before it was kept."""
        if not isinstance(stored, dict):
            return
        with contextlib.suppress(KeyError, TypeError, ValueError):
            self.recent = {(str(target), str(text)): float(when) for target, text, when in stored["recent"]}
        with contextlib.suppress(KeyError, TypeError, ValueError):
            self.held = {(str(target), str(text)): float(when) for target, text, when in stored["held"]}
        with contextlib.suppress(KeyError, TypeError, ValueError):
            self.sent_times = {
                str(target): deque(float(when) for when in times) for target, times in stored["sent_times"]
            }
        with contextlib.suppress(KeyError, TypeError, ValueError):
            self.rate_released = {str(target): float(when) for target, when in stored["rate_released"]}
        with contextlib.suppress(KeyError, TypeError, ValueError):
            day, count = stored["day"], stored["day_count"]
            if isinstance(day, str) and isinstance(count, int) and count >= 0:
                self.day, self.day_count = day, count

    def apply(self, events: object) -> None:
        """Do again, in order, the changes recorded after what `restore` read (the journal's newer lines).

        Each event is done by the method that recorded it, with the arguments it had; one that cannot be
        read (or that a later version wrote) is skipped. Nothing is recorded meanwhile.
        """
        if not isinstance(events, list):
            return
        changes, self.changes = self.changes, None
        try:
            for event in events:
                self._apply(event)
        finally:
            self.changes = changes

    def _apply(self, event: object) -> None:
        """Do one recorded change again."""
        match event:
            case ["sent", str(target), str(text), int() | float() as now, str(today), int(parts)]:
                self.note_sent(target=target, text=text, now=float(now), today=today, parts=parts)
            case ["held", str(target), str(text), int() | float() as now]:
                self.note_held(target=target, text=text, now=float(now))
            case ["released", str(target), str(text), int() | float() as now]:
                self.note_released(target=target, text=text, now=float(now))
            case ["forget", str(target), str(text)]:
                self.forget(target=target, text=text)
            case ["rate", str(target), int() | float() as now]:
                self.note_rate_release(target, float(now))
            case ["day", str(today)]:
                self._new_day(today)

    def _record(self, *event: Any) -> None:
        """Record a change of the stored memory, while a list is attached."""
        if self.changes is None:
            return
        if not self.changes and self.noticed is not None:
            self.noticed()
        self.changes.append(list(event))

    def reserve(self, *, target: str, text: str, parts: int) -> None:
        """Count an alert taken to go out until its first send ends (release): budget, rate limit, duplicates."""
        self.reserved += parts
        self.reserved_sends[target] = self.reserved_sends.get(target, 0) + 1
        if self.settings.dedup_window:
            self.reserved_texts[(target, text)] = self.reserved_texts.get((target, text), 0) + 1

    def release(self, *, target: str, text: str, parts: int) -> None:
        """End a reservation: the send ended, and note_sent counted it if it went out or waits to."""
        self.reserved = max(0, self.reserved - parts)
        _count_down(self.reserved_sends, target)
        _count_down(self.reserved_texts, (target, text))

    def budget_left(self) -> int:
        """SMS left of the day's budget, as of the last decision (what is taken and not yet sent counts)."""
        return max(0, self.settings.daily_budget - self.day_count - self.reserved)

    def note_held(self, *, target: str, text: str, now: float) -> None:
        """Remember an alert held for later: a copy of it within the window is a duplicate."""
        if self.settings.dedup_window:
            self._record("held", target, text, now)
            self.held[(target, text)] = now

    def note_released(self, *, target: str, text: str, now: float) -> None:
        """Count a held alert that goes out now (alone or in a summary) as sent from now on."""
        if self.settings.dedup_window or (target, text) in self.held:
            self._record("released", target, text, now)
        self.held.pop((target, text), None)
        if self.settings.dedup_window:
            self.recent[(target, text)] = now

    def forget(self, *, target: str, text: str) -> None:
        """Forget an alert that never went out (dropped): a copy of it later is no duplicate."""
        if (target, text) in self.held or (target, text) in self.recent:
            self._record("forget", target, text)
        self.held.pop((target, text), None)
        self.recent.pop((target, text), None)

    def is_held(self, *, target: str, text: str) -> bool:
        """Tell whether the alert is held for the target and not yet released."""
        return (target, text) in self.held

    def _seen(self, target: str, text: str, now: float) -> bool:
        """Tell whether the same text was sent to or held for the target within the duplicate window."""
        window = self.settings.dedup_window
        if not window:
            return False
        if self.reserved_texts.get((target, text)):
            return True  # the same alert is under way to this target now
        sent, held = self.recent.get((target, text)), self.held.get((target, text))
        # Only a copy from before now: after the clock was set back (a start before NTP answers), one "from
        # the future" is no copy of this alert
        return any(when is not None and 0 <= now - when < window for when in (sent, held))

    def window_end(self, target: str, now: float) -> float:
        """When the target's full rate window has room again."""
        self._prune(target, now)
        times = self.sent_times.get(target)
        if times:
            return times[0] + RATE_WINDOW
        # Only sends under way count yet: they are noted as sent about now
        return now + RATE_WINDOW if self.reserved_sends.get(target) else now

    def may_release(self, target: str, now: float) -> bool:
        """Tell whether the alerts held by the rate limit for a target may go out now (as one summary).

        They may where the window has room, or where none went out to the target within the window:
        critical alerts pass the limit and fill the window, and must not keep the others back for
        longer than that, nor let them out each time one of their sends leaves the window.
        """
        self._prune(target, now)
        limit = self.settings.rate_limit
        if not limit or len(self.sent_times.get(target, ())) + self.reserved_sends.get(target, 0) < limit:
            return True
        last = self.rate_released.get(target)
        return last is None or now - last >= RATE_WINDOW

    def release_at(self, target: str, now: float) -> float:
        """When the alerts held for a target that may not go out now may: the window has room, or a window passed."""
        last = self.rate_released.get(target)
        return max(self.window_end(target, now), (last + RATE_WINDOW) if last is not None else now)

    def note_rate_release(self, target: str, now: float) -> None:
        """Remember that the alerts held by the rate limit for a target went out now."""
        self._record("rate", target, now)
        self.rate_released[target] = now

    def _new_day(self, today: str) -> None:
        """Start the day's count afresh on a new day."""
        if today != self.day:
            self.day, self.day_count = today, 0

    def _prune(self, target: str, now: float) -> None:
        """Drop one target's send times that have left the rate window."""
        times = self.sent_times.get(target)
        if times is None:
            return
        while times and now - times[0] >= RATE_WINDOW:
            times.popleft()
        if not times:
            del self.sent_times[target]

    def _forget(self, now: float, today: str) -> None:
        """Reset the budget on a new day; every SWEEP_INTERVAL, drop what has left the windows for every target.

        The sweep only bounds memory: decisions prune their own target and compare times with the windows.
        """
        self._new_day(today)
        if self.next_sweep and now < self.next_sweep:
            return
        self.next_sweep = now + SWEEP_INTERVAL
        for target in list(self.sent_times):
            self._prune(target, now)
        for target in [target for target, when in self.rate_released.items() if now - when >= RATE_WINDOW]:
            del self.rate_released[target]
        if self.settings.dedup_window:
            for memory in (self.recent, self.held):
                stale = [key for key, when in memory.items() if now - when >= self.settings.dedup_window]
                for key in stale:
                    del memory[key]


def _count_down[K](counts: dict[K, int], key: K) -> None:
    """Take one off a count, dropping it at zero."""
    count = counts.get(key, 0) - 1
    if count > 0:
        counts[key] = count
    else:
        counts.pop(key, None)


def summary_text(texts: list[tuple[str, str, float]], limit: int) -> str:
    """One SMS for held alerts: "3 alerts: A | B | C", most severe first, then newest; cut to `limit` characters.

    `texts` holds (severity, text, created) for each alert.
    """
    ordered = sorted(texts, key=lambda item: (-SEVERITY_RANK.get(item[0], 1), -item[2]))
    body = " | ".join(" ".join(text.split()) for _, text, _ in ordered)
    summary = f"{len(ordered)} alerts: {body}"
    if len(summary) <= limit:
        return summary
    return summary[: limit - 3].rstrip() + "..."
