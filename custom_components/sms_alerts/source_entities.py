"""Per alert source, on the source's own device: an event entity of its alerts' transitions, an Acknowledge button.

Every transition of an alert (it fires, is acknowledged, resolved, paged by an escalation step, snoozed) is
sent as a dispatcher signal of its source (`async_send_transition`); the source's event entity shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.button import ButtonEntity
from homeassistant.components.event import EventEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect, async_dispatcher_send
from homeassistant.helpers.entity import Entity

from .alerts.book import ACKNOWLEDGED, FIRING, RESOLVED
from .const import DOMAIN

if TYPE_CHECKING:
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .alerts.book import OpenAlert
    from .data import SmsAlertsConfigEntry

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


def source_device_info(entry: SmsAlertsConfigEntry, subentry_id: str) -> DeviceInfo:
    """Return the device of an alert source (its sensor, event entity and button share it)."""
    return DeviceInfo(
        identifiers={(DOMAIN, f"{entry.entry_id}_{subentry_id}")},
        name=entry.runtime_data.alert_sources.sources[subentry_id].name,
        entry_type=DeviceEntryType.SERVICE,
        manufacturer="SMS Alerts",
        model="Alert source",
    )


class SourceEntity(Entity):
    """An entity of one alert source, on the source's device."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, entry: SmsAlertsConfigEntry, subentry_id: str, key: str) -> None:
        """Attach the entity to the source's device."""
        self._entry = entry
        self._source_id = subentry_id
        self._attr_unique_id = f"{entry.entry_id}_{subentry_id}_{key}"
        self._attr_device_info = source_device_info(entry, subentry_id)


@callback
def async_add_source_events(entry: SmsAlertsConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback) -> None:
    """Add one alert event entity per alert source, each on its subentry."""
    for subentry_id in entry.runtime_data.alert_sources.sources:
        async_add_entities([AlertTransitionEvent(entry, subentry_id)], config_subentry_id=subentry_id)


@callback
def async_add_source_buttons(entry: SmsAlertsConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback) -> None:
    """Add one Acknowledge button per alert source, each on its subentry."""
    for subentry_id in entry.runtime_data.alert_sources.sources:
        async_add_entities([AcknowledgeButton(entry, subentry_id)], config_subentry_id=subentry_id)


class AlertTransitionEvent(SourceEntity, EventEntity):
    """Fires on every transition of an alert of one source: fingerprint, name, severity, reference and who."""

    _attr_translation_key = "alert_transition"

    def __init__(self, entry: SmsAlertsConfigEntry, subentry_id: str) -> None:
        """Attach the entity to the source's device."""
        super().__init__(entry, subentry_id, "alert_transition")
        self._attr_event_types = list(TRANSITIONS)

    async def async_added_to_hass(self) -> None:
        """Follow the source's transitions."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass, SIGNAL_SOURCE_TRANSITION.format(self._entry.entry_id, self._source_id), self._async_show
            )
        )

    @callback
    def _async_show(self, transition: Transition) -> None:
        """Show one transition."""
        self._trigger_event(transition.event_type, transition.attributes)
        self.async_write_ha_state()


class AcknowledgeButton(SourceEntity, ButtonEntity):
    """Acknowledges every open alert of the source nobody acknowledged yet, as the acknowledge action does."""

    _attr_translation_key = "acknowledge_alerts"

    def __init__(self, entry: SmsAlertsConfigEntry, subentry_id: str) -> None:
        """Attach the button to the source's device."""
        super().__init__(entry, subentry_id, "acknowledge_alerts")

    async def async_press(self) -> None:
        """Acknowledge each open, unacknowledged alert (escalations stop, events fire); refuse when none is open."""
        sources = self._entry.runtime_data.alert_sources
        # By reference: the code is unique in the entry, a fingerprint may be another source's too
        codes = [alert.code for alert in sources.open_alerts(self._source_id) if alert.status == FIRING]
        acknowledged = [code for code in codes if await sources.async_acknowledge(fingerprint=None, code=code)]
        if not acknowledged:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="no_open_alerts",
                translation_placeholders={"source": sources.sources[self._source_id].name},
            )
