"""The generic source: any JSON body, its fields picked by paths (Zabbix media types, Gatus, scripts); pure.

A field path is a simple JSONPath: an optional `$`, then keys joined by dots, list indexes in brackets or as a
dotted number, and keys holding dots or spaces in quotes: `$.event.name`, `alerts[0].labels.host`,
`data['host.name']`. The configuration (kept as the source's `fields`) is a mapping:

    name: path of the alert's name (required)
    status: path of its status; a value in `resolved` resolves, any other value (or none) fires
    severity: path of its severity (critical, warning, info; anything else is warning)
    message: path of the text that says what is wrong
    dedup_key: path of what keeps one alert apart from others (default: the name)
    alerts: path of a list of alerts; the other paths are then read inside each item
    resolved: the status values that mean resolved, any case (default: RESOLVED_VALUES)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .models import MAX_ALERTS, MAX_KEY, Alert, AlertParseError, AlertStatus, ParseResult, Severity, SourceKind
from .values import kind_name, text

# Status values that mean "over": Alertmanager's "resolved", Uptime Kuma's "up", Zabbix's "OK" and "RESOLVED"
# ({TRIGGER.STATUS}, {EVENT.STATUS}) and recovery value 0 ({EVENT.VALUE}), and the usual words
RESOLVED_VALUES = frozenset({"resolved", "resolve", "recovered", "recovery", "ok", "up", "0", "false", "closed"})
MAX_PATH = 256
MAX_STEPS = 16
FIELD_NAMES = ("name", "status", "severity", "message", "dedup_key", "alerts")
_STEP = re.compile(r"""\.?(?:\[(\d+)\]|\[(?:'([^']*)'|"([^"]*)")\]|([^.\[\]'"]+))""")

type Step = str | int


class FieldPathError(ValueError):
    """A field path or configuration that cannot be used, with a short reason."""


def parse_path(path: str) -> tuple[Step, ...]:
    """Read a field path into its steps; raise FieldPathError for one that cannot be read."""
    raw = path.strip()
    if not raw or len(raw) > MAX_PATH:
        raise FieldPathError("a path is empty or too long")
    raw = raw.removeprefix("$")
    steps: list[Step] = []
    position = 0
    while position < len(raw):
        match = _STEP.match(raw, position)
        if match is None or match.end() == position:
            raise FieldPathError(f"cannot read the path at character {position + 1}")
        index, single, double, plain = match.groups()
        if index is not None:
            steps.append(int(index))
        else:
            key = next(part for part in (single, double, plain) if part is not None)
            steps.append(int(key) if plain is not None and key.isdigit() else key)
        position = match.end()
    if not steps or len(steps) > MAX_STEPS:
        raise FieldPathError("a path needs 1 to 16 steps")
    return tuple(steps)


def lookup(payload: Any, steps: Iterable[Step]) -> Any:
    """Return the value at a path, or None where the body has nothing there."""
    value = payload
    for step in steps:
        if isinstance(value, dict):
            value = value.get(str(step))
        elif isinstance(value, list) and isinstance(step, int) and step < len(value):
            value = value[step]
        else:
            return None
    return value


@dataclass(frozen=True, kw_only=True)
class GenericFields:
    """Where a generic source's body holds each field of an alert."""

    name: tuple[Step, ...]
    status: tuple[Step, ...] | None = None
    severity: tuple[Step, ...] | None = None
    message: tuple[Step, ...] | None = None
    dedup_key: tuple[Step, ...] | None = None
    alerts: tuple[Step, ...] | None = None
    resolved: frozenset[str] = RESOLVED_VALUES

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> GenericFields:
        """Read the stored configuration (see the module's docstring); raise FieldPathError when it cannot be used."""
        unknown = set(config) - {*FIELD_NAMES, "resolved"}
        if unknown:
            raise FieldPathError(f"unknown field {min(unknown)[:MAX_KEY]!r}")
        paths: dict[str, tuple[Step, ...] | None] = {}
        for key in FIELD_NAMES:
            value = config.get(key)
            if value is None or value == "":
                paths[key] = None
            elif isinstance(value, str):
                paths[key] = parse_path(value)
            else:
                raise FieldPathError(f"{key} is not a path")
        name = paths.pop("name")
        if name is None:
            raise FieldPathError("name is required")
        resolved = config.get("resolved")
        if resolved is None:
            values = RESOLVED_VALUES
        elif isinstance(resolved, list | tuple) and all(isinstance(item, str) for item in resolved):
            values = frozenset(item.strip().lower() for item in resolved if item.strip())
        else:
            raise FieldPathError("resolved is not a list of text")
        return cls(name=name, resolved=values, **paths)


def parse_generic(payload: Any, fields: GenericFields) -> ParseResult:
    """Read a body with the given fields: one alert, or one per item of the `alerts` list."""
    if fields.alerts is None:
        items: list[Any] = [payload]
    else:
        found = lookup(payload, fields.alerts)
        if not isinstance(found, list):
            raise AlertParseError(f"alerts is a {kind_name(found)}, not a list")
        items = found
    alerts: list[Alert] = []
    skipped: list[str] = []
    for index, item in enumerate(items[:MAX_ALERTS]):
        name = text(lookup(item, fields.name), 256)
        if not name:
            skipped.append(f"alert {index}: no name at its path")
            continue
        alerts.append(_alert(item, name, fields))
    if not alerts:
        raise AlertParseError(f"no readable alert: {skipped[0]}" if skipped else "the list of alerts is empty")
    status = AlertStatus.FIRING if any(a.status is AlertStatus.FIRING for a in alerts) else AlertStatus.RESOLVED
    return ParseResult(
        kind=SourceKind.GENERIC,
        alerts=tuple(alerts),
        status=status,
        truncated=max(0, len(items) - MAX_ALERTS),
        unreadable=len(skipped),
        skipped=tuple(skipped[:20]),
    )


def _alert(item: Any, name: str, fields: GenericFields) -> Alert:
    """One alert from one item."""
    raw_status = text(lookup(item, fields.status), 64) if fields.status else ""
    status = AlertStatus.RESOLVED if raw_status.lower() in fields.resolved else AlertStatus.FIRING
    raw_severity = text(lookup(item, fields.severity), 64) if fields.severity else ""
    severity = Severity.of(raw_severity)
    key = text(lookup(item, fields.dedup_key), 128) if fields.dedup_key else ""
    labels: dict[str, str] = {"alertname": name}
    if raw_severity:
        labels["severity"] = raw_severity
    return Alert(
        kind=SourceKind.GENERIC,
        fingerprint=key or name[:128],
        status=status,
        name=name,
        severity=severity,
        labels=MappingProxyType(labels),
        source_status=raw_status or status.value,
        message=text(lookup(item, fields.message)) if fields.message else "",
    )
