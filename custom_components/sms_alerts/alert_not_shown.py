"""Alerts a body names but does not show: told to the source's recipients, never dropped without a word.

Alertmanager's and Grafana's webhooks send at most `max_alerts` alerts of a group and say how many they left
out (`truncatedAlerts`; prometheus/alertmanager: notify/webhook/webhook.go keeps the first `max_alerts`); and
one alert of a body may be unreadable while the others are read. Neither can be sent as itself: the source's
recipients get one SMS saying how many and where to look (the sender's address), and the log one warning
saying why and what to change. In a maintenance window the SMS is held back as the alerts are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from .alerts.models import ParseResult, Severity
from .alerts.render import render_not_shown
from .const import LOGGER
from .webhook_body import WarningLimiter

if TYPE_CHECKING:
    from .alert_source_config import SourceConfig
    from .outbox import SendOptions

# Reasons named in the warning (each short, never a value of the body)
_REASONS = 3


class Sender(Protocol):
    """What this needs of the alert sources: a source's own recipients, and the outbox."""

    def default_targets(self, source: SourceConfig) -> list[str]:
        """Return the targets of a source's own recipients."""

    async def async_submit(
        self,
        source: SourceConfig,
        text: str,
        target: str,
        severity: Severity,
        fingerprints: Sequence[str] = (),
        options: SendOptions | None = None,
        *,
        lines: list[int] | None = None,
    ) -> str | None:
        """Hand one SMS to the outbox; its journal line goes to `lines`."""


class NotShown:
    """Tells of what bodies left out, for the alert sources of one entry."""

    def __init__(self, sources: Sender, in_maintenance: Callable[[str], bool]) -> None:
        """Send through `sources`, not for a source `in_maintenance`; warn at most once a minute (then debug)."""
        self._sources = sources
        self._in_maintenance = in_maintenance
        self._warnings = WarningLimiter(LOGGER)

    async def async_tell(self, source: SourceConfig, result: ParseResult, lines: list[int]) -> None:
        """Warn, and send the source's recipients one SMS, when a body holds more alerts than it shows."""
        if not result.not_shown:
            return
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
            return
        text = render_not_shown(source.name, result)
        severity = min((alert.severity for alert in result.alerts), key=lambda s: s.rank, default=Severity.WARNING)
        for target in self._sources.default_targets(source):
            await self._sources.async_submit(source, text, target, severity, lines=lines)
