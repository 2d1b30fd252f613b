"""Per alert source, a sensor of its open alerts (firing or acknowledged), on the source's own device."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from homeassistant.components.sensor import SensorEntity, SensorStateClass
from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_call_later

from .const import SIGNAL_ALERTS_CHANGED
from .data import SmsAlertsConfigEntry
from .source_entities import SourceEntity

# The open alerts listed in the attributes, newest first (the state counts them all)
MAX_LISTED = 20
# Changes within a second of a write are written together at its end
WRITE_INTERVAL = 1.0


@callback
def async_add_source_sensors(entry: SmsAlertsConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback) -> None:
    """Add one open-alerts sensor per alert source, each on its subentry."""
    for subentry_id in entry.runtime_data.alert_sources.sources:
        async_add_entities([OpenAlertsSensor(entry, subentry_id)], config_subentry_id=subentry_id)


class OpenAlertsSensor(SourceEntity, SensorEntity):
    """How many alerts of one source are open; the newest listed with their state and reference."""

    _attr_translation_key = "open_alerts"
    _attr_state_class = SensorStateClass.MEASUREMENT

    def __init__(self, entry: SmsAlertsConfigEntry, subentry_id: str) -> None:
        """Attach the sensor to the source's device."""
        super().__init__(entry, subentry_id, "open_alerts")

    _planned: CALLBACK_TYPE | None = None
    _stale = False

    async def async_added_to_hass(self) -> None:
        """Follow the entry's open alerts."""
        self.async_on_remove(
            async_dispatcher_connect(self.hass, SIGNAL_ALERTS_CHANGED.format(self._entry.entry_id), self._async_changed)
        )
        self.async_on_remove(self._async_cancel_planned)

    @callback
    def _async_changed(self) -> None:
        """Show a change at once, and the changes of the next second together at its end.

        A storm at a webhook changes the open alerts hundreds of times a second: the state (and the
        recorder's row, with the list of open alerts) is written about once a second, not per change.
        """
        if self._planned is not None:
            self._stale = True
            return
        self._async_write_now()

    @callback
    def _async_write_now(self) -> None:
        """Write the state, and hold later changes until the end of the next second."""
        self._stale = False
        self._planned = async_call_later(self.hass, WRITE_INTERVAL, self._async_planned_write)
        self.async_write_ha_state()

    @callback
    def _async_planned_write(self, _now: datetime) -> None:
        """End the second after a write: write what changed meanwhile, if anything did."""
        self._planned = None
        if self._stale:
            self._async_write_now()

    @callback
    def _async_cancel_planned(self) -> None:
        """Drop a planned write (the sensor is removed)."""
        if self._planned is not None:
            self._planned()
            self._planned = None

    @property
    def native_value(self) -> int:
        """The number of open alerts."""
        return len(self._entry.runtime_data.alert_sources.open_alerts(self._source_id))

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The newest open alerts: name, status, severity, reference, firings counted, escalation where escalated."""
        sources = self._entry.runtime_data.alert_sources
        listed = []
        for alert in sources.open_alerts(self._source_id)[:MAX_LISTED]:
            shown: dict[str, Any] = {
                "name": alert.name,
                "status": alert.status,
                "severity": alert.severity,
                "reference": alert.code,
                "count": alert.count,
                "recipients": len(alert.notified),
            }
            # Where it is escalated: state, step and round paged last, next page, who acknowledged
            if (escalation := sources.escalation_of(alert)) is not None:
                shown["escalation"] = escalation
            listed.append(shown)
        return {"alerts": listed}
