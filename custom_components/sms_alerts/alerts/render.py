"""Default SMS texts for alerts: one alert, a summary of many, a source's test; each fits its bound; pure.

One alert reads `FIRING critical DiskFull db1: / at 97%` or `RESOLVED DiskFull db1`; many at once read
`FIRING 5 alerts (2 critical): DiskFull db1, HighLoad web2, +3 more`. A text of GSM-7 characters is bounded in
septets (160 for one SMS, 153 a part for more); any other text in UTF-16 units (70, or 67 a part): one emoji or
Cyrillic name makes the whole SMS UCS-2, and only then is the shorter bound used.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..message import (
    GSM_PART,
    GSM_SINGLE,
    UCS2_PART,
    UCS2_SINGLE,
    Encoding,
    encoding_of,
    sms_info,
    to_gsm7,
    truncate_gsm,
)
from ..message import truncate as truncate_ucs2
from .models import Alert, AlertStatus, ParseResult, Severity, SourceKind

# Labels that say where an alert is, in the order they are looked for
WHERE_LABELS = ("instance", "host", "hostname", "node", "pod", "device")
_KIND_NAMES = {
    SourceKind.ALERTMANAGER: "Alertmanager",
    SourceKind.GRAFANA: "Grafana",
    SourceKind.UPTIME_KUMA: "Uptime Kuma",
    SourceKind.GENERIC: "webhook",
}
_MAX_PORT_DIGITS = 5


def fit(text: str, parts: int = 1, *, gsm7: bool = False) -> str:
    """Cut a text to `parts` SMS (GSM-7 text with "...", any other with "…"); `gsm7` transliterates it first."""
    if parts < 1:
        raise ValueError("parts must be at least 1")
    if gsm7:
        text = to_gsm7(text)
    if sms_info(text).parts <= parts:
        return text
    if encoding_of(text) is Encoding.GSM7:
        return truncate_gsm(text, GSM_SINGLE if parts == 1 else GSM_PART * parts)
    return truncate_ucs2(text, UCS2_SINGLE if parts == 1 else UCS2_PART * parts)


def where(alert: Alert) -> str:
    """Where an alert is: its instance (without a port), host, node or pod label; "" when none is given."""
    for key in WHERE_LABELS:
        value = alert.labels.get(key, "")
        if value:
            host, sep, port = value.rpartition(":")
            # "db1:9100" is db1; an address in brackets or a URL keeps its colons
            if sep and port.isdigit() and len(port) <= _MAX_PORT_DIGITS and host and not host.endswith("]"):
                return host
            return value
    return ""


def _head(alert: Alert) -> str:
    """Write the start of one alert's text: status, severity while firing, name, where."""
    place = where(alert)
    name = alert.name if not place or place in alert.name else f"{alert.name} {place}"
    if alert.status is AlertStatus.RESOLVED:
        return f"RESOLVED {name}"
    return f"FIRING {alert.severity} {name}"


def render_alert(alert: Alert, parts: int = 1, *, gsm7: bool = False) -> str:
    """One alert as SMS text within `parts` SMS: `FIRING critical DiskFull db1: / at 97%`, `RESOLVED DiskFull db1`."""
    head = _head(alert)
    detail = alert.summary if alert.status is AlertStatus.FIRING else ""
    return fit(f"{head}: {detail}" if detail else head, parts, gsm7=gsm7)


def _label(alert: Alert) -> str:
    """Write an alert's name and place, as a summary lists it."""
    place = where(alert)
    return alert.name if not place or place in alert.name else f"{alert.name} {place}"


def _names_within(prefix: str, alerts: Sequence[Alert], parts: int, *, gsm7: bool) -> str:
    """Write the prefix and as many names as fit `parts` SMS, then "+N more" for the rest."""
    text = prefix
    for index, alert in enumerate(alerts):
        rest = len(alerts) - index - 1
        joined = f"{text}{', ' if text != prefix else ''}{_label(alert)}"
        tail = f", +{rest} more" if rest else ""
        if _fits(joined + tail, parts, gsm7=gsm7):
            text = joined
            continue
        more = f"+{len(alerts) - index} more"
        return f"{text}{', ' if text != prefix else ''}{more}"
    return text


