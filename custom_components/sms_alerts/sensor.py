"""The "Last send status" sensor of an entry."""

from __future__ import annotations

from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .const import SIGNAL_QUEUE_CHANGED, SIGNAL_SEND_REPORT
from .data import SmsAlertsConfigEntry
from .entity import account_device
from .outbox import ReportStatus, SendReport

# Sensors only listen to the outbox
PARALLEL_UPDATES = 0

ATTR_RECIPIENTS = "recipients"
ATTR_ERROR = "error"
ATTR_TIME = "time"
ATTR_PARTS = "parts"
ATTR_DELIVERY = "delivery"
_RESTORED = (ATTR_RECIPIENTS, ATTR_ERROR, ATTR_TIME, ATTR_PARTS, ATTR_DELIVERY)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SmsAlertsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the entry's sensors."""
    async_add_entities([LastSendStatusSensor(entry), QueuedMessagesSensor(entry)])


class LastSendStatusSensor(SensorEntity, RestoreEntity):
    """Sent, partial, failed or queued: how the entry's last send went."""

    _attr_has_entity_name = True
    _attr_translation_key = "last_send_status"
    _attr_device_class = SensorDeviceClass.ENUM
    _attr_should_poll = False

    def __init__(self, entry: SmsAlertsConfigEntry) -> None:
        """Attach the sensor to the account device."""
        self._entry = entry
        self._attr_options = [str(status) for status in ReportStatus]
        self._attr_unique_id = f"{entry.entry_id}_last_send_status"
        self._attr_device_info = account_device(entry)
        self._attr_extra_state_attributes: dict[str, Any] = {}

    async def async_added_to_hass(self) -> None:
        """Restore the last state and follow the outbox."""
        await super().async_added_to_hass()
        last = await self.async_get_last_state()
        if last is not None and last.state in ReportStatus:
            self._attr_native_value = last.state
            self._attr_extra_state_attributes = {
                key: last.attributes[key] for key in _RESTORED if key in last.attributes
            }
        self.async_on_remove(
            async_dispatcher_connect(self.hass, SIGNAL_SEND_REPORT.format(self._entry.entry_id), self._async_report)
        )

    @callback
    def _async_report(self, report: SendReport) -> None:
        """Show the outcome of a send."""
        errors = [f"{result.target}: {result.error}" for result in report.results if result.error]
        self._attr_native_value = str(report.status)
        self._attr_extra_state_attributes = {
            ATTR_RECIPIENTS: [result.target for result in report.results],
            ATTR_ERROR: "; ".join(errors) or None,
            ATTR_TIME: report.time.isoformat(),
            ATTR_PARTS: max((result.parts for result in report.results), default=0),
        }
        if report.delivery:
            self._attr_extra_state_attributes[ATTR_DELIVERY] = dict(report.delivery)
        self.async_write_ha_state()


class QueuedMessagesSensor(SensorEntity):
    """How many messages wait in the entry's outbox."""

    _attr_has_entity_name = True
    _attr_translation_key = "queued_messages"
    _attr_should_poll = False
    _attr_state_class = SensorStateClass.MEASUREMENT
    _attr_native_unit_of_measurement = "messages"

    def __init__(self, entry: SmsAlertsConfigEntry) -> None:
        """Attach the sensor to the account device."""
        self._entry = entry
        self._attr_unique_id = f"{entry.entry_id}_queued_messages"
        self._attr_device_info = account_device(entry)
        self._attr_native_value = len(entry.runtime_data.outbox.items)

    async def async_added_to_hass(self) -> None:
        """Follow the outbox."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(self.hass, SIGNAL_QUEUE_CHANGED.format(self._entry.entry_id), self._async_changed)
        )

    @callback
    def _async_changed(self, count: int) -> None:
        """Show the new count."""
        self._attr_native_value = count
        self.async_write_ha_state()
