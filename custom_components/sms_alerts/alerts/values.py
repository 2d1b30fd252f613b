"""Reading single values out of a decoded JSON body: bounded text, label maps, timestamps, fingerprints; pure."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .models import MAX_KEY, MAX_LABELS, MAX_TEXT, AlertStatus

# Control characters, line breaks and runs of white space become one space: an SMS is read as one line
_SPACES = re.compile(r"[\s\x00-\x1f\x7f]+")
# JSON types by name, bool before int (a bool is an int in Python)
_TYPE_NAMES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "boolean"),
    ((int, float), "number"),
    (str, "text"),
    (list, "list"),
    (dict, "object"),
)
# Go's zero time, which Alertmanager and Grafana send as `endsAt` of an alert that has not ended
_GO_ZERO_YEAR = 1
# RFC 3339 as senders write it; Uptime Kuma separates date and time with a space
_RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,12}))?([Zz]|[+-]\d{2}:\d{2})?")


def kind_name(value: object) -> str:
    """Name a JSON value's type for a reason, never the value itself."""
    if value is None:
        return "null"
    for types, name in _TYPE_NAMES:
        if isinstance(value, types):
            return name
    return "value"


def text(value: object, limit: int = MAX_TEXT) -> str:
    """Return a scalar as one bounded line of text; "" for null, objects and lists."""
    if isinstance(value, bool):
        raw = "true" if value else "false"
    elif isinstance(value, str):
        raw = value[: limit * 4]
    elif isinstance(value, int | float):
        try:
            raw = str(value)
        except ValueError:  # an integer past Python's digit limit
            raw = "?"
    else:
        return ""
    # A lone surrogate cannot travel as SMS text
    raw = raw.encode("utf-8", "replace").decode("utf-8")
    return _SPACES.sub(" ", raw).strip()[:limit]


def optional_text(value: object, limit: int = MAX_TEXT) -> str | None:
    """Like text, but None for an empty result."""
    return text(value, limit) or None


def string_map(value: object) -> Mapping[str, str]:
    """Return a JSON object of scalars as a bounded, read-only map of text; other values are left out."""
    if not isinstance(value, dict):
        return MappingProxyType({})
    found: dict[str, str] = {}
    for key, item in value.items():
        if len(found) >= MAX_LABELS:
            break
        name = text(key, MAX_KEY)
        if not name or isinstance(item, dict | list) or item is None:
            continue
        found[name] = text(item)
    return MappingProxyType(found)


def timestamp(value: object) -> dt.datetime | None:
    """Read an RFC 3339 time (any digits of fraction, `Z` or an offset, naive is UTC); None for Go's zero time.

    Alertmanager writes nanoseconds ("2018-08-03T09:52:26.739266876+02:00"); Python reads at most microseconds.
    """
    if not isinstance(value, str) or not 10 <= len(value) <= 64:  # noqa: PLR2004 - a date's length, a generous bound
        return None
    raw = value.strip()
    match = _RFC3339.fullmatch(raw.replace(" ", "T", 1))
    if match is None:
        return None
    head, fraction, zone = match.groups()
    normal = (
        head + (f".{fraction[:6].ljust(6, '0')}" if fraction else "") + ("+00:00" if zone in {None, "Z", "z"} else zone)
    )
    try:
        parsed = dt.datetime.fromisoformat(normal)
    except ValueError:
        return None
    if parsed.year == _GO_ZERO_YEAR:
        return None
    return parsed


def status_of(value: object) -> AlertStatus | None:
    """Alertmanager's and Grafana's `status`: "firing" or "resolved"; None for anything else."""
    if isinstance(value, str):
        try:
            return AlertStatus(value.strip().lower())
        except ValueError:
            return None
    return None


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """Return a stable key from labels, for alerts sent without a fingerprint (Alertmanager hashes labels too)."""
    hasher = hashlib.sha256()
    for key in sorted(labels):
        hasher.update(f"{key}\x00{labels[key]}\x00".encode("utf-8", "surrogatepass"))
    return hasher.hexdigest()[:16]


def object_or_none(value: Any) -> dict[str, Any] | None:
    """Return the value when it is a JSON object."""
    return value if isinstance(value, dict) else None
