"""The world of the alert-model test as plain data: recipients, two sources of two kinds, their alerts and bodies.

An Alertmanager source (routes, an escalation policy) and an Uptime Kuma source (its own recipients and route,
no escalation) on one entry. Each alert is a Spec: its source, name, severity, labels and the body its sender
posts. tests/alert_model_rules.py (the model) and tests/alert_model_harness.py (the real entry) share them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .conftest import RECIPIENT

ZERO_TIME = "0001-01-01T00:00:00Z"

# Recipients: id, name, number
ONCALL, NIGHT, TEAM = "oncall", "night", "team"
NUMBERS = {ONCALL: RECIPIENT, NIGHT: "+491709999999", TEAM: "+491705555555"}
NAMES = {ONCALL: "On call", NIGHT: "Night", TEAM: "Team"}
# The recipient that may have quiet hours (README "## Alert storms, severity and quiet hours")
QUIET = TEAM
# A number that is nobody's: a reply from it still acknowledges (README: "taken from any number")
STRANGER = "+491702222222"
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Source:
    """One alert source of the entry: its kind, webhook, recipients, routes and whether it escalates."""

    key: str
    kind: str
    name: str
    hook: str
    token: str
    recipients: tuple[str, ...]
    # (label, value, recipients): label=value routes to those recipients
    routes: tuple[tuple[str, str, tuple[str, ...]], ...]
    escalates: bool

    @property
    def slug(self) -> str:
        """Its name as its entities' ids have it."""
        return self.name.lower().replace(" ", "_")


AM, KUMA = "source1", "source2"
SOURCES = {
    # Routes: team=db -> Team; team=web -> Night, Team; the source's own recipient (On call) for the rest
    AM: Source(
        AM,
        "alertmanager",
        "Prometheus",
        "alert-model-hook",
        "alert-model-token",
        (ONCALL,),
        (("team", "db", (TEAM,)), ("team", "web", (NIGHT, TEAM))),
        escalates=True,
    ),
    # Routes: team=ops -> Night, Team; the source's own recipient (Team) for the rest; no escalation
    KUMA: Source(
        KUMA,
        "uptime_kuma",
        "Uptime Kuma",
        "alert-model-kuma",
        "alert-model-kuma-token",
        (TEAM,),
        (("team", "ops", (NIGHT, TEAM)),),
        escalates=False,
    ),
}
# The policy of the Alertmanager source: On call | 5, then Night | 5 (README "Escalation until acknowledged")
POLICY = ((ONCALL, 5), (NIGHT, 5))


@dataclass(frozen=True)
class Spec:
    """One alert: its fingerprint (Alertmanager's) or monitor (Uptime Kuma's) stands for labels that never change."""

    source: str
    name: str
    severity: str
    team: str
    summary: str
    monitor: int = 0

    @property
    def labels(self) -> dict[str, str]:
        """Its labels: Alertmanager's, or a monitor's tags as Uptime Kuma's are read (README "Routes")."""
        labels = {"alertname": self.name} if self.source == AM else {"monitor": self.name, "type": "http"}
        labels["severity"] = self.severity
        if self.team:
            labels["team"] = self.team
        return labels


SPECS = {
    "fp-disk": Spec(AM, "DiskFull", "warning", "db", "disk at 97%"),
    "fp-node": Spec(AM, "NodeDown", "critical", "web", "node unreachable"),
    "fp-lat": Spec(AM, "Latency", "warning", "", "p99 over 2 s"),
    "fp-core": Spec(AM, "CoreDown", "critical", "", "core switch down"),
    # Never escalated (below both escalation severities drawn): alerts of one group to On call, with Latency
    "fp-mem": Spec(AM, "MemoryHigh", "info", "", "memory at 91%"),
    "fp-swap": Spec(AM, "SwapHigh", "info", "", "swap at 80%"),
    # Uptime Kuma's fingerprint of a monitor is `monitor-<id>`
    "monitor-1": Spec(KUMA, "Website", "warning", "", "timeout of 48000ms exceeded", monitor=1),
    "monitor-2": Spec(KUMA, "Router", "critical", "ops", "connect ECONNREFUSED", monitor=2),
    "monitor-3": Spec(KUMA, "Printer", "info", "", "No heartbeat in the time window", monitor=3),
}
FINGERPRINTS = tuple(SPECS)


def routed(spec: Spec) -> list[str]:
    """The recipients an alert is routed to: those of every matching route, else its source's own."""
    source = SOURCES[spec.source]
    chosen = [
        who for label, value, recipients in source.routes if spec.labels.get(label, "") == value for who in recipients
    ]
    return list(dict.fromkeys(chosen or source.recipients))


