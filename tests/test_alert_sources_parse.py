"""Alert sources without Home Assistant: webhook bodies of each kind read into alerts, and their default SMS texts.

Sources of the payload shapes (each case names the one it uses):
- AM-DOC: prometheus.io/docs/alerting/latest/configuration/#webhook_config; the body is notify/webhook/webhook.go's
  Message (prometheus/alertmanager): template.Data plus `version` "4", `groupKey`, `truncatedAlerts`.
- AM-SAMPLE: docs.rs/crate/alertmanager-webhook-types 0.1.0, assets/sample-v4-payload.json (one alert, fingerprint).
- AM-GIST: gist.github.com/mobeigi/5a96f326bc06c7d6f283ecb7cb083f2b (startsAt with nanoseconds and +02:00,
  endsAt "0001-01-01T00:00:00Z" for an alert that has not ended).
- GRAFANA-DOC: grafana.com/docs/grafana/latest/alerting/.../integrations/webhook-notifier/ (receiver, orgId,
  per-alert fingerprint, silenceURL, dashboardURL, panelURL, values); v9.5 of that page shows valueString instead
  of values. Grafana sends `version` "1", `title`, `state`, `message` beside the Alertmanager fields.
- KUMA-WEBHOOK: louislam/uptime-kuma:server/notification-providers/webhook.js (body {heartbeat, monitor, msg}).
- KUMA-UTIL: louislam/uptime-kuma:src/util.ts (DOWN 0, UP 1, PENDING 2, MAINTENANCE 3).
- KUMA-TEST: louislam/uptime-kuma:server/server.js testNotification (msg "<notification name> Testing", no beat).
- KUMA-TYPES: SuavecitoInc/google-chat-notifications:src/lib/types/uptime.ts (heartbeat time
  "2024-09-24 23:51:35.527" is UTC beside localDateTime "2024-09-24 16:51:35" at -07:00; monitor tags {name, value}).
- ZABBIX-DOC: zabbix.com/documentation/4.4/manual/config/notifications/media/webhook (a webhook media type's
  parameters are name/value pairs filled from macros; its script builds the body).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.sms_alerts.alerts.generic import FieldPathError, GenericFields, lookup, parse_path
from custom_components.sms_alerts.alerts.models import (
    MAX_LABELS,
    MAX_REASON,
    MAX_TEXT,
    Alert,
    AlertParseError,
    AlertStatus,
    Severity,
    SourceKind,
)
from custom_components.sms_alerts.alerts.models import MAX_LABELS as MAX_LABELS_FOR_TEST
from custom_components.sms_alerts.alerts.parse import parse
from custom_components.sms_alerts.alerts.render import fit, render, render_alert, render_group, where
from custom_components.sms_alerts.message import Encoding, sms_info

from .module_imports import PACKAGE, imports

FIXTURES = Path(__file__).parent / "fixtures" / "alerts"
ZABBIX = GenericFields.from_config(
    {
        "name": "event.name",
        "status": "event.value",
        "severity": "event.severity",
        "message": "message",
        "dedup_key": "$.event.id",
    }
)


def load(name: str) -> Any:
    """A sample body from tests/fixtures/alerts."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


# Alertmanager


def test_alertmanager_firing_sample() -> None:
    """AM-SAMPLE: one firing alert with its fingerprint, severity label, annotations and group fields."""
    result = parse("alertmanager", load("alertmanager_firing"))
    (alert,) = result.alerts
    assert alert.kind is SourceKind.ALERTMANAGER
    assert alert.fingerprint == "1a30ba71cca2921f"
    assert alert.status is AlertStatus.FIRING
    assert alert.name == "ProbeFailure"
    assert alert.severity is Severity.CRITICAL
    assert alert.summary == "BlackBox Probe Failure: https://server.example.org"
    assert alert.starts_at == dt.datetime(2023, 2, 6, 13, 8, 45, 828000, tzinfo=dt.UTC)
    # AM-GIST: Go's zero time is "not ended"
    assert alert.ends_at is None
    assert alert.generator_url is not None
    assert alert.generator_url.endswith("&g0.tab=1")
    assert result.receiver == "sms"
    assert result.group_key == '{}/{severity="critical"}:{alertname="ProbeFailure"}'
    assert result.group_labels == {"alertname": "ProbeFailure"}
    assert result.common_labels["severity"] == "critical"
    assert result.external_url == "http://prometheus.example.org:9093"
    assert result.status is AlertStatus.FIRING
    assert result.truncated == 0
    # A URL as instance keeps its colons
    assert render(result) == [
        "FIRING critical ProbeFailure https://server.example.org: BlackBox Probe Failure: https://server.example.org"
    ]