def _fits(text: str, parts: int, *, gsm7: bool) -> bool:
    """Whether a text travels in `parts` SMS."""
    return sms_info(to_gsm7(text) if gsm7 else text).parts <= parts


def _count(alerts: Sequence[Alert]) -> str:
    """'5 alerts (2 critical)': how many, and how many of them are critical."""
    noun = "alert" if len(alerts) == 1 else "alerts"
    critical = sum(1 for alert in alerts if alert.severity is Severity.CRITICAL)
    return f"{len(alerts)} {noun}" + (f" ({critical} critical)" if critical else "")


def render_group(alerts: Iterable[Alert], parts: int = 1, *, gsm7: bool = False) -> str:
    """Many alerts in one SMS text: `FIRING 5 alerts (2 critical): DiskFull db1, ..., +2 more`.

    Firing alerts come first, the most severe first; resolved ones follow after "; RESOLVED n: ...".
    A single alert reads as render_alert writes it.
    """
    listed = list(alerts)
    if len(listed) == 1:
        return render_alert(listed[0], parts, gsm7=gsm7)
    firing = sorted((a for a in listed if a.status is AlertStatus.FIRING), key=lambda a: a.severity.rank)
    resolved = [a for a in listed if a.status is AlertStatus.RESOLVED]
    text = ""
    if firing:
        text = _names_within(f"FIRING {_count(firing)}: ", firing, parts, gsm7=gsm7)
    if resolved:
        prefix = f"{text}; RESOLVED {len(resolved)}: " if text else f"RESOLVED {_count(resolved)}: "
        text = _names_within(prefix, resolved, parts, gsm7=gsm7)
    return fit(text, parts, gsm7=gsm7)


def render_test(result: ParseResult, parts: int = 1, *, gsm7: bool = False) -> str:
    """Write a source's test message: `TEST from Uptime Kuma: Kuma Testing`."""
    source = _KIND_NAMES[result.kind]
    return fit(f"TEST from {source}: {result.message}" if result.message else f"TEST from {source}", parts, gsm7=gsm7)


def render_not_shown(source: str, result: ParseResult, parts: int = 1, *, gsm7: bool = False) -> str:
    """Tell of the alerts a body names but does not show, with where to see them (the sender's address).

    `Prometheus: 3 more alerts left out of the notification (max_alerts) http://am:9093`; unreadable ones
    `2 alerts of the notification could not be read`; both `5 more alerts not shown: 3 left out (max_alerts),
    2 unreadable`.
    """
    left_out, unreadable = result.truncated, result.unreadable
    # Alertmanager and Grafana leave out what passes their webhook's max_alerts; a generic body, our own bound
    why = "" if result.kind is SourceKind.GENERIC else " (max_alerts)"
    if left_out and unreadable:
        what = f"{_alerts(left_out + unreadable, 'more ')} not shown: {left_out} left out{why}, {unreadable} unreadable"
    elif left_out:
        what = f"{_alerts(left_out, 'more ')} left out of the notification{why}"
    else:
        what = f"{_alerts(unreadable)} of the notification could not be read"
    text = f"{source}: {what}"
    if result.external_url:
        text = f"{text} {result.external_url}"
    return fit(text, parts, gsm7=gsm7)


def _alerts(count: int, more: str = "") -> str:
    """'1 alert', '3 more alerts'."""
    return f"{count} {more}alert" if count == 1 else f"{count} {more}alerts"


def render(result: ParseResult, parts: int = 1, *, gsm7: bool = False) -> list[str]:
    """Default texts of a parsed body: one per alert (a test message for a test); [] when it holds no alert."""
    if result.test:
        return [render_test(result, parts, gsm7=gsm7)]
    return [render_alert(alert, parts, gsm7=gsm7) for alert in result.alerts]
