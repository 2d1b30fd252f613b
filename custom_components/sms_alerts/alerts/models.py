"""One alert as every source kind reads, and what a parsed webhook body holds; pure."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

# Bounds on what one body may put into an alert: a parsed body never holds more than this
MAX_ALERTS = 1000
MAX_LABELS = 64
MAX_KEY = 128
MAX_TEXT = 1024
MAX_REASON = 120
_EMPTY: Mapping[str, str] = MappingProxyType({})


class SourceKind(StrEnum):
    """The kinds of alert source (CONTRACT.md, "Alert sources")."""

    ALERTMANAGER = "alertmanager"
    GRAFANA = "grafana"
    UPTIME_KUMA = "uptime_kuma"
    GENERIC = "generic"


class AlertStatus(StrEnum):
    """What a source says about one alert: it fires, or it is over."""

    FIRING = "firing"
    RESOLVED = "resolved"


class Severity(StrEnum):
    """Severities an alert can have; the order of the members is the order of importance."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @classmethod
    def of(cls, value: object) -> Severity:
        """Read a severity label: `critical`, `warning`, `info` (any case); anything else is a warning."""
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        return cls.WARNING

    @property
    def rank(self) -> int:
        """0 for the most important severity."""
        return list(Severity).index(self)


class AlertParseError(ValueError):
    """A body that holds no alert of its kind, with a short reason that never repeats the body's values."""

    def __init__(self, reason: str) -> None:
        """Keep the reason, cut to a bounded length."""
        text = reason if len(reason) <= MAX_REASON else f"{reason[: MAX_REASON - 3]}..."
        super().__init__(text)
        self.reason = text


@dataclass(frozen=True, kw_only=True)
class Alert:
    """One alert in the same shape whatever sent it."""

    kind: SourceKind
    # What keeps one alert apart from others of its source: Alertmanager's and Grafana's `fingerprint`,
    # the Uptime Kuma monitor, or the generic source's dedup key
    fingerprint: str
    status: AlertStatus
    name: str
    severity: Severity = Severity.WARNING
    labels: Mapping[str, str] = field(default=_EMPTY)
    annotations: Mapping[str, str] = field(default=_EMPTY)
    # The source's own word for the state where it has more than two (Uptime Kuma's "down", "up", ...)
    source_status: str = ""
    # Free text the source sends besides labels (Uptime Kuma's `msg`, the generic message, Grafana's valueString)
    message: str = ""
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    generator_url: str | None = None
    # Further links some sources give (Grafana: silenceURL, dashboardURL, panelURL; Uptime Kuma: the monitor's url)
    links: Mapping[str, str] = field(default=_EMPTY)
    # The source says this firing begins an episode: Uptime Kuma's `important` beat (up, pending or maintenance to
    # down, or a monitor's first beat), not a resend of a monitor still down
    anew: bool = False

    @property
    def episode_start(self) -> float | None:
        """When this episode of the alert began (a POSIX time), where the source keeps it for the whole episode.

        Alertmanager's and Grafana's `startsAt` is one time from the first firing to the resolved (Alertmanager
        keeps the earliest of its replicas'); a later one is a new episode. Uptime Kuma's time is the heartbeat's:
        an episode's start only on the beat that begins it (`anew`), not on a resend. The generic source has none.
        """
        if self.starts_at is None or (self.kind is SourceKind.UPTIME_KUMA and not self.anew):
            return None
        if self.kind in (SourceKind.ALERTMANAGER, SourceKind.GRAFANA, SourceKind.UPTIME_KUMA):
            return self.starts_at.timestamp()
        return None

    @property
    def shown_name(self) -> str:
        """The name for a log line: cut to 80 characters (a sender may name an alert at length)."""
        return self.name if len(self.name) <= 80 else f"{self.name[:79]}…"  # noqa: PLR2004 - a log line's share

    @property
    def untimed(self) -> bool:
        """Tell whether the alert carries no time of its own: a body repeating it says nothing of when."""
        return self.starts_at is None and self.ends_at is None

    @property
    def summary(self) -> str:
        """The one line that says what is wrong: summary, description, then the source's message."""
        for text in (self.annotations.get("summary"), self.annotations.get("description"), self.message):
            if text:
                return text
        return ""


@dataclass(frozen=True, kw_only=True)
class ParseResult:
    """What one webhook body holds: its alerts and what the sender says about the group."""

    kind: SourceKind
    alerts: tuple[Alert, ...] = ()
    # Alertmanager and Grafana: the receiver (contact point) name, the group's key, labels and annotations
    receiver: str = ""
    group_key: str = ""
    group_labels: Mapping[str, str] = field(default=_EMPTY)
    common_labels: Mapping[str, str] = field(default=_EMPTY)
    common_annotations: Mapping[str, str] = field(default=_EMPTY)
    external_url: str | None = None
    # The group's status as sent (firing while any alert of the group fires)
    status: AlertStatus | None = None
    title: str = ""
    # Alerts the sender left out (Alertmanager's and Grafana's `truncatedAlerts`) plus those past MAX_ALERTS here
    truncated: int = 0
    # Alerts of the body that could not be read (the others were); `skipped` says why
    unreadable: int = 0
    # A test message (Uptime Kuma's "Test" button): nothing to alert, the source works
    test: bool = False
    # The text a test message or a body without alerts carried
    message: str = ""
    # Why parts of the body gave no alert: short reasons, never the values themselves
    skipped: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        """A key for the body's meaning: the same delivery posted twice gives the same digest."""
        hasher = hashlib.sha256(self.kind.encode())
        hasher.update(self.group_key.encode("utf-8", "surrogatepass"))
        for alert in self.alerts:
            for part in (alert.fingerprint, alert.status, alert.starts_at, alert.ends_at, alert.source_status):
                hasher.update(b"\x00" + str(part).encode("utf-8", "surrogatepass"))
        if self.test:
            hasher.update(b"\x01test" + self.message.encode("utf-8", "surrogatepass"))
        if self.truncated or self.unreadable:
            # More left out is another notification, not a retry of this one
            hasher.update(f"\x02{self.truncated}:{self.unreadable}".encode())
        return hasher.hexdigest()[:32]

    @property
    def firing(self) -> tuple[Alert, ...]:
        """The alerts that fire."""
        return tuple(alert for alert in self.alerts if alert.status is AlertStatus.FIRING)

    @property
    def not_shown(self) -> int:
        """How many alerts the body names but does not show: left out by the sender or unreadable."""
        return self.truncated + self.unreadable

    @property
    def resolved(self) -> tuple[Alert, ...]:
        """The alerts that are over."""
        return tuple(alert for alert in self.alerts if alert.status is AlertStatus.RESOLVED)
