"""Sensors of an entry: the last send and the outbox for every provider, check.php values for the SMS Gateway."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import SIGNAL_STRENGTH_DECIBELS_MILLIWATT, EntityCategory
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.restore_state import RestoreEntity
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .api.brevisone import GatewayHealth
from .const import SIGNAL_QUEUE_CHANGED, SIGNAL_SEND_REPORT
from .coordinator import GatewayHealthCoordinator
from .data import SmsAlertsConfigEntry
from .entity import SmsAlertsEntity
from .modem_sensor import modem_sensors
from .outbox import ReportStatus, SendReport, SendStatus
from .source_sensor import async_add_source_sensors

# Sensors only listen to the outbox and the health poll
PARALLEL_UPDATES = 0

ATTR_RECIPIENTS = "recipients"
ATTR_ERROR = "error"
ATTR_TIME = "time"
ATTR_PARTS = "parts"
ATTR_DELIVERY = "delivery"
ATTR_DEDUPLICATED = "deduplicated"
ATTR_THROTTLED = "throttled"
# The Last send status is written at most this often (seconds): the first report at once, the latest at the end
REPORT_WRITE_INTERVAL = 1.0
_RESTORED = (ATTR_RECIPIENTS, ATTR_ERROR, ATTR_TIME, ATTR_PARTS, ATTR_DELIVERY, ATTR_DEDUPLICATED, ATTR_THROTTLED)


@dataclass(frozen=True, kw_only=True)
class GatewaySensorEntityDescription(SensorEntityDescription):
    """A value of the SMS Gateway's check.php."""

    value_fn: Callable[[GatewayHealth], int | None]


