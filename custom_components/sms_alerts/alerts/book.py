"""The open alerts of an entry's sources: who was told, how often they fired, deliveries seen; pure.

Keyed by source (its subentry id) and fingerprint. A firing alert opens once; firing again while open is
counted; resolving closes it and says who got the firing SMS. The same delivery (its body's digest) seen
again within DELIVERY_WINDOW is reported as seen. Everything here is kept in the form `as_dict` writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .models import Alert, AlertStatus, SourceKind

# Senders retry a delivery they got no answer for within minutes (Alertmanager, Grafana): seen again, it is ignored
DELIVERY_WINDOW = 600.0
MAX_DELIVERIES = 5000
# Open alerts kept per source; past it the one quiet the longest is forgotten
MAX_OPEN_PER_SOURCE = 2000
CODE_PREFIX = "A"
FIRING = "firing"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"


@dataclass(kw_only=True)
class OpenAlert:
    """One alert that fired and is not resolved yet."""

    source: str
    fingerprint: str
    name: str
    severity: str
    code: str
    status: str = FIRING
    count: int = 1
    first_seen: float = 0.0
    last_seen: float = 0.0
    # When its episode began, as the source says (Alertmanager's and Grafana's startsAt; None for the others)
    started: float | None = None
    # Targets told of the firing alert, each with the outbox item that may still hold it ("" once it went out)
    notified: dict[str, str] = field(default_factory=dict)
    # Targets told of it by an earlier SMS than the one `notified` holds (a page before the next): told whatever
    # becomes of the later one (it fails, or is taken back held)
    earlier: list[str] = field(default_factory=list)
    # Earlier SMS per target, replaced by a later one while their first send was under way (in memory only)
    pending: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return the stored form (a new dict: the journal compares it with the one written last)."""
        return {
            "source": self.source,
            "fingerprint": self.fingerprint,
            "name": self.name,
            "severity": self.severity,
            "code": self.code,
            "status": self.status,
            "count": self.count,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "notified": dict(self.notified),
            "earlier": list(self.earlier),
            **({"started": self.started} if self.started is not None else {}),
        }


def _open_alert(raw: object) -> OpenAlert | None:
    """Read a stored open alert; None for one that cannot be read."""
    if not isinstance(raw, dict):
        return None
    try:
        alert = OpenAlert(
            source=str(raw["source"]),
            fingerprint=str(raw["fingerprint"]),
            name=str(raw.get("name", "")),
            severity=str(raw.get("severity", "warning")),
            code=str(raw.get("code", "")),
            status=ACKNOWLEDGED if raw.get("status") == ACKNOWLEDGED else FIRING,
            count=int(raw.get("count", 1)),
            first_seen=float(raw.get("first_seen", 0.0)),
            last_seen=float(raw.get("last_seen", 0.0)),
            notified={str(key): str(value) for key, value in dict(raw.get("notified") or {}).items()},
            earlier=[str(target) for target in list(raw.get("earlier") or [])],
            started=None if raw.get("started") is None else float(raw["started"]),
        )
    except (KeyError, TypeError, ValueError):
        return None
    return alert


@dataclass(frozen=True, kw_only=True)
class Ending:
    """How the first send of an alert SMS ended.

    It went (`sent`); it tells (it went or waits: `told`); it was a copy of a held SMS (`copy_of`), which tells.
    """

    told: bool
    sent: bool = False
    copy_of: str | None = None


