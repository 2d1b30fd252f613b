"""The SMS text of one alert: the source's own Home Assistant template where it has one, else the default.

A template that fails or gives an empty text never costs the alert: the default text (alerts/render.py,
fit to one SMS) goes instead, with one rate-limited warning and no traceback. A longer custom text is
sent as it is (the outbox cuts what passes its bound, and the entry's one-SMS option applies).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import TemplateError
from homeassistant.helpers.template import Template

from .alerts.models import Alert, AlertStatus
from .alerts.render import render_alert
from .const import LOGGER
from .webhook_body import WarningLimiter

if TYPE_CHECKING:
    from .alert_source_config import SourceConfig
    from .alerts.book import OpenAlert

# Compiled templates kept per text; a source's templates change only with a reload
_MAX_COMPILED = 64


def template_variables(source: SourceConfig, alert: Alert, opened: OpenAlert | None) -> dict[str, Any]:
    """Return what a template reads (README, "Message templates"): all under `alert`, and `source`."""
    url = alert.generator_url or next(iter(alert.links.values()), "")
    return {
        "source": source.name,
        "alert": {
            "name": alert.name,
            "status": str(alert.status),
            "severity": str(alert.severity),
            "labels": dict(alert.labels),
            "annotations": dict(alert.annotations),
            "summary": alert.summary,
            "value": alert.message,
            "url": url,
            "links": dict(alert.links),
            "fingerprint": alert.fingerprint,
            "source_status": alert.source_status,
            "starts_at": None if alert.starts_at is None else alert.starts_at.isoformat(),
            "ends_at": None if alert.ends_at is None else alert.ends_at.isoformat(),
            "count": opened.count if opened is not None else 1,
            "reference": opened.code if opened is not None else "",
            "source": source.name,
            "kind": str(alert.kind),
        },
    }


class AlertTexts:
    """Writes the SMS text of alerts for an entry's sources."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Start with nothing compiled and nothing warned about."""
        self._hass = hass
        self._compiled: dict[str, Template] = {}
        self._warnings = WarningLimiter(LOGGER)

    @callback
    def text(self, source: SourceConfig, alert: Alert, opened: OpenAlert | None = None) -> str:
        """Return an alert's text: its source's template rendered; the default text without one or when it fails."""
        template = source.resolved_template if alert.status is AlertStatus.RESOLVED else source.message_template
        if not template:
            return render_alert(alert)
        try:
            rendered = self._template(template).async_render(
                template_variables(source, alert, opened), parse_result=False, log_fn=_log_undefined
            )
        except TemplateError as err:
            return self._fallback(source, alert, f"the template failed ({_reason(err)})")
        except Exception as err:  # noqa: BLE001 - a template must never cost the alert
            return self._fallback(source, alert, f"the template failed ({type(err).__name__})")
        text = str(rendered).strip()
        if not text:
            return self._fallback(source, alert, "the template gave an empty text")
        return text

    def _template(self, text: str) -> Template:
        """Return a compiled template of a text (compiled once)."""
        if (found := self._compiled.get(text)) is not None:
            return found
        if len(self._compiled) >= _MAX_COMPILED:
            self._compiled.clear()
        template = self._compiled[text] = Template(text, self._hass)
        return template

    def _fallback(self, source: SourceConfig, alert: Alert, why: str) -> str:
        """Warn (rate-limited) and return the default text."""
        self._warnings.warning("%s: %s for %s; the default text is sent", source.name, why, alert.shown_name)
        return render_alert(alert)


def _reason(err: TemplateError) -> str:
    """Return a short reason of a template error: its cause's type and first line, bounded."""
    cause = err.__cause__ or err
    first = str(cause).splitlines()[0] if str(cause) else ""
    text = f"{type(cause).__name__}: {first}" if first else type(cause).__name__
    return text[:120]


def _log_undefined(level: int, message: str) -> None:
    """Note an undefined variable a template read (a label the alert lacks is common): debug, not a warning."""
    LOGGER.log(min(level, logging.DEBUG), "%s", message)


def template_error(hass: HomeAssistant, text: str) -> bool:
    """Tell whether a template text cannot be compiled (the subentry flow refuses it)."""
    try:
        Template(text, hass).ensure_valid()
    except TemplateError:
        return True
    return False