def test_alertmanager_resolved() -> None:
    """AM-SAMPLE resolved: status "resolved" with an endsAt; the text says RESOLVED and no detail."""
    result = parse("alertmanager", load("alertmanager_resolved"))
    (alert,) = result.alerts
    assert alert.status is AlertStatus.RESOLVED
    assert alert.ends_at == dt.datetime(2023, 2, 6, 13, 23, 45, 828000, tzinfo=dt.UTC)
    assert render_alert(alert) == "RESOLVED ProbeFailure https://server.example.org"
    assert result.resolved == result.alerts


def test_alertmanager_grouped() -> None:
    """AM-GIST shape, five alerts grouped by alertname, two left out by the sender (AM-DOC truncatedAlerts)."""
    result = parse("alertmanager", load("alertmanager_grouped"))
    assert len(result.alerts) == 5
    assert len(result.firing) == 4
    assert result.truncated == 2
    first = result.alerts[0]
    # AM-GIST: nanoseconds are read to microseconds, the offset kept
    assert first.starts_at == dt.datetime(2018, 8, 3, 9, 52, 26, 739266, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert where(first) == "db1"
    assert render_alert(first) == "FIRING critical DiskFull db1: / at 97%"
    summary = render_group(result.alerts)
    assert summary.startswith("FIRING 4 alerts (2 critical): DiskFull db1, DiskFull web2, ")
    assert summary.endswith("; RESOLVED 1: DiskFull backup1")
    assert sms_info(summary).parts == 1


def test_a_large_group_is_summed_up_in_one_sms() -> None:
    """Forty firing alerts: the names that fit, then how many more."""
    body = load("alertmanager_grouped")
    template = body["alerts"][0]
    body["alerts"] = []
    for index in range(40):
        item = copy.deepcopy(template)
        item["labels"]["instance"] = f"server{index:02d}:9100"
        item["fingerprint"] = f"fp{index}"
        body["alerts"].append(item)
    text = render_group(parse("alertmanager", body).alerts)
    assert text.startswith("FIRING 40 alerts (40 critical): DiskFull server00, DiskFull server01")
    assert text.endswith(" more")
    assert sms_info(text).parts == 1


def test_alertmanager_without_fingerprint_keys_on_labels() -> None:
    """Older Alertmanagers send no fingerprint: the key comes from the labels, the same for the same labels."""
    body = load("alertmanager_firing")
    del body["alerts"][0]["fingerprint"]
    first = parse("alertmanager", body).alerts[0].fingerprint
    assert first == parse("alertmanager", copy.deepcopy(body)).alerts[0].fingerprint
    body["alerts"][0]["labels"]["instance"] = "other"
    assert parse("alertmanager", body).alerts[0].fingerprint != first


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("critical", Severity.CRITICAL),
        ("WARNING", Severity.WARNING),
        ("info", Severity.INFO),
        ("page", Severity.WARNING),
        ("", Severity.WARNING),
        (None, Severity.WARNING),
    ],
)
def test_severity_from_the_label(severity: str | None, expected: Severity) -> None:
    """CONTRACT.md: critical, warning, info from the label `severity`; anything else is warning."""
    body = load("alertmanager_firing")
    if severity is None:
        del body["alerts"][0]["labels"]["severity"]
    else:
        body["alerts"][0]["labels"]["severity"] = severity
    assert parse("alertmanager", body).alerts[0].severity is expected


def test_one_broken_alert_does_not_lose_the_others() -> None:
    """A group with one unreadable alert keeps the rest and says which one was skipped, without its values."""
    body = load("alertmanager_grouped")
    body["alerts"][1] = "x" * 10_000
    body["alerts"][2]["status"] = "exploded"
    body["status"] = "nonsense"
    result = parse("alertmanager", body)
    assert len(result.alerts) == 3
    assert result.skipped == ("alert 1: a text, not an object", "alert 2: status is neither firing nor resolved")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([], "body is a list, not an object"),
        ("firing", "body is a text, not an object"),
        (None, "body is a null, not an object"),
        ({}, "alerts is a null, not a list"),
        ({"alerts": {"a": 1}}, "alerts is a object, not a list"),
        ({"alerts": [1, None]}, "no readable alert: alert 0: a number, not an object"),
        ({"alerts": [{"status": "firing", "labels": {}}]}, "no readable alert: alert 0: no labels"),
    ],
)
@pytest.mark.parametrize("kind", ["alertmanager", "grafana"])
def test_malformed_group_bodies(kind: str, body: Any, reason: str) -> None:
    """Bodies that hold no alert raise the one error class, with a short reason naming types, not values."""
    with pytest.raises(AlertParseError) as caught:
        parse(kind, body)
    assert caught.value.reason == reason


