"""The alert sources' journal: what changed in their stored form since the last line, as lines, and back (pure).

The stored form (open alerts, escalations, maintenance windows, recent deliveries, the next code) is written
whole now and then (a snapshot); between snapshots each change is a journal line, so a write costs what changed,
not everything kept. Records of the keyed sections are compared one by one (a line per record that changed or
left); the deliveries seen are appended as they come (the book logs them); any other section is written whole
when it changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

# The snapshot's key for the last line it holds, and how it is read: as the outbox's
from ..journal import SNAPSHOT_SEQ, snapshot_seq

__all__ = ["DEL", "DELIVERIES", "KEYED", "PUT", "SEEN", "SET", "SNAPSHOT_SEQ", "changes", "flatten", "replay"]

# Sections kept record by record, and the fields that name a record
KEYED: dict[str, tuple[str, ...]] = {
    "open": ("source", "fingerprint"),
    "escalations": ("source", "fingerprint"),
    "maintenance": ("source",),
}
# The recent deliveries: a mapping of key to time, appended as they come
DELIVERIES = "deliveries"

# Operations of a line ("s" is its number, "op" one of these)
PUT = "put"  # a record is new or changed: "sec", "k", "v"
DEL = "del"  # a record left: "sec", "k"
SET = "set"  # a section kept whole changed: "sec", "v"
SEEN = "seen"  # a delivery seen: "k", "t"

_MISSING = object()

type Flat = dict[str, Any]


def record_key(section: str, record: object) -> str | None:
    """Return the key of a record of a keyed section (None for one that cannot be read)."""
    if not isinstance(record, Mapping):
        return None
    try:
        return "\x1f".join(str(record[name]) for name in KEYED[section])
    except KeyError:
        return None


def flatten(stored: Mapping[str, Any]) -> Flat:
    """Return the stored form with each keyed section as {key: record}, without the deliveries and line number."""
    flat: Flat = {}
    for section, value in stored.items():
        if section in (DELIVERIES, SNAPSHOT_SEQ):
            continue
        if section in KEYED and isinstance(value, list):
            records = {}
            for record in value:
                if (key := record_key(section, record)) is not None:
                    records[key] = record
            flat[section] = records
        else:
            flat[section] = value
    return flat


def changes(before: Flat, after: Flat) -> list[tuple[str, dict[str, Any]]]:
    """Return the lines that turn `before` into `after` (both flattened): (operation, fields)."""
    lines: list[tuple[str, dict[str, Any]]] = []
    for section, value in after.items():
        old = before.get(section, _MISSING)
        if section in KEYED and isinstance(value, dict):
            old_records = old if isinstance(old, dict) else {}
            lines += [
                (PUT, {"sec": section, "k": key, "v": record})
                for key, record in value.items()
                if old_records.get(key, _MISSING) != record
            ]
            lines += [(DEL, {"sec": section, "k": key}) for key in old_records if key not in value]
        elif old is _MISSING or old != value:
            lines.append((SET, {"sec": section, "v": value}))
    return lines


def replay(snapshot: Any, records: Iterable[Mapping[str, Any]]) -> Any:
    """Return the stored form at the last line: the snapshot with the newer lines applied.

    A record that cannot be applied is left out; the snapshot is returned as it is when no line is newer.
    """
    after = snapshot_seq(snapshot)
    newer = [record for record in records if record["s"] > after]
    if not newer:
        return snapshot
    data: dict[str, Any] = dict(snapshot) if isinstance(snapshot, dict) else {}
    flat = flatten(data)
    raw = data.get(DELIVERIES)
    deliveries: dict[str, Any] = dict(raw) if isinstance(raw, dict) else {}
    for record in newer:
        with contextlib.suppress(KeyError, TypeError, ValueError, AttributeError):
            _apply(record, flat, deliveries)
    stored = {
        section: list(value.values()) if section in KEYED and isinstance(value, dict) else value
        for section, value in flat.items()
    }
    for section in KEYED:
        stored.setdefault(section, [])
    stored[DELIVERIES] = deliveries
    stored[SNAPSHOT_SEQ] = newer[-1]["s"]
    return stored


def _apply(record: Mapping[str, Any], flat: Flat, deliveries: dict[str, Any]) -> None:
    """Apply one line."""
    op = record["op"]
    if op == SEEN:
        key = str(record["k"])
        # A delivery seen again moves to the end, as in the book (kept in arrival order)
        deliveries.pop(key, None)
        deliveries[key] = float(record["t"])
        return
    section = str(record["sec"])
    if op == SET:
        flat[section] = record["v"]
        return
    if section not in KEYED:
        return
    records = flat.get(section)
    if not isinstance(records, dict):
        records = flat[section] = {}
    if op == PUT:
        records[str(record["k"])] = record["v"]
    elif op == DEL:
        records.pop(str(record["k"]), None)
