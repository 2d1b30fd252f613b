"""The pure part of maintenance windows: holding, the stored form, the summary text, resuming an escalation."""

from __future__ import annotations

import datetime as dt

import pytest

from custom_components.sms_alerts.alerts import maintenance
from custom_components.sms_alerts.alerts.escalation import Escalation, EscalationState
from custom_components.sms_alerts.alerts.maintenance import (
    Held,
    Window,
    resume,
    routed,
    summary_severity,
    summary_text,
    windows_from_stored,
)
from custom_components.sms_alerts.alerts.models import Alert, AlertStatus, Severity, SourceKind
from custom_components.sms_alerts.message import sms_info

T0 = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)


def alert(
    name: str, host: str, status: AlertStatus = AlertStatus.FIRING, severity: Severity = Severity.WARNING
) -> Alert:
    """An alert on a host."""
    return Alert(
        kind=SourceKind.ALERTMANAGER,
        fingerprint=f"{name}-{host}",
        status=status,
        name=name,
        severity=severity,
        labels={"alertname": name, "instance": f"{host}:9100"},
        annotations={"summary": f"{name} on {host}"},
    )


def held(name: str, host: str, severity: str = "warning") -> Held:
    """A held firing alert on a host."""
    return Held(fingerprint=f"{name}-{host}", name=name, severity=severity, labels={"instance": host})


def test_hold_keeps_the_last_word_and_counts() -> None:
    """Firing then resolved: one held alert, resolved, counted twice; its text and labels from the firing."""
    window = Window(source="s", started=T0)
    window.hold(alert("DiskFull", "db1"))
    window.hold(alert("DiskFull", "db1", AlertStatus.RESOLVED))
    [only] = window.held.values()
    assert (only.status, only.count, only.firing) == ("resolved", 2, False)
    assert only.summary == "DiskFull on db1"
    window.hold(alert("DiskFull", "db1", severity=Severity.CRITICAL))
    assert (only.firing, only.severity) == (True, "critical")
    assert window.count == 1


def test_past_the_bound_alerts_are_counted_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """More alerts than MAX_HELD: the rest are counted in `count`, not kept."""
    monkeypatch.setattr(maintenance, "MAX_HELD", 2)
    window = Window(source="s", started=T0)
    for host in ("a", "b", "c", "d"):
        window.hold(alert("Down", host))
    assert (len(window.held), window.overflow, window.count) == (2, 2, 4)


def test_the_stored_form_reads_back_and_bad_data_is_left_out() -> None:
    """as_dict/from_dict round trip; junk, unknown sources and a naive time are handled."""
    window = Window(source="s", started=T0, ends=T0 + dt.timedelta(hours=2), overflow=3)
    window.hold(alert("DiskFull", "db1", severity=Severity.CRITICAL))
    stored = [window.as_dict(), {"source": "gone", "started": T0.isoformat()}, "junk", {"source": "x"}]
    read = windows_from_stored(stored, ["s", "x"])
    assert list(read) == ["s"]
    again = read["s"]
    assert (again.started, again.ends, again.overflow, again.count) == (T0, window.ends, 3, 4)
    assert again.held["DiskFull-db1"].alert(SourceKind.ALERTMANAGER).summary == "DiskFull on db1"
    assert windows_from_stored(None, ["s"]) == {}
    naive = Window.from_dict({"source": "s", "started": "2026-01-15T12:00:00", "held": [{"fingerprint": 5}, {}]})
    assert naive is not None
    assert naive.started == T0
    assert naive.held == {}
    assert Held.from_dict({"fingerprint": "f", "count": "many"}) is None


def test_a_held_alert_reads_as_a_firing_alert() -> None:
    """For its escalation: firing, its severity, where it is, its summary."""
    again = held("NodeDown", "web2:9100", "critical").alert(SourceKind.GRAFANA)
    assert (again.status, again.severity, again.kind, again.summary) == (
        AlertStatus.FIRING,
        Severity.CRITICAL,
        SourceKind.GRAFANA,
        "",
    )
    assert held("NodeDown", "web2:9100").label() == "NodeDown web2"


def test_summary_names_what_still_fires_most_severe_first() -> None:
    """The text the issue gives, the critical one first; none firing; one alert."""
    firing = [held("NodeDown", "web2"), held("DiskFull", "db1", "critical")]
    assert (
        summary_text("Prometheus", 5, firing)
        == "Maintenance of Prometheus ended: 5 alerts held, 2 still firing: DiskFull db1, NodeDown web2"
    )
    assert summary_text("Prometheus", 3, []) == "Maintenance of Prometheus ended: 3 alerts held, none still firing"
    assert summary_text("Kuma", 1, []) == "Maintenance of Kuma ended: 1 alert held, none still firing"


def test_a_long_summary_fits_one_sms_with_more() -> None:
    """Forty firing alerts: as many names as fit one SMS, then "+N more"; two parts fit more."""
    firing = [held("FilesystemAlmostFull", f"server-{number:02d}") for number in range(40)]
    text = summary_text("Prometheus", 40, firing)
    assert sms_info(text).parts == 1
    assert text.startswith("Maintenance of Prometheus ended: 40 alerts held, 40 still firing: FilesystemAlmostFull")
    assert text.endswith(" more")
    longer = summary_text("Prometheus", 40, firing, parts=2)
    assert sms_info(longer).parts == 2
    assert longer.count("FilesystemAlmostFull") > text.count("FilesystemAlmostFull")


def test_summary_severity_and_routing() -> None:
    """The most severe firing alert sets the severity; nothing firing is info; grouped by target in order."""
    assert summary_severity([held("A", "a"), held("B", "b", "critical")]) is Severity.CRITICAL
    assert summary_severity([]) is Severity.INFO
    first, second = held("A", "a"), held("B", "b")
    grouped = routed([first, second], {"A-a": ["+1", "+2"], "B-b": ["+2"]})
    assert grouped == {"+1": [first], "+2": [first, second]}


def test_resume_moves_the_next_step_by_the_pause() -> None:
    """Due 10 min after the pause began, paused 30 min: due 30 min later; a snooze keeps the end it was given."""
    paused_at = T0 + dt.timedelta(minutes=5)
    now = T0 + dt.timedelta(minutes=35)
    escalation = Escalation("A1", due=T0 + dt.timedelta(minutes=10), snoozed_until=T0 + dt.timedelta(minutes=20))
    moved = resume(escalation, paused_at, now)
    assert moved.due == T0 + dt.timedelta(minutes=40)
    assert moved.snoozed_until == T0 + dt.timedelta(minutes=20)
    # Overdue when the pause began (Home Assistant was down): due now
    assert resume(Escalation("A1", due=T0), paused_at, now).due == now
    ended = Escalation("A1", state=EscalationState.ACKNOWLEDGED)
    assert resume(ended, paused_at, now) is ended
