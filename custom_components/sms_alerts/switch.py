"""Per alert source, a Maintenance switch: on, the source's alerts are held; off, the summary of what was held.

Turned on from the UI the window lasts until it is turned off; the entity action `sms_alerts.start_maintenance`
opens one for a `duration` or until an `end`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import voluptuous as vol
from homeassistant.components.switch import SwitchEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import entity_platform
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .const import DOMAIN, SIGNAL_ALERTS_CHANGED
from .data import SmsAlertsConfigEntry
from .source_entities import SourceEntity

# The switches only follow the entry's alert sources
PARALLEL_UPDATES = 0

SERVICE_START_MAINTENANCE = "start_maintenance"
ATTR_DURATION = "duration"
ATTR_END = "end"
ATTR_ENDS = "ends"
ATTR_HELD = "held"
# A duration or an end, not both: checked by the action, for a translated error
START_MAINTENANCE_SCHEMA: dict[str | vol.Marker, Any] = {
    vol.Optional(ATTR_DURATION): cv.positive_time_period,
    vol.Optional(ATTR_END): cv.datetime,
}


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SmsAlertsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one Maintenance switch per alert source, each on its subentry, and the entity action.

    The platform's async_register_entity_service is used: it exists on every supported Home Assistant
    (service.async_register_platform_entity_service only from 2025.9).
    """
    entity_platform.async_get_current_platform().async_register_entity_service(
        SERVICE_START_MAINTENANCE, START_MAINTENANCE_SCHEMA, "async_start_maintenance"
    )
    for subentry_id in entry.runtime_data.alert_sources.sources:
        async_add_entities([MaintenanceSwitch(entry, subentry_id)], config_subentry_id=subentry_id)


class MaintenanceSwitch(SourceEntity, SwitchEntity):
    """Whether one alert source is in maintenance; `ends` says until when (None: until turned off)."""

    _attr_translation_key = "maintenance"

    def __init__(self, entry: SmsAlertsConfigEntry, subentry_id: str) -> None:
        """Attach the switch to the source's device (the one of its open-alerts sensor)."""
        super().__init__(entry, subentry_id, "maintenance")

    async def async_added_to_hass(self) -> None:
        """Follow the entry's alert sources (a window starts, ends, holds one more alert)."""
        self.async_on_remove(
            async_dispatcher_connect(self.hass, SIGNAL_ALERTS_CHANGED.format(self._entry.entry_id), self._async_changed)
        )

    _shown: tuple[Any, ...] | None = None

    @callback
    def _async_changed(self) -> None:
        """Write the state when this switch's own state or attributes changed (not at every alert of the entry)."""
        shown = (self.is_on, *self.extra_state_attributes.values())
        if shown != self._shown:
            self._shown = shown
            self.async_write_ha_state()

    @property
    def is_on(self) -> bool:
        """Whether the source's maintenance window is open."""
        return self._entry.runtime_data.alert_sources.maintenance.active(self._source_id)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """When the window ends (None: until turned off), and how many alerts it held so far."""
        maintenance = self._entry.runtime_data.alert_sources.maintenance
        return {ATTR_ENDS: maintenance.ends(self._source_id), ATTR_HELD: maintenance.describe(self._source_id)["held"]}

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Open a window until it is turned off (one already open stays as it is)."""
        maintenance = self._entry.runtime_data.alert_sources.maintenance
        if not maintenance.active(self._source_id):
            await maintenance.async_start(self._source_id, None)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """End the window now: each routed recipient gets the summary of what was held."""
        await self._entry.runtime_data.alert_sources.maintenance.async_end(self._source_id)

    async def async_start_maintenance(
        self, duration: dt.timedelta | None = None, end: dt.datetime | None = None
    ) -> None:
        """Open a window for a duration or until an end (neither: until turned off); an open one gets the new end."""
        now = dt_util.utcnow()
        ends: dt.datetime | None = None
        if duration is not None and end is not None:
            raise ServiceValidationError(translation_domain=DOMAIN, translation_key="maintenance_duration_and_end")
        if duration is not None and duration < dt.timedelta(minutes=1):
            raise ServiceValidationError(translation_domain=DOMAIN, translation_key="maintenance_duration_short")
        if duration is not None:
            ends = now + duration
        elif end is not None:
            ends = dt_util.as_utc(
                end if end.tzinfo is not None else end.replace(tzinfo=dt_util.get_default_time_zone())
            )
        if ends is not None and ends <= now:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="maintenance_end_passed",
                translation_placeholders={"end": ends.isoformat()},
            )
        await self._entry.runtime_data.alert_sources.maintenance.async_start(self._source_id, ends)
