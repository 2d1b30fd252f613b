"""Which recipients get an alert: label matchers (=, !=, =~, !~) in routes, as Alertmanager writes them; pure.

A route is one line, `severity=critical, team=~db.* -> On call, Night desk`: every matcher must hold for the
alert, and the names after `->` are recipients. A regex matches the whole value (Alertmanager anchors them too:
prometheus/alertmanager:pkg/labels/matcher.go). An alert no route takes goes to the source's default recipients.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

MAX_ROUTES = 20
MAX_MATCHERS = 8
MAX_PATTERN = 200
ARROW = "->"
# A label name as Prometheus allows it, then the operator (the longer ones first), then the value
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


class Op(StrEnum):
    """The four matcher operators of Alertmanager."""

    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


class RouteError(ValueError):
    """A route line that cannot be used; `key` names the reason for the form (a translation key)."""

    def __init__(self, key: str, detail: str = "") -> None:
        """Keep the reason's key and a short detail (the part of the line at fault)."""
        super().__init__(f"{key}: {detail}" if detail else key)
        self.key = key
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Matcher:
    """One condition on one label; a label the alert lacks reads as empty, as in Alertmanager."""

    label: str
    op: Op
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Tell whether the labels meet this condition."""
        found = labels.get(self.label, "")
        if self.op is Op.EQUAL:
            return found == self.value
        if self.op is Op.NOT_EQUAL:
            return found != self.value
        hit = re.fullmatch(self.value, found) is not None
        return hit if self.op is Op.REGEX else not hit

    def __str__(self) -> str:
        """Write the matcher as it is typed."""
        return f"{self.label}{self.op}{self.value}"


def parse_matcher(raw: str) -> Matcher:
    """Read `label=value`, `label!=value`, `label=~regex` or `label!~regex` (a value may be quoted)."""
    found = _MATCHER.match(raw)
    if found is None:
        raise RouteError("invalid_matcher", raw.strip()[:40])
    label, op, value = found.groups()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":  # noqa: PLR2004 - a pair of quotes
        value = value[1:-1]
    if len(value) > MAX_PATTERN:
        raise RouteError("invalid_matcher", f"{label}: value too long")
    matcher = Matcher(label, Op(op), value)
    if matcher.op in (Op.REGEX, Op.NOT_REGEX):
        try:
            re.compile(value)
        except re.error:
            raise RouteError("invalid_regex", label) from None
    return matcher


@dataclass(frozen=True, slots=True)
class Route:
    """Alerts whose labels meet every matcher go to these recipients (subentry ids)."""

    matchers: tuple[Matcher, ...]
    recipients: tuple[str, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Tell whether every matcher holds for the labels."""
        return all(matcher.matches(labels) for matcher in self.matchers)

    def as_dict(self) -> dict[str, list[str]]:
        """Return the stored form."""
        return {"matchers": [str(matcher) for matcher in self.matchers], "recipients": list(self.recipients)}


def parse_line(line: str, names: Mapping[str, str]) -> Route:
    """Read one route line; `names` maps a recipient's name (any case) to its subentry id."""
    conditions, arrow, who = line.partition(ARROW)
    if not arrow:
        raise RouteError("route_without_arrow", line.strip()[:40])
    matchers = tuple(parse_matcher(part) for part in conditions.split(",") if part.strip())
    if not matchers or len(matchers) > MAX_MATCHERS:
        raise RouteError("invalid_matcher", line.strip()[:40])
    folded = {name.strip().casefold(): subentry_id for name, subentry_id in names.items()}
    recipients: list[str] = []
    for name in (part.strip() for part in who.split(",")):
        if not name:
            continue
        if name.casefold() not in folded:
            raise RouteError("unknown_route_recipient", name[:40])
        recipients.append(folded[name.casefold()])
    if not recipients:
        raise RouteError("unknown_route_recipient", "")
    return Route(matchers, tuple(dict.fromkeys(recipients)))


def parse_lines(lines: Iterable[str], names: Mapping[str, str]) -> tuple[Route, ...]:
    """Read the route lines a user typed (blank lines skipped); raise RouteError at the first that is wrong."""
    routes = tuple(parse_line(line, names) for line in lines if line.strip())
    if len(routes) > MAX_ROUTES:
        raise RouteError("too_many_routes", str(MAX_ROUTES))
    return routes


def load_routes(stored: object) -> tuple[Route, ...]:
    """Read stored routes; one that can no longer be read (edited by hand) is skipped."""
    routes: list[Route] = []
    for item in stored if isinstance(stored, list) else ():
        if not isinstance(item, dict):
            continue
        try:
            matchers = tuple(parse_matcher(str(raw)) for raw in item.get("matchers") or ())
        except RouteError:
            continue
        recipients = tuple(str(raw) for raw in item.get("recipients") or ())
        if matchers and recipients:
            routes.append(Route(matchers, recipients))
    return tuple(routes)


def route_line(route: Route, names_by_id: Mapping[str, str]) -> str:
    """Write a stored route back as the line the user typed, with the recipients' current names."""
    who = ", ".join(names_by_id.get(subentry_id, subentry_id) for subentry_id in route.recipients)
    return f"{', '.join(str(matcher) for matcher in route.matchers)} {ARROW} {who}"


def recipients_for(
    labels: Mapping[str, str], routes: Sequence[Route], default: Sequence[str], known: Sequence[str]
) -> tuple[str, ...]:
    """Return the recipient ids an alert goes to: those of every route it meets, else the default ones.

    `known` are the entry's recipients now. Ids no longer known are left out; a default of none (or of none
    still known) means all of them: an alert is never dropped because its recipients were removed.
    """
    chosen = [key for route in routes if route.matches(labels) for key in route.recipients if key in known]
    if not chosen:
        chosen = [key for key in default if key in known] or list(known)
    return tuple(dict.fromkeys(chosen))
