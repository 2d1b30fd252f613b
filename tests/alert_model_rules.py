"""The model of the alert-model test: what the README's "## Alert sources" promises, step by step, as plain data.

Written from the README (lifecycle, escalation, maintenance of each source; quiet hours), not from the code: for
each step it says which SMS each number must get, which `sms_alerts_alert` events fire, and what the open alerts
and their escalations are. tests/alert_model_harness.py drives the real entry and compares.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from .alert_model_specs import NUMBERS, POLICY, SEVERITY_RANK, SOURCES, SPECS, Spec, routed
from .alert_model_storm import Outbound

# A sender's retry of the same body within this many seconds is acted on once (README: "within 10 minutes")
DELIVERY_WINDOW = 600.0


# The model


def group_text(outgoing: Outgoing) -> str:
    """`FIRING 3 alerts (1 critical): NodeDown, DiskFull, Latency; RESOLVED 1: CoreDown`: the most severe first."""
    firing = sorted(outgoing.firing, key=lambda fp: SEVERITY_RANK[SPECS[fp].severity])

    def count(fingerprints: list[str]) -> str:
        critical = sum(1 for fp in fingerprints if SPECS[fp].severity == "critical")
        noun = "alert" if len(fingerprints) == 1 else "alerts"
        return f"{len(fingerprints)} {noun}" + (f" ({critical} critical)" if critical else "")

    def names(fingerprints: list[str]) -> str:
        return ", ".join(SPECS[fp].name for fp in fingerprints)

    text = f"FIRING {count(firing)}: {names(firing)}" if firing else ""
    if outgoing.resolved:
        head = f"{text}; RESOLVED {len(outgoing.resolved)}: " if text else f"RESOLVED {count(outgoing.resolved)}: "
        text = head + names(outgoing.resolved)
    return text


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
    # Targets told of it (their RESOLVED follows), and how many SMS of it each was sent or has on its way
    told: list[str] = field(default_factory=list)
    told_by: dict[str, int] = field(default_factory=dict)


@dataclass
class Outgoing:
    """The SMS of one body to one number: its alerts that fire, then those that ended (README "Many alerts")."""

    firing: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)


# A body's SMS per number, in the order the numbers first came up
type Plan = dict[str, Outgoing]


@dataclass
class Window:
    """A maintenance window of the model: what it held (the last word on each alert), in the order first held."""

    started: dt.datetime
    ends: dt.datetime | None
    held: dict[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class Model(Outbound):
    """What the README promises: open alerts, escalations, windows, and every SMS (Outbound), event and warning due."""

    repeat: int
    escalate_from: str
    next_code: int = 1
    open: dict[str, Open] = field(default_factory=dict)
    escalations: dict[str, Escalation] = field(default_factory=dict)
    # Each source's maintenance window
    windows: dict[str, Window] = field(default_factory=dict)
    # When each body was last seen (the same delivery again is ignored)
    seen: dict[str, dt.datetime] = field(default_factory=dict)
    # (source, fingerprint, status, maintenance) of each sms_alerts_alert
    events: list[tuple[str, str, str, bool]] = field(default_factory=list)
    ran_out: int = 0

    # Helpers

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
            alert.told_by[number] = alert.told_by.get(number, 0) + 1

    # A body at the webhook

    def delivery(self, raw: str, now: dt.datetime) -> bool:
        """Whether a body is acted on: not when the same body was seen within the window (a sender's retry)."""
        last = self.seen.get(raw)
        self.seen[raw] = now
        self.seen = {key: when for key, when in self.seen.items() if (now - when).total_seconds() <= DELIVERY_WINDOW}
        return last is None or (now - last).total_seconds() > DELIVERY_WINDOW

    def fire(self, fingerprint: str, starts: str, now: dt.datetime, plan: Plan) -> None:
        """An alert fires: it opens (or is counted) and its SMS (to `plan`) or its first page goes, unless held."""
        spec = SPECS[fingerprint]
        alert = self.open.get(fingerprint)
        if alert is not None and starts > alert.starts:
            # A new episode (README "A new episode whose RESOLVED never came"): the earlier one closes without a
            # RESOLVED, its escalation ends and its held SMS are taken back; this one fires as any new alert
            del self.open[fingerprint]
            self.escalations.pop(fingerprint, None)
            self.event(fingerprint, "resolved")
            for number in alert.told:
                self.withdraw(number, fingerprint)
            alert = None
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
        for who in routed(spec):
            plan.setdefault(NUMBERS[who], Outgoing()).firing.append(fingerprint)

    def resolve(self, fingerprint: str, now: dt.datetime, plan: Plan) -> None:
        """An alert resolves: RESOLVED (to `plan`) to those told (not where its firing SMS was still held: taken back).

        Its escalation ends; in a window nothing is sent. A RESOLVED goes with its alert's severity but is
        never critical (good news): it waits for quiet hours (README "Resolved").
        """
        alert = self.open.pop(fingerprint, None)
        if alert is None:
            return
        self.escalations.pop(fingerprint, None)
        self.event(fingerprint, "resolved")
        # A held SMS of it is taken back; who got another one of it before is still told (README "Resolved":
        # "RESOLVED goes to everybody paged, as to anybody told of an alert")
        told = [number for number in alert.told if not self.withdraw(number, fingerprint) or alert.told_by[number] > 1]
        window = self.window(fingerprint)
        if window is not None:
            window.held[fingerprint] = "resolved"
            return
        for number in told:
            plan.setdefault(number, Outgoing()).resolved.append(fingerprint)

    def send_body(self, plan: Plan, now: dt.datetime) -> None:
        """Send a body's SMS: per number one per alert, its firing ones first; more than the rate limit as one.

        README "Many alerts in one body for one recipient, more than the entry's rate limit a minute: one SMS,
        `FIRING 4 alerts (2 critical): ...`"; it tells of each firing alert in it, and names the ended ones too.
        """
        for number, outgoing in plan.items():
            count = len(outgoing.firing) + len(outgoing.resolved)
            if self.rate and count > self.rate:
                severity = min(
                    (self.sms_severity(fp, firing=fp in outgoing.firing) for fp in outgoing.firing + outgoing.resolved),
                    key=SEVERITY_RANK.__getitem__,
                )
                text = group_text(outgoing)
                if self.deliver(
                    number, text, severity, now, outgoing.firing, names=outgoing.firing + outgoing.resolved
                ):
                    for fingerprint in outgoing.firing:
                        self.tell(self.open[fingerprint], [number])
                continue
            for fingerprint in outgoing.firing:
                severity = SPECS[fingerprint].severity
                if self.deliver(number, self.firing_text(fingerprint), severity, now, [fingerprint]):
                    self.tell(self.open[fingerprint], [number])
            for fingerprint in outgoing.resolved:
                severity = self.sms_severity(fingerprint, firing=False)
                self.deliver(number, f"RESOLVED {SPECS[fingerprint].name}", severity, now)

    @staticmethod
    def sms_severity(fingerprint: str, *, firing: bool) -> str:
        """The severity an alert's SMS goes with: a RESOLVED is never critical (good news)."""
        severity = SPECS[fingerprint].severity
        return "warning" if not firing and severity == "critical" else severity

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

    def run_due(self, now: dt.datetime, *, loading: bool = False) -> None:
        """What is due at `now`: windows' ends, held SMS, then each escalation's step (one page each) or its end.

        `loading`: the entry loads again (a restart, a crash) with all of it overdue. Its outbox drains at once
        and lets out the held SMS whose time came before the windows' timer, set for a time already past, ends
        them: those SMS count for the rate limit first.
        """
        if loading:
            self.release(now)
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
        # The SMS Gateway hears no replies: the page names the code to look for in Home Assistant (the model
        # still hands replies to the entry, as a modem or IPEX entry would, for what they do to the alerts)
        text = f"{self.firing_text(fingerprint)} - Ack {alert.code} in Home Assistant"
        if self.deliver(NUMBERS[who], text, SPECS[fingerprint].severity, now, [fingerprint]):
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
            if self.deliver(number, text, severity, now, firing):
                for fingerprint in firing:
                    self.tell(self.open[fingerprint], [number])
