"""The pure parts of alert sources: route matchers, the book of open alerts, the secret check, the setup texts.

That they import nothing from Home Assistant is checked for every module of alerts/ in test_alert_sources_parse.py.
"""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.sms_alerts.alert_source_config import authorized
from custom_components.sms_alerts.alerts.book import DELIVERY_WINDOW, MAX_OPEN_PER_SOURCE, AlertBook
from custom_components.sms_alerts.alerts.models import Alert, AlertStatus, Severity, SourceKind
from custom_components.sms_alerts.alerts.routing import (
    Matcher,
    Op,
    RouteError,
    load_routes,
    parse_line,
    parse_lines,
    parse_matcher,
    recipients_for,
    route_line,
)
from custom_components.sms_alerts.alerts.setup import setup_text

NAMES = {"On call": "r1", "Night desk": "r2"}
TOKEN = "tok-EN_123"


def alert(fingerprint: str = "f1", status: AlertStatus = AlertStatus.FIRING, **labels: str) -> Alert:
    """An alert with labels."""
    return Alert(
        kind=SourceKind.ALERTMANAGER,
        fingerprint=fingerprint,
        status=status,
        name="DiskFull",
        severity=Severity.of(labels.get("severity")),
        labels=labels,
    )


@pytest.mark.parametrize(
    ("raw", "labels", "expected"),
    [
        ("severity=critical", {"severity": "critical"}, True),
        ("severity=critical", {"severity": "warning"}, False),
        ("env!=test", {"env": "prod"}, True),
        ("env!=test", {"env": "test"}, False),
        ("env!=test", {}, True),  # a missing label reads as empty (Alertmanager)
        ("team=~db.*", {"team": "db-core"}, True),
        ("team=~db", {"team": "db-core"}, False),  # anchored: the whole value
        ("team!~db.*", {"team": "web"}, True),
        ("team!~db.*", {"team": "dbx"}, False),
        ('team="a b"', {"team": "a b"}, True),
        ("x=", {}, True),
    ],
)
def test_matchers_follow_alertmanager(raw: str, labels: dict[str, str], expected: bool) -> None:
    """=, !=, =~ and !~ with anchored regexes and empty missing labels (prometheus/alertmanager:pkg/labels)."""
    assert parse_matcher(raw).matches(labels) is expected


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("severity=critical", "route_without_arrow"),
        ("-> On call", "invalid_matcher"),
        ("9bad=x -> On call", "invalid_matcher"),
        ("severity critical -> On call", "invalid_matcher"),
        ("team=~db( -> On call", "invalid_regex"),
        ("severity=critical -> Nobody", "unknown_route_recipient"),
        ("severity=critical -> ", "unknown_route_recipient"),
    ],
)
def test_bad_route_lines_name_their_fault(line: str, key: str) -> None:
    """Each wrong line gives a translation key for the form."""
    with pytest.raises(RouteError) as caught:
        parse_line(line, NAMES)
    assert caught.value.key == key


def test_route_lines_round_trip_and_choose_recipients() -> None:
    """Typed lines are stored, written back with current names, and route alerts; unmatched go to the default."""
    routes = parse_lines(["severity=critical, team=~db.* -> on call, Night desk", "", "env!=test -> Night desk"], NAMES)
    assert routes[0].matchers == (Matcher("severity", Op.EQUAL, "critical"), Matcher("team", Op.REGEX, "db.*"))
    assert load_routes([route.as_dict() for route in routes]) == routes
    assert (
        route_line(routes[0], {"r1": "Pager", "r2": "Night desk"})
        == "severity=critical, team=~db.* -> Pager, Night desk"
    )
    known = ["r1", "r2", "r3"]
    assert recipients_for({"severity": "critical", "team": "db1", "env": "test"}, routes, ["r3"], known) == ("r1", "r2")
    assert recipients_for({"env": "test"}, routes, ["r3"], known) == ("r3",)
    assert recipients_for({"env": "test"}, routes, [], known) == ("r1", "r2", "r3")
    assert recipients_for({"env": "test"}, routes, ["gone"], known) == ("r1", "r2", "r3")
    assert recipients_for({"severity": "critical", "team": "db1"}, routes, ["r3"], ["r3"]) == ("r3",)
    assert recipients_for({}, routes, [], []) == ()
    with pytest.raises(RouteError, match="too_many_routes"):
        parse_lines(["a=b -> On call"] * 21, NAMES)


def test_stored_routes_that_cannot_be_read_are_skipped() -> None:
    """A route edited by hand into something unreadable is left out, the others kept."""
    stored = [{"matchers": ["a=~("], "recipients": ["r1"]}, "junk", {"matchers": ["a=b"], "recipients": ["r1"]}]
    assert [route.as_dict() for route in load_routes(stored)] == [{"matchers": ["a=b"], "recipients": ["r1"]}]


def test_book_opens_counts_resolves_and_acknowledges() -> None:
    """A firing alert opens once and is counted after; resolve returns who was told; ack by fingerprint or code."""
    book = AlertBook()
    opened, new = book.fire("s", alert(), 100.0)
    assert new
    assert opened.code == "A1"
    assert book.fire("s", alert(), 101.0) == (opened, False)
    assert book.open["s", "f1"].count == 2
    book.notified("s", "f1", {"+49170": "", "+49171": "item-7"})
    assert book.acknowledge(code="#a1") is opened
    assert opened.status == "acknowledged"
    assert book.acknowledge(fingerprint="other") is None
    again = AlertBook.from_dict(book.as_dict())
    closed = again.resolve("s", "f1")
    assert closed is not None
    assert closed.notified == {"+49170": "", "+49171": "item-7"}
    assert closed.status == "acknowledged"
    assert again.resolve("s", "f1") is None
    assert again.fire("s", alert("f2"), 200.0)[0].code == "A2"


