"""The "Provider reachable" binary sensor of an entry."""

from __future__ import annotations

from homeassistant.components.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from homeassistant.const import STATE_OFF, STATE_ON, EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .coordinator import Health
from .data import SmsAlertsConfigEntry
from .entity import SmsAlertsEntity

# The sensor only listens to the entry's health
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SmsAlertsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the entry's binary sensors."""
    health = entry.runtime_data.health
    if health is not None:
        async_add_entities([ProviderReachableSensor(entry, health)])


@callback
def _keep_polling() -> None:
    """Listen to the health poll without acting: the reachability listener shows its outcome."""


class ProviderReachableSensor(SmsAlertsEntity, BinarySensorEntity, RestoreEntity):
    """On while the provider takes requests; learned from sends and, for the SMS Gateway, from check.php."""

    _attr_translation_key = "provider_reachable"
    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, entry: SmsAlertsConfigEntry, health: Health) -> None:
        """Attach the sensor to the account device."""
        super().__init__(entry, "provider_reachable")
        self._health = health

    async def async_added_to_hass(self) -> None:
        """Show what is known, else the last state; then follow the reachability."""
        await super().async_added_to_hass()
        reachability = self._health.reachability
        if reachability.reachable is not None:
            self._attr_is_on = reachability.reachable
        elif (last := await self.async_get_last_state()) is not None and last.state in (STATE_ON, STATE_OFF):
            self._attr_is_on = last.state == STATE_ON
        self.async_on_remove(reachability.async_add_listener(self._async_changed))
        if self._health.coordinator is not None:
            # The gateway is polled only while something listens: keep it polled with its sensors disabled
            self.async_on_remove(self._health.coordinator.async_add_listener(_keep_polling))

    @callback
    def _async_changed(self) -> None:
        """Show the new reachability."""
        self._attr_is_on = self._health.reachability.reachable
        self.async_write_ha_state()