def test_an_empty_group_is_no_error() -> None:
    """An empty list of alerts is a body without alerts, not a broken one."""
    assert parse("alertmanager", {"alerts": [], "status": "firing"}).alerts == ()


def test_reasons_never_echo_huge_values() -> None:
    """A huge or hostile value never reaches the reason; every reason is bounded."""
    secret = "Bearer " + "s" * 5000
    for body in ({"alerts": secret}, {"alerts": [{"status": secret, "labels": {"a": secret}}]}, secret):
        with pytest.raises(AlertParseError) as caught:
            parse("alertmanager", body)
        assert "sss" not in str(caught.value)
        assert len(str(caught.value)) <= MAX_REASON
    assert len(AlertParseError("x" * 1000).reason) == MAX_REASON


def test_values_are_bounded() -> None:
    """Labels past MAX_LABELS and long values are cut; nested values are left out of labels."""
    body = load("alertmanager_firing")
    labels = {f"k{index}": "v" * 5000 for index in range(200)}
    labels |= {"alertname": "Big", "nested": {"a": [1]}}  # type: ignore[dict-item]
    body["alerts"][0]["labels"] = labels
    alert = parse("alertmanager", body).alerts[0]
    assert len(alert.labels) == MAX_LABELS
    assert all(len(value) <= MAX_TEXT for value in alert.labels.values())
    assert "nested" not in alert.labels


# Grafana


def test_grafana_firing_doc_example() -> None:
    """GRAFANA-DOC: two firing alerts with fingerprints and silence links; orgId, title, state and message read."""
    result = parse("grafana", load("grafana_firing"))
    assert [alert.fingerprint for alert in result.alerts] == ["c6eadffa33fcdf37", "bc97ff14869b13e3"]
    first = result.alerts[0]
    assert first.kind is SourceKind.GRAFANA
    assert first.name == "High memory usage"
    # No severity label in the example: warning
    assert first.severity is Severity.WARNING
    assert first.links["silence"].startswith("https://play.grafana.org/alerting/silence/new")
    # Empty dashboardURL and panelURL give no link
    assert set(first.links) == {"silence"}
    assert result.receiver == "My Super Webhook"
    assert result.title == "[FIRING:2] (blue)"
    assert render_alert(first) == "FIRING warning High memory usage: This alert was triggered for zone us-1"
    assert render_group(result.alerts) == "FIRING 2 alerts: High memory usage, High CPU usage"


def test_grafana_resolved_with_value_string() -> None:
    """GRAFANA-DOC v9.5: valueString kept as the alert's message; resolved reads RESOLVED."""
    (alert,) = parse("grafana", load("grafana_resolved")).alerts
    assert alert.status is AlertStatus.RESOLVED
    assert alert.message == "[ metric='' labels={} value=14151.331895396988 ]"
    assert render_alert(alert) == "RESOLVED High memory usage"


# Uptime Kuma


def test_uptime_kuma_down_fires() -> None:
    """KUMA-WEBHOOK and KUMA-UTIL: status 0 fires, named by the monitor; KUMA-TYPES: time is UTC, tags are labels."""
    result = parse("uptime_kuma", load("uptime_kuma_down"))
    (alert,) = result.alerts
    assert alert.kind is SourceKind.UPTIME_KUMA
    assert alert.status is AlertStatus.FIRING
    assert alert.source_status == "down"
    assert alert.name == "Test"
    assert alert.fingerprint == "monitor-29"
    assert alert.severity is Severity.CRITICAL
    assert alert.message == "getaddrinfo ENOTFOUND test.com"
    assert alert.starts_at == dt.datetime(2024, 9, 24, 23, 51, 35, 527000, tzinfo=dt.UTC)
    assert alert.links == {"monitor": "https://test.com"}
    assert render(result) == ["FIRING critical Test: getaddrinfo ENOTFOUND test.com"]


