"""What an entry tells the rest of Home Assistant: its bus events, and the signals of its sensors and event entities."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.dispatcher import async_dispatcher_send

from ..const import (
    EVENT_ACKNOWLEDGED,
    EVENT_DELIVERY,
    EVENT_FAILED,
    EVENT_RECEIVED,
    SIGNAL_ENTRY_EVENT,
    SIGNAL_QUEUE_CHANGED,
    SIGNAL_SEND_REPORT,
)
from .models import SendReport

# Longest text an event entity keeps in one attribute (the bus event carries the whole value)
MAX_ATTRIBUTE = 1000
# Delivery states of a report, as the delivery event entity's types; any other state is "other"
DELIVERY_TYPES = {"DELIVERED": "delivered", "FAILED": "failed"}
DELIVERY_OTHER = "other"


class EventKind(StrEnum):
    """The entry's event entities: which of its bus events each one shows."""

    RECEIVED = "received"
    DELIVERY = "delivery"
    ACKNOWLEDGED = "acknowledged"
    GIVEN_UP = "given_up"


# The event types each event entity declares
EVENT_TYPES: dict[EventKind, tuple[str, ...]] = {
    EventKind.RECEIVED: ("received",),
    EventKind.DELIVERY: (*DELIVERY_TYPES.values(), DELIVERY_OTHER),
    EventKind.ACKNOWLEDGED: ("acknowledged",),
    EventKind.GIVEN_UP: ("given_up",),
}


@dataclass(frozen=True, slots=True)
class EntryEvent:
    """One bus event of an entry, as its event entity shows it."""

    kind: EventKind
    event_type: str
    attributes: dict[str, str]


def _bounded(data: dict[str, Any]) -> dict[str, str]:
    """Return the event's data without the entry id, each value cut to MAX_ATTRIBUTE characters."""
    attributes = {}
    for key, value in data.items():
        if key == "entry_id":
            continue
        text = str(value)
        attributes[key] = text if len(text) <= MAX_ATTRIBUTE else f"{text[: MAX_ATTRIBUTE - 1]}…"
    return attributes


def _notify(hass: HomeAssistant, kind: EventKind, event_type: str, event: str, data: dict[str, Any]) -> None:
    """Fire the bus event and tell the entry's event entity, from the same place."""
    hass.bus.async_fire(event, data)
    async_dispatcher_send(
        hass, SIGNAL_ENTRY_EVENT.format(data["entry_id"]), EntryEvent(kind, event_type, _bounded(data))
    )


def fire_failed(hass: HomeAssistant, entry_id: str, target: str, message: str, error: str) -> None:
    """Fire the event automations escalate on, for a message given up for good."""
    data = {"entry_id": entry_id, "target": target, "message": message, "error": error}
    _notify(hass, EventKind.GIVEN_UP, "given_up", EVENT_FAILED, data)


def fire_received(hass: HomeAssistant, entry_id: str, sender: str, to: str, text: str) -> None:
    """Fire the event of an inbound SMS."""
    data = {"entry_id": entry_id, "from": sender, "to": to, "text": text}
    _notify(hass, EventKind.RECEIVED, "received", EVENT_RECEIVED, data)


def fire_delivery(hass: HomeAssistant, entry_id: str, message_id: str, to: str, state: str) -> None:
    """Fire the event of a delivery report."""
    data = {"entry_id": entry_id, "id": message_id, "to": to, "state": state}
    _notify(hass, EventKind.DELIVERY, DELIVERY_TYPES.get(state.upper(), DELIVERY_OTHER), EVENT_DELIVERY, data)


def fire_acknowledged(
    hass: HomeAssistant, entry_id: str, *, reference: str, target: str, message: str, sender: str
) -> None:
    """Fire the event of a reply that acknowledged an alert."""
    data = {"entry_id": entry_id, "reference": reference, "target": target, "message": message, "from": sender}
    _notify(hass, EventKind.ACKNOWLEDGED, "acknowledged", EVENT_ACKNOWLEDGED, data)


def send_report(hass: HomeAssistant, entry_id: str, report: SendReport) -> None:
    """Tell the sensors and the health of a new or changed send report."""
    async_dispatcher_send(hass, SIGNAL_SEND_REPORT.format(entry_id), report)


def queue_changed(hass: HomeAssistant, entry_id: str, waiting: int) -> None:
    """Tell the queue sensor how many messages wait."""
    async_dispatcher_send(hass, SIGNAL_QUEUE_CHANGED.format(entry_id), waiting)
