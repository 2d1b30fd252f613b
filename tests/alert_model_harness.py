"""A world for the model-based test of alert sources: one real entry, its Alertmanager source, escalation, a model.

One SMS Gateway entry (simulator on loopback, real HTTP) with three recipients and one Alertmanager source
(real POSTs to its webhook with its token), routes and an escalation policy. Steps fire and resolve alerts,
acknowledge (action or reply SMS), snooze, let time pass minute by minute, take the gateway down and up,
open and end maintenance windows, and reload or restart the entry. The model below writes down what the
README ("## Alert sources": lifecycle, escalation, maintenance) promises for each step, independently of the
code; `check` compares it with the SMS the simulator took, the `sms_alerts_alert` events and the source's
open-alerts sensor after every step. Storm control is off (duplicate window 0, rate limit 0, no budget) and
no recipient has quiet hours, so that every SMS the model expects is due at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
from hypothesis import currently_in_test_context, event
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sms_alerts.api.ipex_webhook import InboundSms
from custom_components.sms_alerts.const import DOMAIN, EVENT_ALERT, EVENT_FAILED
from custom_components.sms_alerts.webhook import async_handle_events
from simulators.base import Fault
from simulators.brevisone import BrevisOneSimulator

from .conftest import RECIPIENT, RunningSimulator, gateway_entry_for, serving, show_reports

type Step = tuple[Any, ...]
TRACE = bool(os.environ.get("SMS_ALERTS_MODEL_TRACE"))

HOOK = "alert-model-hook"
TOKEN = "alert-model-token"
SOURCE_ID = "source1"
SOURCE_NAME = "Prometheus"
SENSOR = "sensor.prometheus_open_alerts"
SWITCH = "switch.prometheus_maintenance"
BUTTON = "button.prometheus_acknowledge"
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
FAULTS = (Fault.HTTP_503, Fault.HTML_500, Fault.RESET)
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
        # Escalations paused by the window go on: their next step moves on by the time they were paused
        pause = now - window.started
        for escalation in self.escalations.values():
            if escalation.state != "active" or escalation.due is None:
                continue
            escalation.due = escalation.due + pause if escalation.due > window.started else now
            if escalation.snoozed_until is not None and escalation.snoozed_until > window.started:
                escalation.snoozed_until += pause
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


class AlertWorld:
    """One entry, its simulator and source, the model, and the invariants after each step."""

    def __init__(
        self,
        hass: HomeAssistant,
        freezer: FrozenDateTimeFactory,
        client_factory: ClientSessionGenerator,
        caplog: pytest.LogCaptureFixture,
        *,
        repeat: int = 1,
        escalate_from: str = "critical",
    ) -> None:
        """Keep the fixtures; the entry and the simulator come with async_start."""
        self.hass = hass
        self.freezer = freezer
        self.client_factory = client_factory
        self.caplog = caplog
        self.model = Model(repeat=repeat, escalate_from=escalate_from)
        self.running: RunningSimulator | None = None
        self.entry: MockConfigEntry | None = None
        self.client: Any = None
        self.events: list[tuple[str, str, bool]] = []
        self.failed: list[dict[str, Any]] = []
        self.trace: list[str] = []
        self.down = False
        self._log_start = 0
        self._stack = contextlib.AsyncExitStack()
        self._unsubs: list[Callable[[], None]] = []

    # Set-up and tear-down

    async def async_start(self) -> None:
        """Serve the simulator, set up the entry with its source, listen to the events."""
        self.running = await self._stack.enter_async_context(serving(BrevisOneSimulator()))
        base = gateway_entry_for(self.running)
        recipients = [
            {
                "data": {"target": NUMBERS[key]},
                "subentry_type": "recipient",
                "title": NAMES[key],
                "unique_id": NUMBERS[key],
                "subentry_id": key,
            }
            for key in (ONCALL, NIGHT, TEAM)
        ]
        source = {
            "data": {
                "kind": "alertmanager",
                "recipients": list(SOURCE_RECIPIENTS),
                "send_resolved": True,
                "local_only": True,
                "routes": [{"matchers": [f"{label}={value}"], "recipients": list(who)} for label, value, who in ROUTES],
                "webhook_id": HOOK,
                "token": TOKEN,
                "escalation": [{"recipients": [who], "wait": wait, "ring": False} for who, wait in POLICY],
                "escalation_severity": self.model.escalate_from,
                "escalation_repeat": self.model.repeat,
                "announce_ack": True,
            },
            "subentry_type": "alert_source",
            "title": SOURCE_NAME,
            "unique_id": HOOK,
            "subentry_id": SOURCE_ID,
        }
        self.entry = MockConfigEntry(
            domain=DOMAIN,
            title="Alert model gateway",
            unique_id=base.unique_id,
            data=dict(base.data),
            # Storm control off and a long lifetime: every SMS due goes at once, none is given up in a run
            options={"dedup_minutes": 0, "rate_limit": 0, "daily_budget": 0, "max_age_hours": 168},
            subentries_data=[*recipients, source],
        )
        self.hass.config.country = "DE"
        self.entry.add_to_hass(self.hass)
        assert await self.hass.config_entries.async_setup(self.entry.entry_id)
        await self.hass.async_block_till_done(wait_background_tasks=True)
        self.client = await self.client_factory()
        self._log_start = len(self.caplog.records)

        # Callbacks run in the event loop as the events fire, in their order (a plain function would run in a
        # worker thread, in any order)
        @callback
        def on_alert(event: Event) -> None:
            self.events.append((event.data["fingerprint"], event.data["status"], bool(event.data["maintenance"])))

        @callback
        def on_failed(event: Event) -> None:
            self.failed.append(dict(event.data))

        self._unsubs = [
            self.hass.bus.async_listen(EVENT_ALERT, on_alert),
            self.hass.bus.async_listen(EVENT_FAILED, on_failed),
        ]

    async def async_stop(self) -> None:
        """Remove the entry and its files, stop the simulator."""
        for unsub in self._unsubs:
            unsub()
        if self.entry is not None and self.hass.config_entries.async_get_entry(self.entry.entry_id) is not None:
            await self.hass.config_entries.async_remove(self.entry.entry_id)
        await self.hass.async_block_till_done(wait_background_tasks=True)
        await self._stack.aclose()

    @property
    def now(self) -> dt.datetime:
        """The frozen time."""
        return dt_util.utcnow()

    # Steps

    async def run(self, steps: Iterable[Step]) -> None:
        """Run the steps, checking after each."""
        for step in steps:
            await self.step(step)

    async def step(self, step: Step) -> None:
        """Run one step in a batch of its own, let what it started finish, then check."""
        self.trace.append(repr(step))
        if TRACE:
            print(f"step {len(self.trace)}: {step!r}", flush=True)  # noqa: T201 - asked for with SMS_ALERTS_MODEL_TRACE
        self.model.batch += 1
        kind, *args = step
        await getattr(self, f"_step_{kind}")(*args)
        await self.hass.async_block_till_done(wait_background_tasks=True)
        await self.check()

    async def _post(self, raw: str) -> None:
        """Post a body to the source's webhook with its token; it answers 200."""
        response = await self.client.post(
            f"/api/webhook/{HOOK}",
            data=raw.encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status == 200, await response.text()

    async def _deliver(self, fingerprint: str, raw: str) -> None:
        """Post a body; the model acts on it unless it is the same delivery again."""
        now = self.now
        self.model.last_body[fingerprint] = raw
        if self.model.delivery(raw, now):
            alert = json.loads(raw)["alerts"][0]
            if alert["status"] == "firing":
                self.model.fire(fingerprint, alert["startsAt"], now)
                self.model.run_due(now)
            else:
                self.model.resolve(fingerprint)
        await self._post(raw)

    async def _step_fire(self, fingerprint: str) -> None:
        """The alert fires: the body of its open episode again (a re-notification), or a new episode."""
        alert = self.model.open.get(fingerprint)
        starts = alert.starts if alert is not None else iso(self.now + dt.timedelta(milliseconds=self.model.next_code))
        await self._deliver(fingerprint, json.dumps(body(fingerprint, "firing", starts)))

    async def _step_resolve(self, fingerprint: str) -> None:
        """The alert resolves (Alertmanager's resolved body: its start and its end)."""
        alert = self.model.open.get(fingerprint)
        starts = alert.starts if alert is not None else iso(self.now)
        await self._deliver(fingerprint, json.dumps(body(fingerprint, "resolved", starts, iso(self.now))))

    async def _step_retry(self, fingerprint: str) -> None:
        """The sender posts its last body of the alert again (it got no answer, it says)."""
        raw = self.model.last_body.get(fingerprint)
        if raw is not None:
            await self._deliver(fingerprint, raw)

    def _reference(self, fingerprint: str) -> str:
        """The alert's code: the open one's, else one no open alert has."""
        alert = self.model.open.get(fingerprint)
        return alert.code if alert is not None else f"A{self.model.next_code + 50}"

    async def _step_acknowledge(self, fingerprint: str, by_reference: bool) -> None:
        """sms_alerts.acknowledge by fingerprint or reference; refused when the alert is not open."""
        assert self.entry is not None
        data: dict[str, Any] = {"config_entry_id": self.entry.entry_id}
        if by_reference:
            data["reference"] = self._reference(fingerprint).lower()
        else:
            data["fingerprint"] = fingerprint
        is_open = fingerprint in self.model.open
        if is_open:
            self.model.acknowledge(fingerprint, "Home Assistant", None)
        try:
            await self.hass.services.async_call(DOMAIN, "acknowledge", data, blocking=True)
        except ServiceValidationError:
            assert not is_open, "acknowledging an open alert was refused"
        else:
            assert is_open, "acknowledging an alert that is not open was taken"

    async def _step_button(self) -> None:
        """The source's Acknowledge button: every open alert nobody acknowledged, newest first; refused for none."""
        newest_first = sorted(self.model.open.values(), key=lambda alert: alert.first_seen, reverse=True)
        firing = [alert.fingerprint for alert in newest_first if alert.status == "firing"]
        for fingerprint in firing:
            self.model.acknowledge(fingerprint, "Home Assistant", None)
        try:
            await self.hass.services.async_call("button", "press", {"entity_id": BUTTON}, blocking=True)
        except ServiceValidationError:
            assert not firing, "the Acknowledge button was refused with alerts to acknowledge"
        else:
            assert firing, "the Acknowledge button took nothing to acknowledge"

    async def _step_reply(self, fingerprint: str, sender: str) -> None:
        """A reply SMS naming the alert's code reaches the entry (as the modem and IPEX hand them over)."""
        assert self.entry is not None
        code = self._reference(fingerprint)
        if fingerprint in self.model.open:
            self.model.acknowledge(fingerprint, masked(sender), sender)
        reply = InboundSms(
            id=f"in-{self.model.batch}", sender=sender, to="", text=f"ack {code} on my way", created_at=None
        )
        await async_handle_events(self.hass, self.entry, [reply])

    async def _step_snooze(self, fingerprint: str, minutes: int) -> None:
        """sms_alerts.snooze; refused for an alert not open or not being escalated."""
        assert self.entry is not None
        takes = self.model.escalating(fingerprint) and fingerprint in self.model.open
        if takes:
            self.model.snooze(fingerprint, self.now + dt.timedelta(minutes=minutes))
        data = {"config_entry_id": self.entry.entry_id, "fingerprint": fingerprint, "minutes": minutes}
        try:
            await self.hass.services.async_call(DOMAIN, "snooze", data, blocking=True)
        except ServiceValidationError:
            assert not takes, "snoozing an escalated alert was refused"
        else:
            assert takes, "snoozing an alert that is not escalated was taken"

    async def _step_advance(self, minutes: int) -> None:
        """Time passes minute by minute, as it would: each due step runs at its minute."""
        for _ in range(minutes):
            self.freezer.tick(dt.timedelta(minutes=1))
            self.model.batch += 1
            self.model.run_due(self.now)
            async_fire_time_changed(self.hass)
            await self.hass.async_block_till_done(wait_background_tasks=True)

    async def _step_down(self, fault: Fault) -> None:
        """The gateway misbehaves on every request from now on (its status page too)."""
        assert self.running is not None
        self.running.sim.fail(fault)
        self.down = True

    async def _step_up(self) -> None:
        """The gateway behaves again."""
        assert self.running is not None
        self.running.sim.recover()
        self.down = False

    async def _step_maintenance(self, minutes: int | None) -> None:
        """Open a window: by hand with the switch (None), or timed with sms_alerts.start_maintenance."""
        self.model.start_window(
            self.now, None if minutes is None else self.now + dt.timedelta(minutes=minutes), by_hand=minutes is None
        )
        if minutes is None:
            await self.hass.services.async_call("switch", "turn_on", {"entity_id": SWITCH}, blocking=True)
        else:
            data = {"entity_id": SWITCH, "duration": {"minutes": minutes}}
            await self.hass.services.async_call(DOMAIN, "start_maintenance", data, blocking=True)

    async def _step_maintenance_off(self) -> None:
        """Turn the Maintenance switch off: the window ends now."""
        self.model.end_window(self.now)
        self.model.run_due(self.now)
        await self.hass.services.async_call("switch", "turn_off", {"entity_id": SWITCH}, blocking=True)

    async def _step_reload(self) -> None:
        """Reload the entry (as a change of its options does)."""
        assert self.entry is not None
        assert await self.hass.config_entries.async_reload(self.entry.entry_id)
        await self.hass.async_block_till_done(wait_background_tasks=True)
        async_fire_time_changed(self.hass)

    async def _step_restart(self, minutes: int) -> None:
        """Home Assistant stops, stays down some minutes, and starts again: what fell due meanwhile runs once."""
        assert self.entry is not None
        assert await self.hass.config_entries.async_unload(self.entry.entry_id)
        await self.hass.async_block_till_done(wait_background_tasks=True)
        self.freezer.tick(dt.timedelta(minutes=minutes))
        self.model.batch += 1
        self.model.run_due(self.now)
        assert await self.hass.config_entries.async_setup(self.entry.entry_id)
        # Timers set at setup for a time already past run at once (the test loop needs the nudge a real one does not)
        await self.hass.async_block_till_done(wait_background_tasks=True)
        async_fire_time_changed(self.hass)

    # The invariants

    def delivered(self) -> dict[str, list[str]]:
        """The texts the simulator took, per number, in order."""
        assert self.running is not None
        found: dict[str, list[str]] = {}
        for message in self.running.sim.messages:
            digits = "".join(char for char in message.to if char.isdigit()).removeprefix("00")
            found.setdefault(f"+{digits}", []).append(message.text)
        return found

    def _sms_problems(self, *, complete: bool) -> list[str]:
        """Per number: what arrived is what the model expects, in its order (a batch's SMS in any order).

        While the outbox still holds messages, what arrived must be the start of it; once it is empty, all of it.
        """
        problems = []
        delivered = self.delivered()
        for number in sorted(set(delivered) | set(self.model.sms)):
            got = delivered.get(number, [])
            due = self.model.sms.get(number, [])
            batches: dict[int, list[str]] = {}
            for batch, text in due:
                batches.setdefault(batch, []).append(text)
            position = 0
            for batch, texts in batches.items():
                part = got[position : position + len(texts)]
                position += len(part)
                if len(part) < len(texts):
                    if complete or Counter(part) - Counter(texts):
                        problems.append(f"{number}: batch {batch} expected {texts}, got {part}")
                    break
                if Counter(part) != Counter(texts):
                    problems.append(f"{number}: batch {batch} expected {texts}, got {part}")
                    break
            if got[position:] and not problems:
                problems.append(f"{number}: unexpected (or duplicated) {got[position:]}")
        return [*problems, *self._describe_sms(delivered)] if problems else []

    def _describe_sms(self, delivered: dict[str, list[str]]) -> list[str]:
        """Everything due and everything delivered, for a failure's report."""
        lines = ["due:"]
        lines += [f"  {number} {batch}: {text}" for number, due in self.model.sms.items() for batch, text in due]
        lines.append("delivered:")
        lines += [f"  {number}: {text}" for number, texts in delivered.items() for text in texts]
        return lines

    async def _sensor_problems(self) -> list[str]:
        """The open-alerts sensor shows the model's open alerts, with their escalation."""
        await show_reports(self.hass)
        state = self.hass.states.get(SENSOR)
        if state is None:
            return ["the open-alerts sensor is missing"]
        problems = []
        if state.state != str(len(self.model.open)):
            problems.append(f"sensor shows {state.state} open, the model {len(self.model.open)}")
        problems += self._switch_problems()
        shown = {alert["reference"]: alert for alert in state.attributes.get("alerts", [])}
        for fingerprint, alert in self.model.open.items():
            spec = SPECS[fingerprint]
            expected = {
                "name": spec.name,
                "status": alert.status,
                "severity": spec.severity,
                "reference": alert.code,
                "count": alert.count,
                "recipients": len(alert.told),
            }
            found = shown.get(alert.code)
            if found is None:
                problems.append(f"sensor does not list {alert.code} ({fingerprint})")
                continue
            if {key: found.get(key) for key in expected} != expected:
                problems.append(f"sensor shows {alert.code} as {found}, the model {expected}")
            escalation = self.model.escalations.get(fingerprint)
            if escalation is not None:
                problems += self._escalation_problems(alert.code, found.get("escalation"), escalation)
        return problems

    def _switch_problems(self) -> list[str]:
        """The Maintenance switch shows the model's window: on, until when, how many alerts it held."""
        state = self.hass.states.get(SWITCH)
        window = self.model.window
        expected = ("off", None, 0) if window is None else ("on", window.ends, len(window.held))
        shown = None if state is None else (state.state, state.attributes.get("ends"), state.attributes.get("held"))
        return [] if shown == expected else [f"the Maintenance switch shows {shown}, the model {expected}"]

    def _escalation_problems(self, code: str, shown: dict[str, Any] | None, escalation: Escalation) -> list[str]:
        """The escalation the sensor shows is the model's."""
        if shown is None:
            return [f"sensor shows no escalation of {code}"]
        last = escalation.pages[-1] if escalation.pages else None
        expected: dict[str, Any] = {
            "state": escalation.state,
            "step": None if last is None else last[0] + 1,
            "round": None if last is None else last[1] + 1,
            "pages": len(escalation.pages),
            "paged": [NAMES[who] for who in escalation.told],
            "acknowledged_by": escalation.by if escalation.state == "acknowledged" else None,
        }
        if self.model.window is None:
            # While a window pauses it, the next page is not known yet (it moves on by the pause)
            when = escalation.next_time() if escalation.step < len(POLICY) else None
            expected["next_page"] = None if when is None else when.isoformat()
        if {key: shown.get(key) for key in expected} != expected:
            return [f"sensor shows the escalation of {code} as {shown}, the model {expected}"]
        return []

    def _log_problems(self) -> list[str]:
        """Nothing at ERROR; the warning that an escalation ran out once per escalation that did."""
        records = self.caplog.records[self._log_start :]
        # Home Assistant's coordinator logs a status page that stops answering once, at error (quality_scale.yaml:
        # log-when-unavailable); the model takes the gateway down on purpose
        problems = [
            f"logged at {record.levelname}: {record.getMessage()}"
            for record in records
            if record.levelno >= logging.ERROR and not record.getMessage().startswith("Error fetching")
        ]
        ran_out = sum(1 for record in records if "its escalation ran out" in record.getMessage())
        if ran_out != self.model.ran_out:
            problems.append(f"{ran_out} escalations ran out in the log, the model {self.model.ran_out}")
        return problems

    def outbox_empty(self) -> bool:
        """Whether the entry's outbox holds nothing (every SMS it took went out)."""
        assert self.entry is not None
        return self.entry.state is ConfigEntryState.LOADED and not self.entry.runtime_data.outbox.items

    async def check(self, *, final: bool = False) -> None:
        """After a step: SMS, events, the sensor and the log agree with the model."""
        problems = self._sms_problems(complete=self.outbox_empty())
        if final and not self.outbox_empty():
            problems.append("the outbox still holds messages after the gateway was up for long")
        if self.events != self.model.events:
            problems.append(f"events {self.events}, the model {self.model.events}")
        if self.failed:
            problems.append(f"given up: {self.failed}")
        problems += await self._sensor_problems()
        problems += self._log_problems()
        assert not problems, "\n".join(["invariants broken:", *problems, "steps:", *self.trace])

    async def finish(self) -> None:
        """The gateway comes back and time passes until the outbox is empty: then everything due has arrived."""
        await self.step(("up",))
        for _ in range(40):
            if self.outbox_empty():
                break
            await self.step(("advance", 1))
        self.trace.append("finish")
        await self.check(final=True)
        if currently_in_test_context():
            # What the example exercised, for --hypothesis-show-statistics
            texts = [text for due in self.model.sms.values() for _batch, text in due]
            for kind, word in (("page", " to acknowledge"), ("announcement", "ACK "), ("resolved", "RESOLVED ")):
                event(f"{kind} SMS: {'yes' if any(word in text for text in texts) else 'no'}")
            event(f"maintenance summary: {'yes' if any('Maintenance' in text for text in texts) else 'no'}")
            event(f"escalation ran out: {'yes' if self.model.ran_out else 'no'}")
