"""Maintenance windows of alert sources: what a window holds, the summary sent when it ends; pure.

While a source's window is open its alerts still open, count and resolve in the book, but no SMS goes out
and no escalation pages: each alert that fires or resolves is held here instead (the last word on it wins).
When the window ends, each routed recipient gets one summary, `Maintenance of Prometheus ended: 5 alerts
held, 2 still firing: DiskFull db1, NodeDown web2`; alerts that fired and resolved inside it are counted only.
Everything here is kept in the form `as_dict` writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from ..message import sms_info
from .escalation import Escalation
from .models import Alert, AlertStatus, Severity, SourceKind
from .render import fit, where

# Alerts a window keeps with their labels; past it more are counted only (the summary still counts them)
MAX_HELD = 500


@dataclass(kw_only=True)
class Held:
    """One alert held by a window: enough to route it, name it and start its escalation when the window ends."""

    fingerprint: str
    name: str
    severity: str
    status: str = AlertStatus.FIRING.value
    labels: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    count: int = 1

    @property
    def firing(self) -> bool:
        """Whether the source's last word on it was that it fires."""
        return self.status == AlertStatus.FIRING

    def alert(self, kind: SourceKind) -> Alert:
        """Return the held alert as a firing Alert (for its escalation and routing)."""
        return Alert(
            kind=kind,
            fingerprint=self.fingerprint,
            status=AlertStatus.FIRING,
            name=self.name,
            severity=Severity.of(self.severity),
            labels=MappingProxyType(dict(self.labels)),
            annotations=MappingProxyType({"summary": self.summary} if self.summary else {}),
        )

    def label(self) -> str:
        """Name the alert and where it is, as `DiskFull db1`."""
        place = where(self.alert(SourceKind.GENERIC))
        return self.name if not place or place in self.name else f"{self.name} {place}"

    def as_dict(self) -> dict[str, Any]:
        """Return the stored form."""
        return {
            "fingerprint": self.fingerprint,
            "name": self.name,
            "severity": self.severity,
            "status": self.status,
            "labels": dict(self.labels),
            "summary": self.summary,
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, raw: object) -> Held | None:
        """Read the stored form; None for what cannot be read."""
        if not isinstance(raw, dict) or not isinstance(raw.get("fingerprint"), str):
            return None
        labels = raw.get("labels")
        try:
            return cls(
                fingerprint=raw["fingerprint"],
                name=str(raw.get("name", "")),
                severity=str(Severity.of(raw.get("severity"))),
                status=AlertStatus.RESOLVED.value if raw.get("status") == AlertStatus.RESOLVED else "firing",
                labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
                summary=str(raw.get("summary", "")),
                count=max(1, int(raw.get("count", 1))),
            )
        except (TypeError, ValueError):
            return None


@dataclass(kw_only=True)
class Window:
    """One source's maintenance window: when it started, when it ends (None: until turned off), what it held."""

    source: str
    started: dt.datetime
    ends: dt.datetime | None = None
    held: dict[str, Held] = field(default_factory=dict)
    # Alerts held past MAX_HELD: counted in the summary, not named
    overflow: int = 0

    def due(self, now: dt.datetime) -> bool:
        """Whether a timed window's end has come."""
        return self.ends is not None and self.ends <= now

    def hold(self, alert: Alert) -> None:
        """Hold an alert that fired or resolved in the window (a later word on the same alert replaces it)."""
        current = self.held.get(alert.fingerprint)
        if current is not None:
            current.status = alert.status.value
            current.count += 1
            if alert.status is AlertStatus.FIRING:
                current.labels = dict(alert.labels)
                current.summary = alert.summary
                current.severity = str(alert.severity)
            return
        if len(self.held) >= MAX_HELD:
            self.overflow += 1
            return
        self.held[alert.fingerprint] = Held(
            fingerprint=alert.fingerprint,
            name=alert.name,
            severity=str(alert.severity),
            status=alert.status.value,
            labels=dict(alert.labels),
            summary=alert.summary if alert.status is AlertStatus.FIRING else "",
        )

    @property
    def count(self) -> int:
        """How many alerts the window held."""
        return len(self.held) + self.overflow

    def as_dict(self) -> dict[str, Any]:
        """Return the stored form (times as ISO text)."""
        return {
            "source": self.source,
            "started": self.started.isoformat(),
            "ends": None if self.ends is None else self.ends.isoformat(),
            "held": [held.as_dict() for held in self.held.values()],
            "overflow": self.overflow,
        }

    @classmethod
    def from_dict(cls, raw: object) -> Window | None:
        """Read the stored form; None for what cannot be read."""
        if not isinstance(raw, dict) or not isinstance(raw.get("source"), str):
            return None
        started = _read_time(raw.get("started"))
        if started is None:
            return None
        held = [found for item in raw.get("held") or () if (found := Held.from_dict(item)) is not None]
        overflow = raw.get("overflow")
        return cls(
            source=raw["source"],
            started=started,
            ends=_read_time(raw.get("ends")),
            held={item.fingerprint: item for item in held[:MAX_HELD]},
            overflow=overflow if isinstance(overflow, int) and overflow > 0 else 0,
        )