GATEWAY_SENSORS: tuple[GatewaySensorEntityDescription, ...] = (
    GatewaySensorEntityDescription(
        key="gateway_queue",
        translation_key="gateway_queue",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda health: health.queue,
    ),
    GatewaySensorEntityDescription(
        key="failed_messages",
        translation_key="failed_messages",
        # The gateway's own count, which it may reset: not a total Home Assistant could rely on
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda health: health.failed,
    ),
    GatewaySensorEntityDescription(
        key="signal_strength",
        translation_key="signal_strength",
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda health: health.signal_dbm,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SmsAlertsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the entry's sensors; the SMS Gateway's check.php values only where they are polled."""
    entities: list[SensorEntity] = [LastSendStatusSensor(entry), QueuedMessagesSensor(entry)]
    health = entry.runtime_data.health
    if health is not None and health.coordinator is not None:
        entities.extend(GatewayHealthSensor(entry, health.coordinator, description) for description in GATEWAY_SENSORS)
    entities.extend(modem_sensors(entry))
    async_add_entities(entities)
    async_add_source_sensors(entry, async_add_entities)


class LastSendStatusSensor(SmsAlertsEntity, SensorEntity, RestoreEntity):
    """Sent, partial, failed or queued: how the entry's last send went."""

    _attr_translation_key = "last_send_status"
    _attr_device_class = SensorDeviceClass.ENUM

    def __init__(self, entry: SmsAlertsConfigEntry) -> None:
        """Attach the sensor to the account device."""
        super().__init__(entry, "last_send_status")
        self._attr_options = [str(status) for status in ReportStatus]
        self._attr_extra_state_attributes: dict[str, Any] = {}
        # The last report that came, the last one written, and the end of the second after that write
        self._report: SendReport | None = None
        self._written: SendReport | None = None
        self._planned: CALLBACK_TYPE | None = None

    async def async_added_to_hass(self) -> None:
        """Restore the last state and follow the outbox."""
        await super().async_added_to_hass()
        last = await self.async_get_last_state()
        if last is not None and last.state in ReportStatus:
            self._attr_native_value = last.state
            self._attr_extra_state_attributes = {
                key: last.attributes[key] for key in _RESTORED if last.attributes.get(key) is not None
            }
        self.async_on_remove(
            async_dispatcher_connect(self.hass, SIGNAL_SEND_REPORT.format(self._entry.entry_id), self._async_report)
        )
        self.async_on_remove(self._async_cancel_planned)

    @callback
    def _async_report(self, report: SendReport) -> None:
        """Show the outcome of a send: at once, unless the state was written less than a second ago.

        Then one write at the end of that second shows the latest report: a burst of sends writes
        the state (and the recorder a row) about once a second, not once per send.
        """
        self._report = report
        if self._planned is None:
            self._async_write_report(report)

    @callback
    def _async_planned_write(self, _now: datetime) -> None:
        """End the second after a write: write the last report that came meanwhile, if any."""
        self._planned = None
        if self._report is not None and self._report is not self._written:
            self._async_write_report(self._report)

    @callback
    def _async_cancel_planned(self) -> None:
        """Drop a planned write (the sensor is removed)."""
        if self._planned is not None:
            self._planned()
            self._planned = None

    @callback
    def _async_write_report(self, report: SendReport) -> None:
        """Write the state of a report."""
        self._written = report
        # The next second's reports wait for its end
        self._planned = async_call_later(self.hass, REPORT_WRITE_INTERVAL, self._async_planned_write)
        errors = []
        recipients = []
        deduplicated = throttled = parts = 0
        for result in report.results:
            recipients.append(result.target)
            status = result.status
            if result.error and status in (SendStatus.FAILED, SendStatus.QUEUED):
                errors.append(f"{result.target}: {result.error}")
            elif status is SendStatus.DEDUPLICATED:
                deduplicated += 1
            elif status is SendStatus.THROTTLED:
                throttled += 1
            parts = max(parts, result.parts)
        self._attr_native_value = str(report.status)
        self._attr_extra_state_attributes = {
            ATTR_RECIPIENTS: recipients,
            ATTR_TIME: report.time.isoformat(),
            ATTR_PARTS: parts,
            ATTR_DEDUPLICATED: deduplicated,
            ATTR_THROTTLED: throttled,
        }
        if errors:
            # Left out without an error: the frontend shows an attribute of None as "Unknown"
            self._attr_extra_state_attributes[ATTR_ERROR] = "; ".join(errors)
        if report.delivery:
            self._attr_extra_state_attributes[ATTR_DELIVERY] = dict(report.delivery)
        self.async_write_ha_state()


class QueuedMessagesSensor(SmsAlertsEntity, SensorEntity):
    """How many messages wait in the entry's outbox."""

    _attr_translation_key = "queued_messages"
    _attr_state_class = SensorStateClass.MEASUREMENT

    def __init__(self, entry: SmsAlertsConfigEntry) -> None:
        """Attach the sensor to the account device."""
        super().__init__(entry, "queued_messages")
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


class GatewayHealthSensor(SmsAlertsEntity, CoordinatorEntity[GatewayHealthCoordinator], SensorEntity):
    """One value of the SMS Gateway's check.php, unavailable while the gateway does not answer it."""

    entity_description: GatewaySensorEntityDescription

    def __init__(
        self,
        entry: SmsAlertsConfigEntry,
        coordinator: GatewayHealthCoordinator,
        description: GatewaySensorEntityDescription,
    ) -> None:
        """Follow the coordinator and attach the sensor to the account device."""
        CoordinatorEntity.__init__(self, coordinator)
        SmsAlertsEntity.__init__(self, entry, description.key)
        self.entity_description = description

    async def async_added_to_hass(self) -> None:
        """Follow the coordinator and the gateway's reachability."""
        await super().async_added_to_hass()
        self.async_on_remove(self._entry.runtime_data.health.reachability.async_add_listener(self.async_write_ha_state))

    @property
    def available(self) -> bool:
        """Available once check.php was read, while its last read succeeded and the gateway is not known down.

        A send that cannot reach the gateway makes the values of the last read stale until the next one.
        """
        data: GatewayHealth | None = self.coordinator.data
        down = self._entry.runtime_data.health.reachability.reachable is False
        return super().available and data is not None and not down

    @property
    def native_value(self) -> int | None:
        """Return the value, or None when check.php did not show it."""
        data: GatewayHealth | None = self.coordinator.data
        return None if data is None else self.entity_description.value_fn(data)