def test_uptime_kuma_up_resolves_the_same_alert() -> None:
    """KUMA-UTIL: status 1 is up: it resolves the monitor's alert (same fingerprint as its down)."""
    (alert,) = parse("uptime_kuma", load("uptime_kuma_up")).alerts
    assert alert.status is AlertStatus.RESOLVED
    assert alert.fingerprint == parse("uptime_kuma", load("uptime_kuma_down")).alerts[0].fingerprint
    assert alert.ends_at is not None
    assert render_alert(alert) == "RESOLVED Test"


@pytest.mark.parametrize(
    ("name", "status"), [("uptime_kuma_pending", "pending"), ("uptime_kuma_maintenance", "maintenance")]
)
def test_uptime_kuma_pending_and_maintenance_give_no_alert(name: str, status: str) -> None:
    """KUMA-UTIL: 2 pending (a retry before down) and 3 maintenance neither fire nor resolve; the reason is kept."""
    result = parse("uptime_kuma", load(name))
    assert result.alerts == ()
    assert result.skipped == (f"monitor {status}",)
    assert render(result) == []


def test_uptime_kuma_test_message() -> None:
    """KUMA-TEST: the Test button sends heartbeat and monitor null: a test, no alert."""
    result = parse("uptime_kuma", load("uptime_kuma_test"))
    assert result.test
    assert result.alerts == ()
    assert render(result) == ["TEST from Uptime Kuma: My Webhook Alert (1) Testing"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "neither heartbeat, monitor nor msg"),
        ({"heartbeat": [], "monitor": None, "msg": "x"}, "heartbeat is a list, not an object"),
        ({"heartbeat": {"status": 7}, "monitor": {"id": 1}}, "heartbeat status is not 0, 1, 2 or 3"),
        ({"heartbeat": {"status": True}, "monitor": {"id": 1}}, "heartbeat status is not 0, 1, 2 or 3"),
        ({"heartbeat": {"status": 0}, "monitor": {}}, "no monitor id or name"),
    ],
)
def test_uptime_kuma_malformed(body: Any, reason: str) -> None:
    """Bodies Uptime Kuma would not send raise the one error class."""
    with pytest.raises(AlertParseError, match=reason):
        parse("uptime_kuma", body)


# Generic


def test_generic_zabbix_problem_and_recovery() -> None:
    """ZABBIX-DOC: a body built from macros; {EVENT.ID} is the key, value 1 fires, 0 resolves (RESOLVED_VALUES)."""
    problem = parse("generic", load("generic_zabbix_problem"), fields=ZABBIX)
    (alert,) = problem.alerts
    assert alert.fingerprint == "40213"
    assert alert.status is AlertStatus.FIRING
    # Zabbix says "High": not one of ours, so warning, and the label keeps what was sent
    assert alert.severity is Severity.WARNING
    assert alert.labels["severity"] == "High"
    text = render_alert(alert)
    assert text.startswith("FIRING warning Disk space is low on /: Problem started at 09:52:26")
    assert sms_info(text).parts == 1
    (recovery,) = parse("generic", load("generic_zabbix_resolved"), fields=ZABBIX).alerts
    assert recovery.status is AlertStatus.RESOLVED
    assert recovery.fingerprint == alert.fingerprint
    assert render_alert(recovery) == "RESOLVED Disk space is low on /"


def test_generic_list_of_alerts_with_own_resolved_words() -> None:
    """With `alerts`, the other paths are read inside each item; `resolved` replaces the default words."""
    fields = GenericFields.from_config(
        {"alerts": "data.checks", "name": "['check.name']", "status": "state", "resolved": ["Healthy"]}
    )
    body = {
        "data": {"checks": [{"check.name": "api", "state": "unhealthy"}, {"check.name": "db", "state": "HEALTHY"}, {}]}
    }
    result = parse("generic", body, fields=fields)
    assert [(a.name, a.status) for a in result.alerts] == [("api", AlertStatus.FIRING), ("db", AlertStatus.RESOLVED)]
    assert result.skipped == ("alert 2: no name at its path",)
    assert result.alerts[0].fingerprint == "api"


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("event.name", ("event", "name")),
        ("$.alerts[0].labels.host", ("alerts", 0, "labels", "host")),
        ("alerts.0.name", ("alerts", 0, "name")),
        ("data['host.name']", ("data", "host.name")),
        ('$["a b"]', ("a b",)),
    ],
)
def test_field_paths(path: str, steps: tuple[object, ...]) -> None:
    """Dotted paths and simple JSONPath read the same way."""
    assert parse_path(path) == steps


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"name": ""},
        {"name": "a..b"},
        {"name": "a[x]"},
        {"name": 3},
        {"name": "a", "colour": "b"},
        {"name": "a", "resolved": "ok"},
    ],
)
def test_bad_generic_configuration(config: dict[str, Any]) -> None:
    """A configuration that cannot be used is refused when it is read, not when a body comes."""
    with pytest.raises(FieldPathError):
        GenericFields.from_config(config)