def windows_from_stored(stored: object, sources: Iterable[str]) -> dict[str, Window]:
    """Read the stored windows of sources that still exist."""
    kept = set(sources)
    if not isinstance(stored, list):
        return {}
    found = (Window.from_dict(raw) for raw in stored)
    return {window.source: window for window in found if window is not None and window.source in kept}


def summary_text(source: str, held: int, firing: Sequence[Held], parts: int = 1) -> str:
    """Write the summary of a window that ended, fit to `parts` SMS where the names allow.

    `Maintenance of Prometheus ended: 5 alerts held, 2 still firing: DiskFull db1, NodeDown web2`; names that
    do not fit become "+N more"; none firing reads `..., none still firing`.
    """
    noun = "alert" if held == 1 else "alerts"
    head = f"Maintenance of {source} ended: {held} {noun} held"
    if not firing:
        return fit(f"{head}, none still firing", parts)
    ordered = sorted(firing, key=lambda item: Severity.of(item.severity).rank)
    prefix = f"{head}, {len(ordered)} still firing: "
    text = prefix
    for index, item in enumerate(ordered):
        joined = f"{text}{'' if text == prefix else ', '}{item.label()}"
        rest = len(ordered) - index - 1
        if _fits(joined + (f", +{rest} more" if rest else ""), parts):
            text = joined
            continue
        return fit(f"{text}{'' if text == prefix else ', '}+{len(ordered) - index} more", parts)
    return fit(text, parts)


def summary_severity(firing: Sequence[Held]) -> Severity:
    """Return the severity a summary goes with: its most severe firing alert; good news (nothing firing) is info."""
    if not firing:
        return Severity.INFO
    return min((Severity.of(item.severity) for item in firing), key=lambda severity: severity.rank)


def resume(escalation: Escalation, paused_at: dt.datetime, now: dt.datetime) -> Escalation:
    """Resume an escalation paused by a window: its next step moves on by the time it was paused.

    A step due before the pause (overdue when the window began) is due now. A snooze keeps the end it
    was given, the time the one who snoozed was told: set in the window, it still holds the step until
    then; one that ended in the window holds nothing more.
    """
    if not escalation.active or escalation.due is None:
        return escalation
    pause = max(now - paused_at, dt.timedelta(0))
    due = escalation.due + pause if escalation.due > paused_at else now
    return replace(escalation, due=due)


def routed(held: Iterable[Held], targets_of: Mapping[str, Sequence[str]]) -> dict[str, list[Held]]:
    """Group held alerts by target (`targets_of`: the targets of each fingerprint), in the order held."""
    grouped: dict[str, list[Held]] = {}
    for item in held:
        for target in targets_of.get(item.fingerprint, ()):
            grouped.setdefault(target, []).append(item)
    return grouped


def _fits(text: str, parts: int) -> bool:
    """Whether a text travels in `parts` SMS (as the outbox would send it)."""
    return sms_info(text).parts <= parts


def _read_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        found = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return found if found.tzinfo is not None else found.replace(tzinfo=dt.UTC)