def iso(when: dt.datetime) -> str:
    """A time as Alertmanager writes it."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def body(fingerprint: str, status: str, starts: str, ends: str = ZERO_TIME) -> dict[str, Any]:
    """The body the alert's sender posts: firing or resolved."""
    spec = SPECS[fingerprint]
    if spec.source == KUMA:
        return kuma_body(spec, status, ends if status == "resolved" else starts)
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


def group_body(alerts: list[tuple[str, str, str, bool]]) -> dict[str, Any]:
    """Alertmanager's body for one group of its alerts: (fingerprint, start, now, firing) each.

    Its status is `firing` while one of them fires (prometheus/alertmanager: template/template.go, `Data`);
    a resolved alert carries its end, a firing one the zero time; the common labels are those all share.
    """
    listed = [
        body(fp, "firing" if firing else "resolved", starts, ZERO_TIME if firing else now)["alerts"][0]
        for fp, starts, now, firing in alerts
    ]
    common = {
        key: value
        for key, value in listed[0]["labels"].items()
        if all(alert["labels"].get(key) == value for alert in listed)
    }
    return {
        "receiver": "sms",
        "status": "firing" if any(firing for *_rest, firing in alerts) else "resolved",
        "alerts": listed,
        "groupLabels": {},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://prometheus.example.org:9093",
        "version": "4",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
    }


def kuma_body(spec: Spec, status: str, when: str) -> dict[str, Any]:
    """Uptime Kuma's webhook body for a monitor going down (firing) or up (resolved).

    Its shape is tests/fixtures/alerts/uptime_kuma_down.json (louislam/uptime-kuma:
    server/notification-providers/webhook.js: heartbeat, monitor, msg); heartbeat status 0 is down, 1 up
    (src/util.ts), and a tag `severity` or `team` becomes a label.
    """
    down = status == "firing"
    stamp = dt.datetime.fromisoformat(when).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    message = spec.summary if down else "200 - OK"
    tags = [{"id": 1, "monitor_id": spec.monitor, "tag_id": 3, "value": spec.severity, "name": "severity"}]
    if spec.team:
        tags.append({"id": 2, "monitor_id": spec.monitor, "tag_id": 4, "value": spec.team, "name": "team"})
    return {
        "heartbeat": {
            "monitorID": spec.monitor,
            "status": 0 if down else 1,
            "time": stamp,
            "msg": message,
            "important": True,
            "duration": 0 if down else 240,
        },
        "monitor": {
            "id": spec.monitor,
            "name": spec.name,
            "description": None,
            "pathName": spec.name,
            "parent": None,
            "childrenIDs": [],
            "url": f"https://{spec.name.lower()}.example.org",
            "method": "GET",
            "hostname": None,
            "port": None,
            "maxretries": 0,
            "weight": 2000,
            "active": True,
            "type": "http",
            "interval": 60,
            "tags": tags,
            "maintenance": False,
        },
        "msg": f"[{spec.name}] [{'Down' if down else 'Up'}] {message}",
    }


def masked(number: str) -> str:
    """A replying number as the announcement names it (README: `by +49170...567`)."""
    return f"{number[:6]}...{number[-3:]}"


def subentries(*, escalate_from: str, repeat: int, quiet: tuple[dt.time, dt.time] | None) -> list[dict[str, Any]]:
    """The entry's recipients (the quiet one with its quiet hours) and its two sources, as subentry data."""
    recipients = [
        {
            "data": {"target": NUMBERS[key]}
            | (
                {"quiet_start": quiet[0].isoformat(), "quiet_end": quiet[1].isoformat()}
                if quiet and key == QUIET
                else {}
            ),
            "subentry_type": "recipient",
            "title": NAMES[key],
            "unique_id": NUMBERS[key],
            "subentry_id": key,
        }
        for key in (ONCALL, NIGHT, TEAM)
    ]
    sources = []
    for source in SOURCES.values():
        data: dict[str, Any] = {
            "kind": source.kind,
            "recipients": list(source.recipients),
            "send_resolved": True,
            "local_only": True,
            "routes": [
                {"matchers": [f"{label}={value}"], "recipients": list(who)} for label, value, who in source.routes
            ],
            "webhook_id": source.hook,
            "token": source.token,
            "announce_ack": True,
        }
        if source.escalates:
            data["escalation"] = [{"recipients": [who], "wait": wait, "ring": False} for who, wait in POLICY]
            data["escalation_severity"] = escalate_from
            data["escalation_repeat"] = repeat
        sources.append(
            {
                "data": data,
                "subentry_type": "alert_source",
                "title": source.name,
                "unique_id": source.hook,
                "subentry_id": source.key,
            }
        )
    return [*recipients, *sources]
