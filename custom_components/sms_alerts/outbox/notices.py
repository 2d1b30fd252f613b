"""What an outbox tells the rest of Home Assistant: the failure event and the sensors' signals."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers.dispatcher import async_dispatcher_send

from ..const import EVENT_FAILED, SIGNAL_QUEUE_CHANGED, SIGNAL_SEND_REPORT
from .models import SendReport


def fire_failed(hass: HomeAssistant, entry_id: str, target: str, message: str, error: str) -> None:
    """Fire the event automations escalate on, for a message given up for good."""
    hass.bus.async_fire(EVENT_FAILED, {"entry_id": entry_id, "target": target, "message": message, "error": error})


def send_report(hass: HomeAssistant, entry_id: str, report: SendReport) -> None:
    """Tell the sensors and the health of a new or changed send report."""
    async_dispatcher_send(hass, SIGNAL_SEND_REPORT.format(entry_id), report)


def queue_changed(hass: HomeAssistant, entry_id: str, waiting: int) -> None:
    """Tell the queue sensor how many messages wait."""
    async_dispatcher_send(hass, SIGNAL_QUEUE_CHANGED.format(entry_id), waiting)
