"""The model of the alert-model test: what the README's "## Alert sources" promises, step by step, as plain data.

Written from the README (lifecycle, escalation, maintenance of each source; quiet hours), not from the code: for
each step it says which SMS each number must get, which `sms_alerts_alert` events fire, and what the open alerts
and their escalations are. tests/alert_model_harness.py drives the real entry and compares.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from .alert_model_quiet import Held, quiet_until, summary
from .alert_model_specs import NUMBERS, POLICY, QUIET, SEVERITY_RANK, SOURCES, SPECS, Spec, routed

# A sender's retry of the same body within this many seconds is acted on once (README: "within 10 minutes")
DELIVERY_WINDOW = 600.0


# The model


@dataclass
class Escalation:
    """Where one alert's escalation stands, by the README's rules."""

    state: str = "active"
    # The next step to page (len(POLICY) once the last round's last step was paged)
    step: int = 0
    round: int = 0
    due: dt.datetime | None = None
    snoozed_until: dt.datetime | None = None
    # (step, round) of every page, and who was paged, in order
    pages: list[tuple[int, int]] = field(default_factory=list)
    told: list[str] = field(default_factory=list)
    by: str | None = None

    def next_time(self) -> dt.datetime | None:
        """When it next acts: its step, held by a snooze that ends later."""
        if self.state != "active" or self.due is None:
            return None
        if self.snoozed_until is not None and self.snoozed_until > self.due:
            return self.snoozed_until
        return self.due


@dataclass
class Open:
    """An open alert of the model."""

    fingerprint: str
    code: str
    starts: str
    first_seen: dt.datetime
    status: str = "firing"
    count: int = 1
    # Targets told of it (their RESOLVED follows)
    told: list[str] = field(default_factory=list)


@dataclass
class Window:
    """A maintenance window of the model: what it held (the last word on each alert), in the order first held."""

    started: dt.datetime
    ends: dt.datetime | None
    held: dict[str, str] = field(default_factory=dict)


@dataclass
class Model:
    """What the README promises: open alerts, escalations, windows, held SMS, and every SMS, event and warning due."""

    repeat: int
    escalate_from: str
    # The quiet recipient's quiet hours (from, until), or None
    quiet: tuple[dt.time, dt.time] | None = None
    # The entry's duplicate window, in seconds (0: off)
    dedup: float = 0.0
    # Whether the duplicate window outlives a reload or restart, as the README's "sent once" promises. It does
    # not yet (storm control counts in memory; tests/test_alert_model.py has the plan, xfail): the long runs
    # take it as it is, to find what else there is
    storm_memory_kept: bool = False
    next_code: int = 1
    open: dict[str, Open] = field(default_factory=dict)
    escalations: dict[str, Escalation] = field(default_factory=dict)
    # Each source's maintenance window
    windows: dict[str, Window] = field(default_factory=dict)
    # The last body posted per fingerprint, and when each body was last seen (the same delivery again is ignored)
    last_body: dict[str, str] = field(default_factory=dict)
    seen: dict[str, dt.datetime] = field(default_factory=dict)
    # SMS due per number: (batch, text), in the order due; a batch's SMS to one number may come in any order
    sms: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    # SMS waiting for the end of quiet hours, per number, in the order held
    held: dict[str, list[Held]] = field(default_factory=dict)
    # (source, fingerprint, status, maintenance) of each sms_alerts_alert
    events: list[tuple[str, str, str, bool]] = field(default_factory=list)
    ran_out: int = 0
    # When each text last went to a number, and since when one is held for it (the duplicate window)
    recent: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)
    held_at: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)
    # SMS held for quiet hours and SMS deduplicated so far (statistics)
    quiet_held: int = 0
    deduplicated: int = 0
    batch: int = 0

    # Helpers

    def send(self, number: str, text: str, now: dt.datetime | None = None) -> None:
        """One SMS due to a number, in the current batch (given `now`, it counts for the duplicate window)."""
        self.sms.setdefault(number, []).append((self.batch, text))
        if now is not None and self.dedup:
            self.recent[(number, text)] = now

    def restarted(self) -> None:
        """The entry was reloaded or restarted: storm control starts afresh (unless its memory is kept)."""
        if not self.storm_memory_kept:
            self.recent.clear()
            self.held_at.clear()

    def duplicate(self, number: str, text: str, now: dt.datetime) -> bool:
        """Whether the same text went to the number, or was held for it, within the duplicate window."""
        times = (self.recent.get((number, text)), self.held_at.get((number, text)))
        return any(when is not None and (now - when).total_seconds() < self.dedup for when in times)

    def deliver(
        self, number: str, text: str, severity: str, now: dt.datetime, fingerprints: Iterable[str] = ()
    ) -> None:
        """An alert SMS to a number: sent once within the duplicate window; held for quiet hours; critical at once.

        README: "the same text to the same target within the window is sent once; (...) A copy of an alert
        held by the rate limit or by quiet hours is a duplicate too: the held alert goes out once (the window
        counts from when it was held, then from when it went out)". A duplicate counts as told.
        """
        critical = severity == "critical"
        if not critical and self.duplicate(number, text, now):
            self.deduplicated += 1
            return
        until = quiet_until(self.quiet, now) if number == NUMBERS[QUIET] and not critical else None
        if until is None:
            self.send(number, text, now)
            return
        self.held.setdefault(number, []).append(Held(text, severity, now, until, tuple(fingerprints)))
        self.quiet_held += 1
        if self.dedup:
            self.held_at[(number, text)] = now

    def release(self, now: dt.datetime) -> None:
        """Held SMS whose quiet hours ended go out: one alone, several as one summary."""
        for number, held in list(self.held.items()):
            due = [item for item in held if item.until <= now]
            if due:
                for item in due:
                    # Held, it counted for the duplicate window from then; released, from now
                    self.held_at.pop((number, item.text), None)
                    if self.dedup:
                        self.recent[(number, item.text)] = now
                self.send(number, due[0].text if len(due) == 1 else summary(due), now)
                self.held[number] = [item for item in held if item.until > now]

    def withdraw(self, number: str, fingerprint: str) -> bool:
        """Take back the held SMS that is this alert's own firing SMS to a number (README: "neither goes out")."""
        held = self.held.get(number, [])
        for item in held:
            if item.fingerprints == (fingerprint,):
                held.remove(item)
                # Never sent: a copy of it later is no duplicate
                self.held_at.pop((number, item.text), None)
                self.recent.pop((number, item.text), None)
                return True
        return False

    def window(self, fingerprint: str) -> Window | None:
        """The window of the alert's source, if one is open."""
        return self.windows.get(SPECS[fingerprint].source)

    def event(self, fingerprint: str, status: str) -> None:
        """One sms_alerts_alert transition."""
        source = SPECS[fingerprint].source
        self.events.append((source, fingerprint, status, source in self.windows))

    def escalates(self, spec: Spec) -> bool:
        """Whether an alert of this severity is escalated (its source has a policy)."""
        return SOURCES[spec.source].escalates and SEVERITY_RANK[spec.severity] <= SEVERITY_RANK[self.escalate_from]

    def escalating(self, fingerprint: str) -> bool:
        """Whether an alert's escalation still pages."""
        escalation = self.escalations.get(fingerprint)
        return escalation is not None and escalation.state == "active"

    def firing_text(self, fingerprint: str) -> str:
        """The firing SMS: `FIRING critical DiskFull db1: / at 97%`."""
        spec = SPECS[fingerprint]
        return f"FIRING {spec.severity} {spec.name}: {spec.summary}"

    def tell(self, alert: Open, numbers: Iterable[str]) -> None:
        """Note numbers told of an alert (their RESOLVED follows)."""
        for number in numbers:
            if number not in alert.told:
                alert.told.append(number)

    # A body at the webhook

    def delivery(self, raw: str, now: dt.datetime) -> bool:
        """Whether a body is acted on: not when the same body was seen within the window (a sender's retry)."""
        last = self.seen.get(raw)
        self.seen[raw] = now
        self.seen = {key: when for key, when in self.seen.items() if (now - when).total_seconds() <= DELIVERY_WINDOW}
        return last is None or (now - last).total_seconds() > DELIVERY_WINDOW

    def fire(self, fingerprint: str, starts: str, now: dt.datetime) -> None:
        """An alert fires: it opens (or is counted) and its SMS or its first page goes, unless held by maintenance."""
        spec = SPECS[fingerprint]
        alert = self.open.get(fingerprint)
        if alert is not None:
            alert.count += 1
            if alert.told or self.escalating(fingerprint):
                return
        else:
            alert = self.open[fingerprint] = Open(fingerprint, f"A{self.next_code}", starts, now)
            self.next_code += 1
            self.event(fingerprint, "firing")
            self.escalations.pop(fingerprint, None)
        window = self.window(fingerprint)
        if window is not None:
            window.held[fingerprint] = "firing"
            return
        if alert.count == 1 and self.escalates(spec):
            self.escalations[fingerprint] = Escalation(due=now)
            return
        numbers = [NUMBERS[who] for who in routed(spec)]
        for number in numbers:
            self.deliver(number, self.firing_text(fingerprint), spec.severity, now, [fingerprint])
        self.tell(alert, numbers)

    def resolve(self, fingerprint: str, now: dt.datetime) -> None:
        """An alert resolves: RESOLVED to those told (not where its firing SMS was still held: taken back).

        Its escalation ends; in a window nothing is sent. A RESOLVED is good news, never critical: it waits
        for quiet hours (README "## Alert storms, severity and quiet hours").
        """
        alert = self.open.pop(fingerprint, None)
        if alert is None:
            return
        self.escalations.pop(fingerprint, None)
        self.event(fingerprint, "resolved")
        told = [number for number in alert.told if not self.withdraw(number, fingerprint)]
        window = self.window(fingerprint)
        if window is not None:
            window.held[fingerprint] = "resolved"
            return
        for number in told:
            self.deliver(number, f"RESOLVED {SPECS[fingerprint].name}", "warning", now)

    def acknowledge(self, fingerprint: str, by: str, sender: str | None, now: dt.datetime) -> None:
        """An open alert is acknowledged: the event; its escalation stops and everybody paged hears of it."""
        alert = self.open[fingerprint]
        alert.status = "acknowledged"
        self.event(fingerprint, "acknowledged")
        escalation = self.escalations.get(fingerprint)
        if escalation is None or escalation.state != "active":
            return
        escalation.state, escalation.by, escalation.due = "acknowledged", by, None
        alert_severity = SPECS[fingerprint].severity
        for who in escalation.told:
            number = NUMBERS[who]
            if sender is None or number != sender:
                self.deliver(number, f"ACK {alert.code} {SPECS[fingerprint].name} by {by}", alert_severity, now)

    def snooze(self, fingerprint: str, until: dt.datetime) -> None:
        """Hold an active escalation until a time."""
        self.escalations[fingerprint].snoozed_until = until

    # Time

    def run_due(self, now: dt.datetime) -> None:
        """What is due at `now`: windows' ends, held SMS, then each escalation's step (one page each) or its end."""
        for source, window in list(self.windows.items()):
            if window.ends is not None and window.ends <= now:
                self.end_window(source, now)
        self.release(now)
        for fingerprint, escalation in self.escalations.items():
            when = escalation.next_time()
            if when is None or when > now or self.window(fingerprint) is not None:
                continue
            if escalation.step >= len(POLICY):
                escalation.state, escalation.due = "exhausted", None
                self.ran_out += 1
                continue
            self.page(fingerprint, escalation, now)

    def page(self, fingerprint: str, escalation: Escalation, now: dt.datetime) -> None:
        """Page the escalation's step now; the next one is due after its wait from now."""
        alert = self.open[fingerprint]
        who, wait = POLICY[escalation.step]
        text = f"{self.firing_text(fingerprint)} - Reply {alert.code} to acknowledge"
        self.deliver(NUMBERS[who], text, SPECS[fingerprint].severity, now, [fingerprint])
        self.tell(alert, [NUMBERS[who]])
        escalation.pages.append((escalation.step, escalation.round))
        if who not in escalation.told:
            escalation.told.append(who)
        escalation.step += 1
        if escalation.step == len(POLICY):
            escalation.step, escalation.round = 0, escalation.round + 1
        if escalation.round > self.repeat:
            escalation.step, escalation.round = len(POLICY), self.repeat
        escalation.due = now + dt.timedelta(minutes=wait)

    # Maintenance

    def start_window(self, source: str, now: dt.datetime, ends: dt.datetime | None, *, by_hand: bool) -> None:
        """Open a source's window (by hand: until turned off; one already open keeps its end), or set a new end."""
        window = self.windows.get(source)
        if window is None:
            self.windows[source] = Window(now, ends)
        elif not by_hand:
            window.ends = ends

    def end_window(self, source: str, now: dt.datetime) -> None:
        """End a source's window: one summary per routed recipient; those still firing are told, and escalate."""
        window = self.windows.pop(source, None)
        if window is None:
            return
        still = [fp for fp, status in window.held.items() if status == "firing" and fp in self.open]
        self.summarize(source, window, still, now)
        # Escalations paused by the window go on: their next step moves on by the time they were paused; a
        # snooze keeps the end it was given (the time the one who snoozed was told)
        pause = now - window.started
        for fingerprint, escalation in self.escalations.items():
            if SPECS[fingerprint].source != source or escalation.state != "active" or escalation.due is None:
                continue
            escalation.due = escalation.due + pause if escalation.due > window.started else now
        # Those still firing at or above the escalation's severity start it now (not one acknowledged meanwhile)
        for fingerprint in still:
            alert = self.open[fingerprint]
            if self.escalates(SPECS[fingerprint]) and not self.escalating(fingerprint) and alert.status == "firing":
                self.escalations[fingerprint] = Escalation(due=now)

    def summarize(self, source: str, window: Window, still: list[str], now: dt.datetime) -> None:
        """Each recipient the held alerts are routed to: `Maintenance of Prometheus ended: 2 alerts held, ...`.

        It goes with the severity of its most severe alert still firing (critical passes quiet hours).
        """
        per_number: dict[str, list[str]] = {}
        for fingerprint in window.held:
            for who in routed(SPECS[fingerprint]):
                per_number.setdefault(NUMBERS[who], []).append(fingerprint)
        for number, held in per_number.items():
            firing = sorted((fp for fp in held if fp in still), key=lambda fp: SEVERITY_RANK[SPECS[fp].severity])
            noun = "alert" if len(held) == 1 else "alerts"
            head = f"Maintenance of {SOURCES[source].name} ended: {len(held)} {noun} held"
            names = ", ".join(SPECS[fp].name for fp in firing)
            text = f"{head}, {len(firing)} still firing: {names}" if firing else f"{head}, none still firing"
            severity = SPECS[firing[0]].severity if firing else "info"
            self.deliver(number, text, severity, now, firing)
            for fingerprint in firing:
                self.tell(self.open[fingerprint], [number])