def test_generic_without_fields_or_name() -> None:
    """A generic source needs its fields; a body without the name raises."""
    with pytest.raises(AlertParseError, match="needs its fields"):
        parse("generic", {})
    with pytest.raises(AlertParseError, match="no name at its path"):
        parse("generic", {"event": {}}, fields=ZABBIX)
    with pytest.raises(AlertParseError, match="unknown source kind"):
        parse("nagios", {})


# Unicode and SMS length


def test_unicode_names_travel_as_ucs2_within_one_sms() -> None:
    """A Cyrillic name makes the text UCS-2: it is cut to 70 units; an umlaut stays GSM-7 with 160."""
    body = load("uptime_kuma_down")
    body["monitor"]["name"] = "Сервер базы данных в серверной"
    body["heartbeat"]["msg"] = "Время ожидания подключения истекло после 48 секунд"
    text = render_alert(parse("uptime_kuma", body).alerts[0])
    info = sms_info(text)
    assert (info.encoding, info.parts) == (Encoding.UCS2, 1)
    assert text.endswith("…")
    body["monitor"]["name"] = "Kühlraum Süd"
    text = render_alert(parse("uptime_kuma", body).alerts[0])
    assert text.startswith("FIRING critical Kühlraum Süd: ")
    # gsm7 transliterates: one SMS of GSM-7 even for the Cyrillic message
    assert sms_info(render_alert(parse("uptime_kuma", body).alerts[0], gsm7=True)).encoding is Encoding.GSM7


def test_control_characters_and_newlines_become_spaces() -> None:
    """An SMS line: breaks, tabs and control characters collapse to one space; lone surrogates are replaced."""
    body = load("alertmanager_firing")
    body["alerts"][0]["annotations"]["summary"] = "disk\n\n\tfull\x00 now \ud800"
    assert parse("alertmanager", body).alerts[0].summary == "disk full now ?"


def test_fit_longer_texts_in_more_parts() -> None:
    """fit() keeps a text that fits, and cuts to the parts allowed."""
    assert fit("short") == "short"
    long = "word " * 200
    assert sms_info(fit(long)).parts == 1
    assert sms_info(fit(long, 3)).parts == 3
    with pytest.raises(ValueError, match="at least 1"):
        fit(long, 0)


# Properties

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=40,
)
_KEYS = st.sampled_from(
    ["alerts", "status", "labels", "annotations", "alertname", "severity", "heartbeat", "monitor", "msg", "name",
     "id", "fingerprint", "startsAt", "endsAt", "truncatedAlerts", "event", "value", "tags"]
)  # fmt: skip
# Bodies near the real shapes: the known keys with any values, so the parsers go deep rather than stop at once
_SHAPED = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**6), max_value=10**6) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_KEYS, children, max_size=6),
    max_leaves=50,
)
_KINDS = st.sampled_from(list(SourceKind))
_GENERIC = GenericFields.from_config(
    {"alerts": "alerts", "name": "name", "status": "status", "severity": "severity", "message": "msg"}
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=_KINDS, body=_JSON | _SHAPED)
def test_any_json_raises_nothing_but_the_parse_error(kind: SourceKind, body: Any) -> None:
    """Any JSON body gives a result or AlertParseError with a bounded reason, and its texts fit one SMS."""
    try:
        result = parse(kind, body, fields=_GENERIC if kind is SourceKind.GENERIC else None)
    except AlertParseError as err:
        assert len(err.reason) <= MAX_REASON  # noqa: PT017 - every body of hypothesis may or may not raise
        return
    for text in render(result):
        assert sms_info(text).parts == 1
    if result.alerts:
        assert sms_info(render_group(result.alerts)).parts == 1
    assert len(result.digest) == 32


_ALERT_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400)


