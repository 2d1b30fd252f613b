"""Per alert source, on the source's own device: an event entity of its alerts' transitions, an Acknowledge button.

The event entity shows the transitions alert_transitions sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.components.button import ButtonEntity
from homeassistant.components.event import EventEntity
from homeassistant.core import callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity

from .alert_transitions import SIGNAL_SOURCE_TRANSITION, TRANSITIONS, Transition
from .alerts.book import FIRING
from .const import DOMAIN

if TYPE_CHECKING:
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .data import SmsAlertsConfigEntry


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
