"""Parsers for the webhook bodies of Alertmanager, Grafana and Uptime Kuma, and the entry point for every kind; pure.

Each parser takes the decoded JSON body and returns a ParseResult, or raises AlertParseError when the body is not
one of its kind. One broken alert in a group is skipped (and named in `skipped`) rather than losing the others.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from .generic import GenericFields, parse_generic
from .models import MAX_ALERTS, Alert, AlertParseError, AlertStatus, ParseResult, Severity, SourceKind
from .values import (
    kind_name,
    label_fingerprint,
    object_or_none,
    optional_text,
    status_of,
    string_map,
    text,
    timestamp,
)

# Uptime Kuma's heartbeat status (louislam/uptime-kuma:src/util.ts): DOWN 0, UP 1, PENDING 2, MAINTENANCE 3
KUMA_DOWN, KUMA_UP, KUMA_PENDING, KUMA_MAINTENANCE = 0, 1, 2, 3
_KUMA_NAMES = {KUMA_DOWN: "down", KUMA_UP: "up", KUMA_PENDING: "pending", KUMA_MAINTENANCE: "maintenance"}
# Grafana's per-alert links
_GRAFANA_LINKS = {"silenceURL": "silence", "dashboardURL": "dashboard", "panelURL": "panel"}


def parse(kind: SourceKind | str, payload: Any, *, fields: GenericFields | None = None) -> ParseResult:
    """Read a decoded webhook body of the given kind; raise AlertParseError when it holds none of that kind."""
    try:
        source = SourceKind(kind)
    except ValueError:
        raise AlertParseError("unknown source kind") from None
    if source is SourceKind.GENERIC:
        if fields is None:
            raise AlertParseError("a generic source needs its fields")
        return parse_generic(payload, fields)
    parser: Callable[[Any], ParseResult] = {
        SourceKind.ALERTMANAGER: parse_alertmanager,
        SourceKind.GRAFANA: parse_grafana,
        SourceKind.UPTIME_KUMA: parse_uptime_kuma,
    }[source]
    return parser(payload)


def parse_alertmanager(payload: Any) -> ParseResult:
    """Read Alertmanager's webhook body (version 4: prometheus/alertmanager:notify/webhook/webhook.go)."""
    return _parse_group(payload, SourceKind.ALERTMANAGER)


def parse_grafana(payload: Any) -> ParseResult:
    """Read Grafana's webhook contact point body: Alertmanager's shape plus orgId, title, state, message, values."""
    return _parse_group(payload, SourceKind.GRAFANA)


def _parse_group(payload: Any, kind: SourceKind) -> ParseResult:
    """Read the Alertmanager-shaped body both Alertmanager and Grafana send."""
    body = object_or_none(payload)
    if body is None:
        raise AlertParseError(f"body is a {kind_name(payload)}, not an object")
    raw_alerts = body.get("alerts")
    if not isinstance(raw_alerts, list):
        raise AlertParseError(f"alerts is a {kind_name(raw_alerts)}, not a list")
    group_status = status_of(body.get("status"))
    common_labels = string_map(body.get("commonLabels"))
    alerts: list[Alert] = []
    skipped: list[str] = []
    for index, raw in enumerate(raw_alerts[:MAX_ALERTS]):
        alert, reason = _group_alert(raw, kind, group_status)
        if alert is None:
            skipped.append(f"alert {index}: {reason}")
        else:
            alerts.append(alert)
    if raw_alerts and not alerts:
        raise AlertParseError(f"no readable alert: {skipped[0]}")
    sent_truncated = body.get("truncatedAlerts")
    truncated = sent_truncated if isinstance(sent_truncated, int) and not isinstance(sent_truncated, bool) else 0
    return ParseResult(
        kind=kind,
        alerts=tuple(alerts),
        receiver=text(body.get("receiver")),
        group_key=text(body.get("groupKey")),
        group_labels=string_map(body.get("groupLabels")),
        common_labels=common_labels,
        common_annotations=string_map(body.get("commonAnnotations")),
        external_url=optional_text(body.get("externalURL")),
        status=group_status,
        title=text(body.get("title")),
        message=text(body.get("message")),
        truncated=max(0, min(truncated, 10**9)) + max(0, len(raw_alerts) - MAX_ALERTS),
        unreadable=len(skipped),
        skipped=tuple(skipped[:20]),
    )


