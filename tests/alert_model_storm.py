"""Storm control and quiet hours in the alert-model test, as the README's "## Alert storms, severity and quiet hours".

Every alert SMS of the model goes through `Outbound.deliver`: critical ones "always go at once"; the others are
sent once within the duplicate window ("A copy of an alert held by the rate limit or by quiet hours is a duplicate
too: the held alert goes out once (the window counts from when it was held, then from when it went out)"), wait
for the end of the recipient's quiet hours, or past the rate limit "are held (...) and sent as one summary when
the minute ends (...) Critical alerts pass the limit but count: while they keep a recipient's minute full, the
held alerts go out as one summary a minute". A summary reads `7 alerts: FIRE in hall B | Freezer warm | …`,
"most severe first, then newest, cut to one SMS".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from homeassistant.util import dt as dt_util

from .alert_model_specs import NUMBERS, QUIET, SEVERITY_RANK

# One SMS of GSM-7 text is 160 septets; a longer summary is cut with "..." (README "Long alerts": cut ending
# with an ellipsis). The characters of GSM-7's extension table take two septets (3GPP TS 23.038)
ONE_SMS = 160
EXTENSION = set("^{}\\[~]|€")
MINUTE = dt.timedelta(minutes=1)


@dataclass
class Held:
    """One SMS held (quiet hours, rate limit) until a time, and the alerts it tells of."""

    text: str
    severity: str
    created: dt.datetime
    until: dt.datetime
    fingerprints: tuple[str, ...] = ()
    # Every alert it names, firing or ended (the fingerprints of those it tells of, where not given)
    names: tuple[str, ...] = ()
    # Its place in the outbox's queue (the order a target's waiting messages go in)
    key: int = 0


def quiet_until(hours: tuple[dt.time, dt.time] | None, now: dt.datetime) -> dt.datetime | None:
    """When the quiet hours around `now` end (in Home Assistant's time zone; they may span midnight), else None."""
    if hours is None or hours[0] == hours[1]:
        return None
    local = dt_util.as_local(now)
    start, end = (local.replace(hour=t.hour, minute=t.minute, second=0, microsecond=0) for t in hours)
    if start < end:
        return end if start <= local < end else None
    if local >= start:
        return end + dt.timedelta(days=1)
    return end if local < end else None


def summary(held: list[Held]) -> str:
    """One SMS for several held alerts: `3 alerts: A | B | C`, most severe first, then newest; one SMS at most."""
    ordered = sorted(held, key=lambda item: (SEVERITY_RANK[item.severity], -item.created.timestamp()))
    text = f"{len(held)} alerts: " + " | ".join(item.text for item in ordered)
    if septets(text) <= ONE_SMS:
        return text
    # The longest cut that fits one SMS
    return next(cut for size in range(ONE_SMS - 3, 0, -1) if septets(cut := text[:size].rstrip() + "...") <= ONE_SMS)


def septets(text: str) -> int:
    """GSM-7 septets of a text of GSM-7 characters."""
    return sum(2 if char in EXTENSION else 1 for char in text)


@dataclass(kw_only=True)
class Outbound:
    """The SMS due per number, and what storm control and quiet hours hold back."""

    # The quiet recipient's quiet hours (from, until), or None
    quiet: tuple[dt.time, dt.time] | None = None
    # The entry's duplicate window in seconds, and SMS per recipient and minute (0: off)
    dedup: float = 0.0
    rate: int = 0
    # SMS a day (0: no budget), and the day's count (in Home Assistant's time zone)
    budget: int = 0
    # A fallback entry (storm control off there): an SMS over the budget goes out through it instead
    fallback: bool = False
    day: dt.date | None = None
    day_count: int = 0
    # SMS due per number: (batch, text), in the order due; a batch's SMS to one number may come in any order
    sms: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    # SMS held for quiet hours, and by the rate limit, per number, in the order held
    held: dict[str, list[Held]] = field(default_factory=dict)
    rate_held: dict[str, list[Held]] = field(default_factory=dict)
    # When each text last went to a number, and since when one is held for it (the duplicate window)
    recent: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)
    held_at: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)
    # Sends of the last minute per number, and when the rate limit last let held ones out to a number
    sent_times: dict[str, list[dt.datetime]] = field(default_factory=dict)
    rate_released: dict[str, dt.datetime] = field(default_factory=dict)
    # While the gateway is down, what waits per number: (place in the queue, text); it goes in that order
    down: bool = False
    backlog: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    next_key: int = 0
    # SMS given up (over the budget): (number, text)
    failed: list[tuple[str, str]] = field(default_factory=list)
    # Statistics
    quiet_held: int = 0
    deduplicated: int = 0
    throttled: int = 0
    batch: int = 0

    def key(self) -> int:
        """The next place in the outbox's queue."""
        self.next_key += 1
        return self.next_key

    def send(self, number: str, text: str, now: dt.datetime | None = None, key: int | None = None) -> None:
        """One SMS due to a number, in the current batch (given `now`, it counts for the window and the rate).

        While the gateway is down, and until what waited went, it waits with the others of its number: they go
        in the queue's order, a held one let out in the place it was taken in (README: "messages already
        waiting for the same target go over first, in their order"); the model takes them as one batch.
        """
        if self.down or self.backlog.get(number):
            self.backlog.setdefault(number, []).append((self.key() if key is None else key, text))
        else:
            self.sms.setdefault(number, []).append((self.batch, text))
        if now is not None:
            if self.dedup:
                self.recent[(number, text)] = now
            self.sent_times.setdefault(number, []).append(now)
            self.today(now)
            self.day_count += 1

    def flush(self) -> None:
        """What waited went (the gateway is back and the outbox has nothing waiting): one batch per number."""
        for number, waiting in self.backlog.items():
            self.sms.setdefault(number, []).extend((self.batch, text) for _key, text in sorted(waiting))
        self.backlog.clear()

    def today(self, now: dt.datetime) -> None:
        """A new day (Home Assistant's time zone) starts the budget's count afresh."""
        day = dt_util.as_local(now).date()
        if day != self.day:
            self.day, self.day_count = day, 0

    def duplicate(self, number: str, text: str, now: dt.datetime) -> bool:
        """Whether the same text went to the number, or was held for it, within the duplicate window."""
        times = (self.recent.get((number, text)), self.held_at.get((number, text)))
        return any(when is not None and (now - when).total_seconds() < self.dedup for when in times)

    def minute(self, number: str, now: dt.datetime) -> list[dt.datetime]:
        """The sends to a number within the last minute."""
        times = self.sent_times[number] = [when for when in self.sent_times.get(number, []) if now - when < MINUTE]
        return times

    def deliver(
        self,
        number: str,
        text: str,
        severity: str,
        now: dt.datetime,
        fingerprints: Iterable[str] = (),
        *,
        names: Iterable[str] | None = None,
    ) -> bool:
        """An alert SMS to a number: deduplicated, held (quiet hours, rate limit), sent, or over the budget.

        Critical SMS pass all of them (and count for the rate and the budget). Whether the number counts as
        told: a duplicate does, an SMS over the budget ("fails with the reason") does not, unless the fallback
        entry sent it.
        """
        critical = severity == "critical"
        if not critical and self.duplicate(number, text, now):
            self.deduplicated += 1
            return True
        until = quiet_until(self.quiet, now) if number == NUMBERS[QUIET] and not critical else None
        told = tuple(fingerprints)
        held = Held(text, severity, now, now, told, told if names is None else tuple(names), self.key())
        self.today(now)
        if until is not None:
            held.until = until
            self.held.setdefault(number, []).append(held)
            self.quiet_held += 1
        elif not critical and self.budget and self.day_count + 1 > self.budget:
            if self.fallback:
                # README (Daily SMS budget): "it goes to the fallback entry"; it counts there, not here
                self.send(number, text)
                return True
            self.failed.append((number, text))
            return False
        elif not critical and self.rate and len(self.minute(number, now)) >= self.rate:
            # Until the minute ends: the oldest send of the last minute leaves it
            held.until = self.minute(number, now)[0] + MINUTE
            self.rate_held.setdefault(number, []).append(held)
            self.throttled += 1
        else:
            self.send(number, text, now)
            return True
        if self.dedup:
            self.held_at[(number, text)] = now
        return True

    def release(self, now: dt.datetime) -> None:
        """Held SMS whose time came go out: one alone, several (quiet and rate-limited together) as one summary.

        Those the rate limit holds go out together where the minute has room, or where none went out of them
        within the last minute (critical alerts keep it full); else they wait until then.
        """
        for number in set(self.held) | set(self.rate_held):
            due = [item for item in self.held.get(number, []) if item.until <= now]
            self.held[number] = [item for item in self.held.get(number, []) if item.until > now]
            rate_held = self.rate_held.get(number, [])
            if any(item.until <= now for item in rate_held):
                times, last = self.minute(number, now), self.rate_released.get(number)
                if len(times) < self.rate or last is None or now - last >= MINUTE:
                    self.rate_released[number] = now
                    due += rate_held
                    self.rate_held[number] = []
                else:
                    until = max(times[0] + MINUTE, now if last is None else last + MINUTE)
                    for item in rate_held:
                        item.until = until
            if due:
                for item in due:
                    # Held, it counted for the duplicate window from then; released, from now
                    self.held_at.pop((number, item.text), None)
                    if self.dedup:
                        self.recent[(number, item.text)] = now
                if len(due) == 1:
                    self.send(number, due[0].text, now, due[0].key)
                else:
                    self.send(number, summary(due), now)

    def withdraw(self, number: str, fingerprint: str) -> bool:
        """Take back the latest held SMS that is this alert's own SMS to a number (README: "neither goes out").

        Its own: it names no other alert ("a held summary that names other alerts too still goes").
        """
        for held in (self.held.get(number, []), self.rate_held.get(number, [])):
            # The latest: the one the alert last told the number with
            for item in reversed(held):
                if item.names == (fingerprint,):
                    held.remove(item)
                    # Never sent: a copy of it later is no duplicate
                    self.held_at.pop((number, item.text), None)
                    self.recent.pop((number, item.text), None)
                    return True
        return False
