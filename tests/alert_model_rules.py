"""The model of the alert-model test: what the README's "## Alert sources" promises, step by step, as plain data.

Written from the README (lifecycle, escalation, maintenance), not from the code: for each step it says which
SMS each number must get, which `sms_alerts_alert` events fire, and what the open alerts and their escalations
are. tests/alert_model_harness.py drives the real entry and compares.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .conftest import RECIPIENT

SOURCE_NAME = "Prometheus"
MINUTE = 60.0
# A sender's retry of the same body within this many seconds is acted on once (README: "within 10 minutes")
DELIVERY_WINDOW = 600.0
ZERO_TIME = "0001-01-01T00:00:00Z"

# Recipients: id, name, number
ONCALL, NIGHT, TEAM = "oncall", "night", "team"
NUMBERS = {ONCALL: RECIPIENT, NIGHT: "+491709999999", TEAM: "+491705555555"}
NAMES = {ONCALL: "On call", NIGHT: "Night", TEAM: "Team"}
# A number that is nobody's: a reply from it still acknowledges (README: "taken from any number")
STRANGER = "+491702222222"
# The policy: On call | 5, then Night | 5 (README "Escalation until acknowledged")
POLICY = ((ONCALL, 5), (NIGHT, 5))
# Routes: team=db -> Team; team=web -> Night, Team; the source's own recipient (On call) for the rest
ROUTES = (("team", "db", (TEAM,)), ("team", "web", (NIGHT, TEAM)))
SOURCE_RECIPIENTS = (ONCALL,)
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Spec:
    """One alert as Alertmanager names it: its fingerprint stands for its labels, which never change."""

    name: str
    severity: str
    team: str
    summary: str

    @property
    def labels(self) -> dict[str, str]:
        """Its labels (Alertmanager's fingerprint is a hash of them)."""
        labels = {"alertname": self.name, "severity": self.severity}
        if self.team:
            labels["team"] = self.team
        return labels


SPECS = {
    "fp-disk": Spec("DiskFull", "warning", "db", "disk at 97%"),
    "fp-node": Spec("NodeDown", "critical", "web", "node unreachable"),
    "fp-lat": Spec("Latency", "warning", "", "p99 over 2 s"),
    "fp-core": Spec("CoreDown", "critical", "", "core switch down"),
}
FINGERPRINTS = tuple(SPECS)


def routed(spec: Spec) -> list[str]:
    """The recipients an alert is routed to: those of every matching route, else the source's own."""
    chosen = [who for label, value, recipients in ROUTES if spec.labels.get(label, "") == value for who in recipients]
    return list(dict.fromkeys(chosen or SOURCE_RECIPIENTS))


def iso(when: dt.datetime) -> str:
    """A time as Alertmanager writes it."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def body(fingerprint: str, status: str, starts: str, ends: str = ZERO_TIME) -> dict[str, Any]:
    """An Alertmanager webhook body (version 4) of one alert."""
    spec = SPECS[fingerprint]
    annotations = {"summary": spec.summary}
    return {
        "receiver": "sms",
        "status": status,
        "alerts": [
            {
                "status": status,
                "labels": spec.labels,
                "annotations": annotations,
                "startsAt": starts,
                "endsAt": ends,
                "generatorURL": "http://prometheus.example.org:9090/graph",
                "fingerprint": fingerprint,
            }
        ],
        "groupLabels": {"alertname": spec.name},
        "commonLabels": spec.labels,
        "commonAnnotations": annotations,
        "externalURL": "http://prometheus.example.org:9093",
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{spec.name}"}}',
        "truncatedAlerts": 0,
    }


def masked(number: str) -> str:
    """A replying number as the announcement names it (README: `by +49170...567`)."""
    return f"{number[:6]}...{number[-3:]}"


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
    """What the README promises: open alerts, escalations, the window, and every SMS, event and warning due."""

    repeat: int
    escalate_from: str
    next_code: int = 1
    open: dict[str, Open] = field(default_factory=dict)
    escalations: dict[str, Escalation] = field(default_factory=dict)
    window: Window | None = None
    # The last body posted per fingerprint, and when each body was last seen (the same delivery again is ignored)
    last_body: dict[str, str] = field(default_factory=dict)
    seen: dict[str, dt.datetime] = field(default_factory=dict)
    # SMS due per number: (batch, text), in the order due; a batch's SMS to one number may come in any order
    sms: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    events: list[tuple[str, str, bool]] = field(default_factory=list)
    ran_out: int = 0
    batch: int = 0

    # Helpers

    def send(self, number: str, text: str) -> None:
        """One SMS due to a number, in the current batch."""
        self.sms.setdefault(number, []).append((self.batch, text))

    def event(self, fingerprint: str, status: str) -> None:
        """One sms_alerts_alert transition."""
        self.events.append((fingerprint, status, self.window is not None))

    def escalates(self, spec: Spec) -> bool:
        """Whether an alert of this severity is escalated."""
        return SEVERITY_RANK[spec.severity] <= SEVERITY_RANK[self.escalate_from]

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
        if self.window is not None:
            self.window.held[fingerprint] = "firing"
            return
        if alert.count == 1 and self.escalates(spec):
            self.escalations[fingerprint] = Escalation(due=now)
            return
        numbers = [NUMBERS[who] for who in routed(spec)]
        for number in numbers:
            self.send(number, self.firing_text(fingerprint))
        self.tell(alert, numbers)

    def resolve(self, fingerprint: str) -> None:
        """An alert resolves: RESOLVED to those told, its escalation ends; held by maintenance, nothing is sent."""
        alert = self.open.pop(fingerprint, None)
        if alert is None:
            return
        self.escalations.pop(fingerprint, None)
        self.event(fingerprint, "resolved")
        if self.window is not None:
            self.window.held[fingerprint] = "resolved"
            return
        for number in alert.told:
            self.send(number, f"RESOLVED {SPECS[fingerprint].name}")

    def acknowledge(self, fingerprint: str, by: str, sender: str | None) -> None:
        """An open alert is acknowledged: the event; its escalation stops and everybody paged hears of it."""
        alert = self.open[fingerprint]
        alert.status = "acknowledged"
        self.event(fingerprint, "acknowledged")
        escalation = self.escalations.get(fingerprint)
        if escalation is None or escalation.state != "active":
            return
        escalation.state, escalation.by, escalation.due = "acknowledged", by, None
        for who in escalation.told:
            number = NUMBERS[who]
            if sender is None or number != sender:
                self.send(number, f"ACK {alert.code} {SPECS[fingerprint].name} by {by}")

    def snooze(self, fingerprint: str, until: dt.datetime) -> None:
        """Hold an active escalation until a time."""
        self.escalations[fingerprint].snoozed_until = until

    # Time

    def run_due(self, now: dt.datetime) -> None:
        """What is due at `now`: a window's end, then each escalation's step (one page each) or its end."""
        if self.window is not None and self.window.ends is not None and self.window.ends <= now:
            self.end_window(now)
        if self.window is not None:
            return
        for fingerprint, escalation in self.escalations.items():
            when = escalation.next_time()
            if when is None or when > now:
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
        self.send(NUMBERS[who], f"{self.firing_text(fingerprint)} - Reply {alert.code} to acknowledge")
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

    def start_window(self, now: dt.datetime, ends: dt.datetime | None, *, by_hand: bool) -> None:
        """Open a window (by hand: until turned off; one already open keeps its end), or set a new end."""
        if self.window is None:
            self.window = Window(now, ends)
        elif not by_hand:
            self.window.ends = ends

    def end_window(self, now: dt.datetime) -> None:
        """End the window: one summary per routed recipient; those still firing are told, and escalate."""
        window = self.window
        if window is None:
            return
        self.window = None
        still = [fp for fp, status in window.held.items() if status == "firing" and fp in self.open]
        self.summarize(window, still)
        # Escalations paused by the window go on: their next step moves on by the time they were paused; a
        # snooze keeps the end it was given (the time the one who snoozed was told)
        pause = now - window.started
        for escalation in self.escalations.values():
            if escalation.state != "active" or escalation.due is None:
                continue
            escalation.due = escalation.due + pause if escalation.due > window.started else now
        # Those still firing at or above the escalation's severity start it now (not one acknowledged meanwhile)
        for fingerprint in still:
            alert = self.open[fingerprint]
            if self.escalates(SPECS[fingerprint]) and not self.escalating(fingerprint) and alert.status == "firing":
                self.escalations[fingerprint] = Escalation(due=now)

    def summarize(self, window: Window, still: list[str]) -> None:
        """Each recipient the held alerts are routed to: `Maintenance of Prometheus ended: 2 alerts held, ...`."""
        per_number: dict[str, list[str]] = {}
        for fingerprint in window.held:
            for who in routed(SPECS[fingerprint]):
                per_number.setdefault(NUMBERS[who], []).append(fingerprint)
        for number, held in per_number.items():
            firing = sorted((fp for fp in held if fp in still), key=lambda fp: SEVERITY_RANK[SPECS[fp].severity])
            noun = "alert" if len(held) == 1 else "alerts"
            head = f"Maintenance of {SOURCE_NAME} ended: {len(held)} {noun} held"
            names = ", ".join(SPECS[fp].name for fp in firing)
            self.send(
                number, f"{head}, {len(firing)} still firing: {names}" if firing else f"{head}, none still firing"
            )
            for fingerprint in firing:
                self.tell(self.open[fingerprint], [number])
