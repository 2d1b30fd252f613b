"""A GSM modem's signal strength and network registration sensors (modem_status reads them)."""

from __future__ import annotations

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.const import SIGNAL_STRENGTH_DECIBELS_MILLIWATT, EntityCategory
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .data import SmsAlertsConfigEntry
from .entity import SmsAlertsEntity
from .modem_status import REGISTRATION_STATES, ModemStatusCoordinator, registration


class ModemSignalSensor(SmsAlertsEntity, CoordinatorEntity[ModemStatusCoordinator], SensorEntity):
    """The modem's signal strength in dBm."""

    _attr_translation_key = "signal_strength"
    _attr_device_class = SensorDeviceClass.SIGNAL_STRENGTH
    _attr_native_unit_of_measurement = SIGNAL_STRENGTH_DECIBELS_MILLIWATT
    _attr_state_class = SensorStateClass.MEASUREMENT
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, entry: SmsAlertsConfigEntry, coordinator: ModemStatusCoordinator) -> None:
        """Follow the modem's status."""
        CoordinatorEntity.__init__(self, coordinator)
        SmsAlertsEntity.__init__(self, entry, "signal_strength")

    @property
    def native_value(self) -> int | None:
        """Return dBm, or None where the modem does not know it (99)."""
        value = (self.coordinator.data or {}).get("signal_dbm")
        return value if isinstance(value, int) else None


class ModemRegistrationSensor(SmsAlertsEntity, CoordinatorEntity[ModemStatusCoordinator], SensorEntity):
    """Whether the modem is registered on a network: home, roaming, searching, denied, ..."""

    _attr_translation_key = "network_registration"
    _attr_device_class = SensorDeviceClass.ENUM
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, entry: SmsAlertsConfigEntry, coordinator: ModemStatusCoordinator) -> None:
        """Follow the modem's status."""
        CoordinatorEntity.__init__(self, coordinator)
        SmsAlertsEntity.__init__(self, entry, "network_registration")
        self._attr_options = list(REGISTRATION_STATES)

    @property
    def native_value(self) -> str | None:
        """Return the registration state."""
        return registration(self.coordinator.data or {})


def modem_sensors(entry: SmsAlertsConfigEntry) -> list[SensorEntity]:
    """Return a modem entry's signal and registration sensors (none for other providers)."""
    coordinator = entry.runtime_data.health.modem
    if coordinator is None:
        return []
    return [ModemSignalSensor(entry, coordinator), ModemRegistrationSensor(entry, coordinator)]
