"""Notify entities (one per recipient) and the legacy notify service of an entry."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from homeassistant.components.notify import NotifyEntity, NotifyEntityFeature
from homeassistant.components.notify.const import ATTR_DATA, ATTR_TARGET
from homeassistant.components.notify.legacy import BaseNotificationService
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import entity_platform
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import ConfigType, DiscoveryInfoType, VolDictType
from homeassistant.util import slugify

from .const import (
    ATTR_MESSAGE,
    ATTR_SEVERITY,
    ATTR_TITLE,
    CONF_SEVERITY,
    CONF_TARGET,
    DEFAULT_SEVERITY,
    DOMAIN,
    LOGGER,
    SERVICE_SEND_MESSAGE,
    SEVERITIES,
    SUBENTRY_RECIPIENT,
)
from .data import SmsAlertsConfigEntry
from .outbox import SendOptions
from .services import OPTIONS_SCHEMA
from .submit import async_submit, raise_for_failures

CONF_ENTRY_ID = "entry_id"
# The outbox serialises sends per entry
PARALLEL_UPDATES = 0

DATA_SCHEMA = vol.Schema(OPTIONS_SCHEMA)
# sms_alerts.send_message on a recipient's notify entity: notify.send_message with a severity
SEND_MESSAGE_SCHEMA: VolDictType = {
    vol.Required(ATTR_MESSAGE): cv.string,
    vol.Optional(ATTR_TITLE): cv.string,
    vol.Optional(ATTR_SEVERITY): vol.In(SEVERITIES),
}


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SmsAlertsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one notify entity per recipient subentry, and their entity action."""
    # EntityPlatform's registration, as async_register_platform_entity_service is missing on 2025.4
    entity_platform.async_get_current_platform().async_register_entity_service(
        SERVICE_SEND_MESSAGE, SEND_MESSAGE_SCHEMA, "async_send_alert"
    )
    for subentry_id, subentry in entry.subentries.items():
        if subentry.subentry_type != SUBENTRY_RECIPIENT:
            continue
        async_add_entities(
            [RecipientNotifyEntity(entry, subentry_id)],
            config_subentry_id=subentry_id,
        )


class RecipientNotifyEntity(NotifyEntity):
    """Sends to one recipient of an entry."""

    _attr_has_entity_name = True
    _attr_name = None
    _attr_supported_features = NotifyEntityFeature.TITLE

    def __init__(self, entry: SmsAlertsConfigEntry, subentry_id: str) -> None:
        """Bind the entity to its entry and recipient."""
        subentry = entry.subentries[subentry_id]
        self._entry = entry
        self._target: str = subentry.data[CONF_TARGET]
        self._severity: str = subentry.data.get(CONF_SEVERITY, DEFAULT_SEVERITY)
        self._attr_unique_id = f"{entry.entry_id}_{subentry_id}_notify"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, f"{entry.entry_id}_{subentry_id}")},
            name=subentry.title,
            entry_type=DeviceEntryType.SERVICE,
            manufacturer="SMS Alerts",
            model="Recipient",
        )

    async def async_send_message(self, message: str, title: str | None = None) -> None:
        """Send the message to this recipient with its default severity; a failure raises a translated error."""
        await self._async_send(message, title, self._severity)

    async def async_send_alert(self, message: str, title: str | None = None, severity: str | None = None) -> None:
        """Send through sms_alerts.send_message: with a severity (the recipient's default without one)."""
        await self._async_send(message, title, severity or self._severity)
        # Recorded as notify.send_message records its sends; 2025.4 has no way to record one from outside it
        record = getattr(self, "_async_record_notification", None)
        if record is not None:
            record()

    async def _async_send(self, message: str, title: str | None, severity: str) -> None:
        """Hand the message to the entry's outbox for this recipient; raise one error for a failure."""
        outbox = self._entry.runtime_data.outbox
        report = await async_submit(outbox, message, title, [self._target], SendOptions(), severity)
        raise_for_failures(report)


async def async_get_service(
    hass: HomeAssistant,
    config: ConfigType,
    discovery_info: DiscoveryInfoType | None = None,
) -> SmsAlertsNotificationService | None:
    """Create the legacy notify service of an entry, loaded by discovery from async_setup_entry."""
    if discovery_info is None:
        return None
    entry: SmsAlertsConfigEntry | None = hass.config_entries.async_get_entry(discovery_info[CONF_ENTRY_ID])
    if entry is None:
        return None
    service = SmsAlertsNotificationService(entry)
    entry.async_on_unload(service.async_unregister_services)
    LOGGER.debug("Legacy notify service for %s is notify.%s", entry.title, slugify(discovery_info[CONF_NAME]))
    return service


class SmsAlertsNotificationService(BaseNotificationService):
    """notify.<entry title>: `target` is a list of targets, `data` the provider options."""

    def __init__(self, entry: SmsAlertsConfigEntry) -> None:
        """Bind the service to its entry."""
        self._entry = entry

    async def async_send_message(self, message: str = "", **kwargs: Any) -> None:
        """Send through the entry's outbox; without target, to all recipients."""
        try:
            data = DATA_SCHEMA(kwargs.get(ATTR_DATA) or {})
        except vol.Invalid as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="invalid_data",
                translation_placeholders={"error": str(err)},
            ) from err
        report = await async_submit(
            self._entry.runtime_data.outbox,
            message,
            kwargs.get(ATTR_TITLE),
            kwargs.get(ATTR_TARGET),
            SendOptions.from_data(data),
            data[ATTR_SEVERITY],
        )
        raise_for_failures(report)
