"""Alerts a body names but does not show: told to the source's recipients, never dropped without a word.

Alertmanager's and Grafana's webhooks send at most `max_alerts` alerts of a group and say how many they left
out (`truncatedAlerts`; prometheus/alertmanager: notify/webhook/webhook.go keeps the first `max_alerts`); and
one alert of a body may be unreadable while the others are read. Neither can be sent as itself: the source's
recipients get one SMS saying how many and where to look (the sender's address), and the log one warning
saying why and what to change. In a maintenance window the SMS is held back as the alerts are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .alerts.models import ParseResult, Severity
from .alerts.render import render_not_shown
from .const import LOGGER
from .webhook_body import WarningLimiter

if TYPE_CHECKING:
    from .alert_source_config import SourceConfig

# Reasons named in the warning (each short, never a value of the body)
_REASONS = 3


class NotShown:
    """Tells of what bodies left out, for the alert sources of one entry."""

    def __init__(self, in_maintenance: Callable[[str], bool]) -> None:
        """Say nothing for a source `in_maintenance`; warn at most once a minute (the rest go to debug)."""
        self._in_maintenance = in_maintenance
        self._warnings = WarningLimiter(LOGGER)

    def note(self, source: SourceConfig, result: ParseResult) -> tuple[str, Severity] | None:
        """Warn when a body holds more alerts than it shows, and return the SMS its source's recipients get."""
        if not result.not_shown:
            return None
        if result.truncated:
            self._warnings.warning(
                "%s: the sender left %d alert(s) out of a notification (the max_alerts of its webhook); "
                "raise it or set it to 0 to have each one sent",
                source.name,
                result.truncated,
            )
        if result.unreadable:
            self._warnings.warning(
                "%s: %d alert(s) of a notification could not be read (%s)",
                source.name,
                result.unreadable,
                "; ".join(result.skipped[:_REASONS]),
            )
        if self._in_maintenance(source.subentry_id):
            LOGGER.debug("%s: in maintenance; no SMS for the alerts a notification left out", source.name)
            return None
        severity = min((alert.severity for alert in result.alerts), key=lambda s: s.rank, default=Severity.WARNING)
        return render_not_shown(source.name, result), severity