def test_book_sees_a_delivery_again_only_within_its_window() -> None:
    """The same digest within DELIVERY_WINDOW is seen; after it, or from another source, it is new."""
    book = AlertBook()
    assert not book.seen_delivery("s", "d", 0.0)
    assert book.seen_delivery("s", "d", DELIVERY_WINDOW - 1)
    assert not book.seen_delivery("t", "d", DELIVERY_WINDOW - 1)
    assert not book.seen_delivery("s", "d", 3 * DELIVERY_WINDOW)


def test_book_sees_no_delivery_from_the_future_again() -> None:
    """After the clock was set back (a start before NTP answers), one seen "later" is no copy of this one."""
    book = AlertBook()
    assert not book.seen_delivery("s", "d", 1000.0)
    assert not book.seen_delivery("s", "d", 1000.0 - 60)


def test_book_keeps_a_bounded_number_of_open_alerts() -> None:
    """Past MAX_OPEN_PER_SOURCE the alert quiet the longest is forgotten; removed sources are dropped."""
    book = AlertBook()
    for number in range(MAX_OPEN_PER_SOURCE + 1):
        book.fire("s", alert(f"f{number}"), float(number))
    assert book.count_open("s") == MAX_OPEN_PER_SOURCE
    assert ("s", "f0") not in book.open
    book.keep_sources(["other"])
    assert book.open == {}


def test_book_takes_back_an_alerts_own_sms_never_a_summary() -> None:
    """Resolved, an alert's own SMS may be taken back; a summary of several never, not even after the last (stored)."""
    book = AlertBook()
    for fingerprint in ("f1", "f2", "f3"):
        book.fire("s", alert(fingerprint), 0.0)
    book.told("s", ["f1", "f2"], "+49", "summary")
    book.told("s", ["f3"], "+49", "own")
    book = AlertBook.from_dict(book.as_dict())
    for fingerprint, expected in (("f1", {}), ("f2", {}), ("f3", {"own": "+49"})):
        closed = book.resolve("s", fingerprint)
        assert closed is not None
        assert book.own_sms(closed) == expected
    assert book.as_dict()["summaries"] == []


def test_book_never_takes_back_an_sms_that_names_an_ended_alert_too() -> None:
    """An SMS that names an ended alert too is no one's own, though it tells of one firing alert only.

    One body's SMS past the rate limit (`FIRING 1 alert: f1; RESOLVED 1: f2`): taken back when f1 resolved,
    f2's RESOLVED would be lost with it.
    """
    book = AlertBook()
    book.fire("s", alert("f1"), 0.0)
    book.told("s", ["f1"], "+49", "group", names=2)
    book.told("s", ["f1"], "+48", "alone", names=1)
    book = AlertBook.from_dict(book.as_dict())
    closed = book.resolve("s", "f1")
    assert closed is not None
    assert book.own_sms(closed) == {"alone": "+48"}


@pytest.mark.parametrize(
    "stored", [None, [], {"open": [{"source": "s"}, "x"], "deliveries": {"a": "b"}, "next_code": -1}]
)
def test_book_reads_damaged_storage_as_empty(stored: object) -> None:
    """What cannot be read is left out, never raised."""
    book = AlertBook.from_dict(stored)
    assert book.open == {}
    assert book.fire("s", alert(), 0.0)[0].code == "A1"


def _basic(raw: bytes) -> str:
    """A Basic header of raw user:password bytes."""
    return "Basic " + base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer   {TOKEN}  ", True),
        (_basic(f"sms_alerts:{TOKEN}".encode()), True),
        (None, False),
        ("", False),
        ("Bearer", False),
        (f"Bearer {TOKEN}x", False),
        (f"Token {TOKEN}", False),
        (_basic(f"admin:{TOKEN}".encode()), False),
        (_basic(b"sms_alerts"), False),
        (_basic(b"\xff\xfe:\xff"), False),
        ("Basic ***", False),
        ("Bearer \udcff", False),
    ],
)
def test_only_the_token_authorizes(header: str | None, expected: bool) -> None:
    """Bearer token or Basic sms_alerts:token (CONTRACT.md); anything else, however malformed, is refused."""
    assert authorized(header, TOKEN) is expected
    assert authorized(header, "") is False


@pytest.mark.parametrize("kind", list(SourceKind))
def test_setup_texts(kind: SourceKind, snapshot: SnapshotAssertion) -> None:
    """The copy-ready setup text of each kind holds the address and the secret where that system wants them."""
    url = "http://192.0.2.5:8123/api/webhook/abc"
    text = setup_text(kind, url, TOKEN)
    assert url in text
    assert TOKEN in text
    assert "<" not in text.replace("<your", "")
    assert text == snapshot(extension_class=HomeAssistantSnapshotExtension)


def test_a_long_alert_name_is_cut_for_the_log() -> None:
    """A sender may name an alert at length (up to 1,024 characters): a log line shows 80 of them."""
    long = replace(alert("f1"), name="DiskFull " + "x" * 1000)
    assert len(long.shown_name) == 80
    assert long.shown_name.endswith("…")
    assert alert("f2").shown_name == "DiskFull"
