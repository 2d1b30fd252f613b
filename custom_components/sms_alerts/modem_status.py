"""A GSM modem's signal (+CSQ) and network registration (+CREG / +CEREG) as sensors, read every five minutes.

TS 27.007 §8.5 +CSQ: <rssi> 0-31 is -113 dBm + 2 dBm per step, 99 not known. §7.2 +CREG and §10.1.22
+CEREG <stat>: 0 not registered and not searching, 1 registered (home), 2 searching, 3 registration
denied, 4 unknown, 5 registered (roaming). A modem on LTE only may answer +CREG with 0 and +CEREG with 1:
the better of the two is shown.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.const import SIGNAL_STRENGTH_DECIBELS_MILLIWATT, EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.update_coordinator import CoordinatorEntity, DataUpdateCoordinator, UpdateFailed

from .api.base import ProviderError
from .api.modem import ModemProvider
from .const import DOMAIN, LOGGER
from .data import SmsAlertsConfigEntry
from .entity import SmsAlertsEntity
from .modem_issues import ModemIssues

STATUS_INTERVAL = dt.timedelta(minutes=5)
REGISTRATION_STATES = ("not_registered", "home", "searching", "denied", "unknown", "roaming")
# The better registration first: registered beats searching beats the rest
_PREFERENCE = ("home", "roaming", "searching", "denied", "not_registered", "unknown")


def registration(status: dict[str, Any]) -> str | None:
    """Return the better of +CREG and +CEREG as a state name, or None if the modem gave neither."""
    states = [
        REGISTRATION_STATES[stat]
        for stat in (status.get("creg"), status.get("cereg"))
        if isinstance(stat, int) and 0 <= stat < len(REGISTRATION_STATES)
    ]
    return min(states, key=_PREFERENCE.index) if states else None


class ModemStatusCoordinator(DataUpdateCoordinator[dict[str, Any]]):
    """Reads the modem's signal and registration; unavailable while the modem is not linked."""

    def __init__(
        self, hass: HomeAssistant, entry: SmsAlertsConfigEntry, provider: ModemProvider, issues: ModemIssues
    ) -> None:
        """Read every five minutes, and whenever the link comes up."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{entry.title} modem status",
            update_interval=STATUS_INTERVAL,
            always_update=False,
        )
        self._provider = provider
        self._issues = issues

    async def _async_update_data(self) -> dict[str, Any]:
        """Ask the modem (AT+CSQ, AT+CREG?, AT+CEREG?), between sends: one command at a time."""
        try:
            status = await self._provider.async_signal()
        except ProviderError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="health_check_failed",
                translation_placeholders={"error": err.reason},
            ) from err
        self._issues.registration(registration(status))
        return status


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


@callback
def async_setup_status(
    hass: HomeAssistant, entry: SmsAlertsConfigEntry, provider: ModemProvider, issues: ModemIssues
) -> None:
    """Read the modem's status from now on, first once its link is up; its registration may raise an issue."""
    coordinator = ModemStatusCoordinator(hass, entry, provider, issues)
    entry.runtime_data.health.modem = coordinator

    @callback
    def linked() -> None:
        if entry.runtime_data.health.reachability.reachable:
            entry.async_create_background_task(
                hass, coordinator.async_refresh(), f"{DOMAIN} modem status {entry.entry_id}"
            )

    entry.async_on_unload(entry.runtime_data.health.reachability.async_add_listener(linked))