def _group_alert(raw: Any, kind: SourceKind, group_status: AlertStatus | None) -> tuple[Alert | None, str]:
    """One alert of an Alertmanager-shaped group, or None with why not."""
    item = object_or_none(raw)
    if item is None:
        return None, f"a {kind_name(raw)}, not an object"
    labels = string_map(item.get("labels"))
    status = status_of(item.get("status")) or group_status
    if status is None:
        return None, "status is neither firing nor resolved"
    name = labels.get("alertname", "")
    if not name and not labels:
        return None, "no labels"
    annotations = string_map(item.get("annotations"))
    message = ""
    links: dict[str, str] = {}
    if kind is SourceKind.GRAFANA:
        message = text(item.get("valueString"))
        for key, link in _GRAFANA_LINKS.items():
            if url := text(item.get(key)):
                links[link] = url
    return Alert(
        kind=kind,
        fingerprint=text(item.get("fingerprint"), 128) or label_fingerprint(labels),
        status=status,
        name=name or next(iter(labels.values())) or "alert",
        severity=Severity.of(labels.get("severity")),
        labels=labels,
        annotations=annotations,
        source_status=status.value,
        message=message,
        starts_at=timestamp(item.get("startsAt")),
        ends_at=timestamp(item.get("endsAt")),
        generator_url=optional_text(item.get("generatorURL")),
        links=MappingProxyType(links),
    ), ""


def parse_uptime_kuma(payload: Any) -> ParseResult:
    """Read Uptime Kuma's webhook notification: `heartbeat`, `monitor` and `msg`.

    The body is {heartbeat, monitor, msg} (louislam/uptime-kuma:server/notification-providers/webhook.js); its
    "Test" button sends the same with both null and msg "<name> Testing" (server/server.js, testNotification).
    Down fires, up resolves. Pending (a failed check Uptime Kuma retries before calling the monitor down) and
    maintenance (a planned window) give no alert: the down or up that follows them does.
    """
    body = object_or_none(payload)
    if body is None:
        raise AlertParseError(f"body is a {kind_name(payload)}, not an object")
    msg = text(body.get("msg"))
    heartbeat, monitor = body.get("heartbeat"), body.get("monitor")
    if heartbeat is None and monitor is None:
        if "msg" not in body:
            raise AlertParseError("neither heartbeat, monitor nor msg")
        return ParseResult(kind=SourceKind.UPTIME_KUMA, test=True, message=msg)
    beat = object_or_none(heartbeat)
    if beat is None:
        raise AlertParseError(f"heartbeat is a {kind_name(heartbeat)}, not an object")
    watched = object_or_none(monitor) or {}
    code = beat.get("status")
    if isinstance(code, bool) or code not in _KUMA_NAMES:
        raise AlertParseError("heartbeat status is not 0, 1, 2 or 3")
    source_status = _KUMA_NAMES[code]
    if code in {KUMA_PENDING, KUMA_MAINTENANCE}:
        return ParseResult(kind=SourceKind.UPTIME_KUMA, message=msg, skipped=(f"monitor {source_status}",))
    monitor_id = text(watched.get("id"), 64) or text(beat.get("monitorID"), 64)
    name = text(watched.get("name"), 256) or text(watched.get("pathName"), 256)
    if not monitor_id and not name:
        raise AlertParseError("no monitor id or name")
    labels = _kuma_labels(watched, name)
    links = {"monitor": url} if (url := text(watched.get("url"))) and url != "https://" else {}
    when = timestamp(beat.get("time"))
    status = AlertStatus.FIRING if code == KUMA_DOWN else AlertStatus.RESOLVED
    alert = Alert(
        kind=SourceKind.UPTIME_KUMA,
        fingerprint=f"monitor-{monitor_id}" if monitor_id else f"monitor-{label_fingerprint({'name': name})}",
        status=status,
        name=name or f"monitor {monitor_id}",
        severity=Severity.of(labels.get("severity")),
        labels=labels,
        source_status=source_status,
        message=text(beat.get("msg")) or msg,
        starts_at=when if status is AlertStatus.FIRING else None,
        ends_at=when if status is AlertStatus.RESOLVED else None,
        links=MappingProxyType(links),
        anew=status is AlertStatus.FIRING and beat.get("important") is True,
    )
    return ParseResult(kind=SourceKind.UPTIME_KUMA, alerts=(alert,), status=status, message=msg)


def _kuma_labels(monitor: dict[str, Any], name: str) -> MappingProxyType[str, str]:
    """Labels of a monitor: its name, type and hostname, and its tags (a tag `severity` sets the severity)."""
    labels: dict[str, str] = {"monitor": name} if name else {}
    for key in ("type", "hostname"):
        if value := text(monitor.get(key), 256):
            labels[key] = value
    tags = monitor.get("tags")
    for tag in tags[:32] if isinstance(tags, list) else ():
        if isinstance(tag, dict) and (tag_name := text(tag.get("name"), 128)):
            labels[tag_name] = text(tag.get("value"))
    return MappingProxyType(labels)