@settings(max_examples=300, deadline=None)
@given(
    name=_ALERT_TEXT.filter(bool),
    summary=_ALERT_TEXT,
    instance=_ALERT_TEXT,
    status=st.sampled_from(list(AlertStatus)),
    severity=st.sampled_from(list(Severity)),
    parts=st.integers(min_value=1, max_value=4),
    gsm7=st.booleans(),
    count=st.integers(min_value=1, max_value=30),
)
def test_render_always_fits_its_bound(
    name: str,
    summary: str,
    instance: str,
    status: AlertStatus,
    severity: Severity,
    parts: int,
    gsm7: bool,
    count: int,
) -> None:
    """Whatever the names and texts, one alert and a summary of many fit the parts they were given."""
    alert = Alert(
        kind=SourceKind.ALERTMANAGER,
        fingerprint="f",
        status=status,
        name=name,
        severity=severity,
        labels={"instance": instance},
        annotations={"summary": summary},
    )
    single = render_alert(alert, parts, gsm7=gsm7)
    assert 1 <= sms_info(single).parts <= parts
    if gsm7:
        assert sms_info(single).encoding is Encoding.GSM7
    group = render_group([alert] * count, parts, gsm7=gsm7)
    assert 1 <= sms_info(group).parts <= parts


def test_lookup_stays_inside_the_body() -> None:
    """A path past the body's end, through a scalar, or a negative-looking index finds nothing."""
    assert lookup({"a": [1]}, ("a", 3)) is None
    assert lookup({"a": "text"}, ("a", "b")) is None
    assert lookup([{"x": 1}], (0, "x")) == 1


@pytest.mark.parametrize("module", sorted(path.name for path in (PACKAGE / "alerts").glob("*.py")))
def test_the_package_imports_nothing_from_home_assistant(module: str) -> None:
    """Each module of the package, and every module of ours it imports, runs without Home Assistant."""
    seen: set[Path] = set()
    todo = [PACKAGE / "alerts" / module]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for imported in imports(path):
            if isinstance(imported, Path):
                # The integration's own __init__ sets up Home Assistant; the package never imports it by name
                assert imported != PACKAGE / "__init__.py", f"{path.name} imports the integration"
                todo.append(imported)
            else:
                assert imported != "homeassistant", f"{path.name} imports Home Assistant"


def test_value_helpers_name_types_and_bound_what_they_read() -> None:
    """Reasons name types only; scalars become bounded text; odd objects and times are left out."""
    from custom_components.sms_alerts.alerts import values  # noqa: PLC0415 - the helpers on their own

    assert [values.kind_name(value) for value in (None, True, 1.5, "x", [], {}, object())] == [
        "null",
        "boolean",
        "number",
        "text",
        "list",
        "object",
        "value",
    ]
    assert (values.text(True), values.text(False), values.text({"a": 1}), values.text(" a\n\tb ")) == (
        "true",
        "false",
        "",
        "a b",
    )
    assert values.text(10**5000) == "?"  # past Python's digit limit for str(int)
    assert values.optional_text("") is None
    assert values.optional_text(7) == "7"
    assert dict(values.string_map(["not", "a", "map"])) == {}
    labels = values.string_map({f"k{number}": number for number in range(500)} | {"nested": {"a": 1}})
    assert len(labels) == MAX_LABELS_FOR_TEST
    assert "nested" not in labels
    assert values.timestamp(12) is None
    assert values.timestamp("yesterday at noon") is None
    assert values.timestamp("2026-13-45T10:00:00Z") is None
    assert values.timestamp("0001-01-01T00:00:00Z") is None
    assert values.timestamp("2026-12-07T01:02:03.123456789+02:00") == dt.datetime(
        2026, 12, 7, 1, 2, 3, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2))
    )


def test_the_same_delivery_posted_twice_has_one_digest() -> None:
    """Senders retry: the same body gives the same digest; another status or a test message another one."""
    body = load("alertmanager_firing")
    first, again = parse("alertmanager", body), parse("alertmanager", copy.deepcopy(body))
    assert first.digest == again.digest
    assert len(first.digest) == 32
    resolved = copy.deepcopy(body)
    for alert in resolved["alerts"]:
        alert["status"] = "resolved"
    assert parse("alertmanager", resolved).digest != first.digest
    test = parse("uptime_kuma", {"heartbeat": None, "monitor": None, "msg": "Kuma Testing"})
    assert test.test
    assert test.digest != parse("uptime_kuma", {"heartbeat": None, "monitor": None, "msg": "Other"}).digest
    bare = parse("alertmanager", {**body, "alerts": [{**body["alerts"][0], "annotations": {}}]}).alerts[0]
    assert bare.summary == (bare.message or "")
