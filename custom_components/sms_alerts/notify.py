"""Notify entities (one per recipient) and the legacy notify service of an entry."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from homeassistant.components.notify import NotifyEntity, NotifyEntityFeature
from homeassistant.components.notify.const import ATTR_DATA, ATTR_TARGET, ATTR_TITLE
from homeassistant.components.notify.legacy import BaseNotificationService
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import ConfigType, DiscoveryInfoType
from homeassistant.util import slugify

from .const import ATTR_SEVERITY, CONF_TARGET, DOMAIN, LOGGER
from .data import SmsAlertsConfigEntry
from .outbox import SendOptions
from .services import OPTIONS_SCHEMA, async_submit, raise_for_failures

CONF_ENTRY_ID = "entry_id"
# The outbox serialises sends per entry
PARALLEL_UPDATES = 0

DATA_SCHEMA = vol.Schema(OPTIONS_SCHEMA)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SmsAlertsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one notify entity per recipient subentry."""
    for subentry_id in entry.subentries:
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
        self._attr_unique_id = f"{entry.entry_id}_{subentry_id}_notify"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, f"{entry.entry_id}_{subentry_id}")},
            name=subentry.title,
            entry_type=DeviceEntryType.SERVICE,
            manufacturer="SMS Alerts",
            model="Recipient",
        )

    async def async_send_message(self, message: str, title: str | None = None) -> None:
        """Send the message to this recipient; a failure raises a translated error."""
        report = await async_submit(self._entry.runtime_data.outbox, message, title, [self._target], SendOptions())
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
    entry.runtime_data.legacy_service = service
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