class AlertBook:
    """The open alerts and recent deliveries of one entry's alert sources."""

    def __init__(self) -> None:
        """Start with nothing open."""
        self.open: dict[tuple[str, str], OpenAlert] = {}
        self._deliveries: dict[str, float] = {}
        self._next_code = 1
        # Outbox items that told of several alerts (summaries), while an open alert still counts on one
        self._summaries: set[str] = set()
        # Outbox items of alert SMS whose first send has not ended yet (in memory: after a restart none is)
        self.under_way: set[str] = set()
        # Deliveries seen since the journal last took them (None while nothing keeps a journal)
        self.delivery_log: list[tuple[str, float]] | None = None

    # Deliveries

    def seen_delivery(self, source: str, digest: str, now: float) -> bool:
        """Tell whether this delivery came within DELIVERY_WINDOW already; remember it either way."""
        deliveries = self._deliveries
        # Kept in arrival order: the stale ones are the first (no copy of the whole memory per delivery)
        while deliveries:
            oldest = next(iter(deliveries))
            if now - deliveries[oldest] <= DELIVERY_WINDOW:
                break
            del deliveries[oldest]
        key = f"{source}:{digest}"
        # A forgotten one stays until it is the oldest, at time 0
        # (one "from the future", after the clock was set back, is not this one again)
        seen = 0 <= now - self._deliveries.get(key, -DELIVERY_WINDOW - 1) <= DELIVERY_WINDOW
        self._deliveries.pop(key, None)
        self._deliveries[key] = now
        if self.delivery_log is not None:
            self.delivery_log.append((key, now))
        while len(self._deliveries) > MAX_DELIVERIES:
            del self._deliveries[next(iter(self._deliveries))]
        return seen

    def forget_delivery(self, source: str, digest: str) -> None:
        """Forget a delivery (it could not be acted on): its sender's next try is acted on."""
        key = f"{source}:{digest}"
        if key in self._deliveries:
            self._deliveries[key] = 0.0
            if self.delivery_log is not None:
                self.delivery_log.append((key, 0.0))

    def take_deliveries(self) -> list[tuple[str, float]]:
        """Return the deliveries seen since the last call, and start a new log."""
        taken, self.delivery_log = self.delivery_log or [], []
        return taken

    # Alerts

    def fire(self, source: str, alert: Alert, now: float) -> tuple[OpenAlert, bool]:
        """Open a firing alert, or count one more firing of an open one; return it and whether it is new."""
        current = self.open.get((source, alert.fingerprint))
        if current is not None:
            current.count += 1
            current.last_seen = now
            return current, False
        opened = OpenAlert(
            source=source,
            fingerprint=alert.fingerprint,
            name=alert.name,
            severity=str(alert.severity),
            code=f"{CODE_PREFIX}{self._next_code}",
            first_seen=now,
            last_seen=now,
            started=alert.episode_start,
        )
        self._next_code += 1
        self.open[(source, alert.fingerprint)] = opened
        self._bound(source)
        return opened, True

    def _bound(self, source: str) -> None:
        """Forget the open alert of a source quiet the longest while it has more than MAX_OPEN_PER_SOURCE."""
        of_source = [alert for alert in self.open.values() if alert.source == source]
        if len(of_source) > MAX_OPEN_PER_SOURCE:
            oldest = min(of_source, key=lambda alert: alert.last_seen)
            del self.open[(source, oldest.fingerprint)]

    def notified(self, source: str, fingerprint: str, targets: Mapping[str, str]) -> None:
        """Note the targets told of a firing alert (with the outbox item that may hold the SMS).

        A target told by an earlier SMS stays told whatever becomes of this one; an earlier SMS whose first
        send has not ended yet tells only once it ends told (`send_ended`).
        """
        current = self.open.get((source, fingerprint))
        if current is not None:
            for target, item_id in targets.items():
                previous = current.notified.get(target)
                if previous is not None and target not in current.earlier:
                    if previous in self.under_way:
                        current.pending.setdefault(target, []).append(previous)
                    else:
                        current.earlier.append(target)
                current.notified[target] = item_id

    def send_ended(
        self, source: str, fingerprint: str, target: str, item_id: str, *, told: bool, sent: bool = False
    ) -> bool:
        """Note how the first send of an SMS (outbox item `item_id`) to a target ended; return whether that changed.

        `sent`: it went out ("" from now); `told`: it went out or waits to (queued, held, a copy sent); neither:
        nobody was told by it after all.
        """
        current = self.open.get((source, fingerprint))
        if current is None:
            return False  # resolved meanwhile
        earlier = current.pending.get(target, [])
        if item_id in earlier:
            # An SMS a later one replaced: it tells, or not, now that it ended
            earlier.remove(item_id)
            if not earlier:
                del current.pending[target]
            if told and target not in current.notified:
                current.notified[target] = ""
            elif told and target not in current.earlier:
                current.earlier.append(target)
            else:
                return False
            return True
        if current.notified.get(target) != item_id:
            return False  # told again since
        if sent or (not told and target in current.earlier):
            current.notified[target] = ""
        elif not told:
            # Nobody told by it; an earlier SMS still under way tells, or not, when it ends
            del current.notified[target]
        else:
            return False
        return True

    def first_send_ended(
        self, source: str, fingerprints: Sequence[str], target: str, item_id: str, ended: Ending
    ) -> bool:
        """Note how the first send of an SMS telling of these alerts ended; return whether that changed the book."""
        changed = False
        for fingerprint in fingerprints:
            if ended.copy_of is not None:
                changed |= self.copied(source, fingerprint, target, item_id, ended.copy_of)
            changed |= self.send_ended(source, fingerprint, target, item_id, told=ended.told, sent=ended.sent)
        return changed

    def copied(self, source: str, fingerprint: str, target: str, item_id: str, copy_of: str) -> bool:
        """Note that an SMS (item `item_id`) was a copy of one still held (`copy_of`): that one tells the target.

        So the alert that SMS tells of keeps it from being taken back, should its own alert end first. Return
        whether that changed the book.
        """
        current = self.open.get((source, fingerprint))
        if current is None or current.notified.get(target) != item_id:
            return False
        current.notified[target] = copy_of
        return True

    def told(
        self, source: str, fingerprints: Sequence[str], target: str, item_id: str, *, names: int | None = None
    ) -> None:
        """Note one SMS (outbox item `item_id`) to a target that tells of these firing alerts.

        It is a summary where it names several alerts (`names`: all it names, ended ones too; by default
        the firing ones): no one of them may take it back alone.
        """
        for fingerprint in fingerprints:
            self.notified(source, fingerprint, {target: item_id})
        if (len(fingerprints) if names is None else names) > 1:
            self._summaries.add(item_id)

    def own_sms(self, closed: OpenAlert) -> dict[str, str]:
        """Return the closed alert's own firing SMS (item id: target): held still, they are taken back.

        A summary (of a maintenance window, or past the rate limit) tells of other alerts too: it still goes
        out, and the RESOLVED follows it.
        """
        referenced = {item_id for alert in self.open.values() for item_id in alert.notified.values() if item_id}
        own = {
            item_id: target
            for target, item_id in closed.notified.items()
            if item_id and item_id not in self._summaries and item_id not in referenced
        }
        self._summaries &= referenced
        return own

    def changes(self, source: str, alerts: Iterable[Alert]) -> bool:
        """Tell whether alerts that carry no time of their own would open or close here (a generic source's).

        Such a body is the same as one seen minutes ago whether it is that one again or the alert firing anew
        after it resolved: it is acted on while it changes what is open (a repeat of one acted on changes nothing).
        """
        return any(
            alert.untimed and ((source, alert.fingerprint) in self.open) != (alert.status is AlertStatus.FIRING)
            for alert in alerts
        )

    def ended_unheard(self, source: str, alert: Alert) -> OpenAlert | None:
        """Return the open alert a firing one began a new episode of (its resolved never came); None otherwise."""
        current = self.open.get((source, alert.fingerprint))
        start = alert.episode_start
        if current is None or start is None:
            return None
        if current.started is None:
            # Opened by an Uptime Kuma resend (the beat that began it was missed): a beginning now is another one.
            # (Alertmanager's and Grafana's always have their start, but for those kept before it was.)
            return current if alert.kind is SourceKind.UPTIME_KUMA else None
        return current if start > current.started else None

    def resolve(self, source: str, fingerprint: str) -> OpenAlert | None:
        """Close an open alert and return it; None when it is not open."""
        return self.open.pop((source, fingerprint), None)

    def find(self, *, fingerprint: str | None = None, code: str | None = None) -> OpenAlert | None:
        """Return an open alert by fingerprint or by its code (any case, with or without a leading #)."""
        wanted = (code or "").strip().lstrip("#").upper()
        for alert in self.open.values():
            if (fingerprint and alert.fingerprint == fingerprint) or (wanted and alert.code.upper() == wanted):
                return alert
        return None

    def acknowledge(self, *, fingerprint: str | None = None, code: str | None = None) -> OpenAlert | None:
        """Mark an open alert acknowledged and return it; None when no open alert has that fingerprint or code."""
        found = self.find(fingerprint=fingerprint, code=code)
        if found is not None:
            found.status = ACKNOWLEDGED
        return found

    def count_open(self, source: str) -> int:
        """How many alerts of a source are open."""
        return sum(1 for alert in self.open.values() if alert.source == source)

    def keep_sources(self, sources: Iterable[str]) -> None:
        """Forget the alerts of sources that were removed."""
        kept = set(sources)
        self.open = {key: alert for key, alert in self.open.items() if alert.source in kept}

    # Storage

    def as_dict(self) -> dict[str, Any]:
        """Return the stored form."""
        return {
            "open": [alert.as_dict() for alert in self.open.values()],
            "deliveries": dict(self._deliveries),
            "next_code": self._next_code,
            "summaries": sorted(self._summaries),
        }

    @classmethod
    def from_dict(cls, stored: object) -> AlertBook:
        """Read the stored form; what cannot be read is left out."""
        book = cls()
        if not isinstance(stored, dict):
            return book
        for raw in stored.get("open") or ():
            alert = _open_alert(raw)
            if alert is not None:
                book.open[(alert.source, alert.fingerprint)] = alert
        deliveries = stored.get("deliveries")
        if isinstance(deliveries, dict):
            book._deliveries = {
                str(key): float(when) for key, when in deliveries.items() if isinstance(when, int | float)
            }
        summaries = stored.get("summaries")
        if isinstance(summaries, list):
            book._summaries = {str(item_id) for item_id in summaries}
        next_code = stored.get("next_code")
        if isinstance(next_code, int) and next_code > 0:
            book._next_code = next_code
        return book
