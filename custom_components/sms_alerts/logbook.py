"""Logbook lines for SMS Alerts' events: alerts from monitoring systems, given-up messages, acknowledgements.

Numbers are masked as in the log (the logbook is shown to every user); message texts are left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.components.logbook.const import LOGBOOK_ENTRY_MESSAGE, LOGBOOK_ENTRY_NAME
from homeassistant.core import Event, HomeAssistant, callback

from .api.base import mask_target
from .const import DOMAIN, EVENT_ACKNOWLEDGED, EVENT_ALERT, EVENT_FAILED

Describe = Callable[[Event[Any]], dict[str, str]]


def _alert(event: Event[Any]) -> dict[str, str]:
    """Describe a transition of an alert from a monitoring system: "DiskFull (A12) fires"."""
    data = event.data
    status = {"firing": "fires", "acknowledged": "is acknowledged", "resolved": "is resolved"}.get(
        str(data.get("status")), str(data.get("status"))
    )
    name = str(data.get("name") or data.get("fingerprint") or "an alert")
    reference = f" ({data['reference']})" if data.get("reference") else ""
    held = ", held for maintenance" if data.get("maintenance") else ""
    return {
        LOGBOOK_ENTRY_NAME: str(data.get("source") or "SMS Alerts"),
        LOGBOOK_ENTRY_MESSAGE: f"{name}{reference} {status}{held}",
    }


def _failed(event: Event[Any]) -> dict[str, str]:
    """Describe a message given up for good."""
    data = event.data
    return {
        LOGBOOK_ENTRY_NAME: "SMS Alerts",
        LOGBOOK_ENTRY_MESSAGE: f"gave up a message to {mask_target(str(data.get('target', '')))}: {data.get('error')}",
    }


def _acknowledged(event: Event[Any]) -> dict[str, str]:
    """Describe an alert acknowledged by a reply SMS."""
    data = event.data
    return {
        LOGBOOK_ENTRY_NAME: "SMS Alerts",
        LOGBOOK_ENTRY_MESSAGE: f"{mask_target(str(data.get('from', '')))} acknowledged alert #{data.get('reference')}",
    }


@callback
def async_describe_events(hass: HomeAssistant, async_describe_event: Callable[[str, str, Describe], None]) -> None:
    """Describe SMS Alerts' events for the logbook."""
    async_describe_event(DOMAIN, EVENT_ALERT, _alert)
    async_describe_event(DOMAIN, EVENT_FAILED, _failed)
    async_describe_event(DOMAIN, EVENT_ACKNOWLEDGED, _acknowledged)
