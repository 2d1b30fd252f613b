"""The transitions of an alert (it fires, is acknowledged, resolved, paged by an escalation step, snoozed).

Each is sent as a dispatcher signal of its source (`async_send_transition`); the source's event entity
(source_entities) shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send

from .alerts.book import ACKNOWLEDGED, FIRING, RESOLVED
from .const import EVENT_ALERT
from .devices import entry_device

if TYPE_CHECKING:
    from .alerts.book import OpenAlert

# One signal per source: entry id, source (subentry) id
SIGNAL_SOURCE_TRANSITION: Final = "sms_alerts_source_transition_{}_{}"
PAGED: Final = "paged"
SNOOZED: Final = "snoozed"
# Repeated firings of an open alert are counted, not transitions: no event type for them
TRANSITIONS: Final = (FIRING, ACKNOWLEDGED, RESOLVED, PAGED, SNOOZED)


@dataclass(frozen=True, slots=True)
class Transition:
    """One transition of one alert of a source, as its event entity shows it."""

    event_type: str
    attributes: dict[str, Any]


@callback
def async_send_transition(
    hass: HomeAssistant,
    entry_id: str,
    alert: OpenAlert,
    event_type: str,
    who: str | None = None,
    **more: Any,
) -> None:
    """Tell the event entity of an alert's source of one transition; `who` holds names and masked numbers only."""
    attributes: dict[str, Any] = {
        "fingerprint": alert.fingerprint,
        "name": alert.name,
        "severity": alert.severity,
        "reference": alert.code,
        "who": who,
        **more,
    }
    async_dispatcher_send(
        hass, SIGNAL_SOURCE_TRANSITION.format(entry_id, alert.source), Transition(event_type, attributes)
    )


@callback
def async_fire_transition(
    hass: HomeAssistant,
    entry_id: str,
    source_name: str,
    alert: OpenAlert,
    status: str,
    who: str | None,
    maintenance: bool,
) -> None:
    """Fire sms_alerts_alert for a transition of an alert (with the source's device: its logbook shows it).

    The source's event entity shows it too, with `who` (acknowledged by: a name or a masked number).
    """
    async_send_transition(hass, entry_id, alert, status, who)
    device = entry_device(hass, entry_id, f"{entry_id}_{alert.source}")
    data = {
        "entry_id": entry_id,
        "source": source_name,
        "source_id": alert.source,
        "fingerprint": alert.fingerprint,
        "status": status,
        "name": alert.name,
        "severity": alert.severity,
        "reference": alert.code,
        "maintenance": maintenance,
    }
    if device is not None:
        data[ATTR_DEVICE_ID] = device.id
    hass.bus.async_fire(EVENT_ALERT, data)
