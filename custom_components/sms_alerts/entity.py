"""The base of the entry's entities, and the account device that holds them."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity

from .api import ProviderKey
from .const import CONF_PROVIDER, DOMAIN
from .data import SmsAlertsConfigEntry

_MODELS: dict[ProviderKey, tuple[str, str]] = {
    ProviderKey.SMS_GATEWAY: ("brevis.one", "SMS Gateway"),
    ProviderKey.WILDIX: ("Wildix", "PBX with GSM gateway"),
    ProviderKey.PBXWARE: ("Bicom Systems", "PBXware"),
    ProviderKey.IPEX: ("IPEX", "SMS API"),
    ProviderKey.MODEM: ("3GPP TS 27.005", "GSM modem"),
}


def account_device(entry: SmsAlertsConfigEntry) -> DeviceInfo:
    """Describe the device of the provider account."""
    manufacturer, model = _MODELS[ProviderKey(entry.data[CONF_PROVIDER])]
    return DeviceInfo(
        identifiers={(DOMAIN, entry.entry_id)},
        name=entry.title,
        manufacturer=manufacturer,
        model=model,
        entry_type=DeviceEntryType.SERVICE,
    )


class SmsAlertsEntity(Entity):
    """An entity of one provider account: named by its translation key, on the account's device, never polled."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, entry: SmsAlertsConfigEntry, key: str) -> None:
        """Attach the entity to the account device; its unique id is the entry's id and the key."""
        self._entry = entry
        self._attr_unique_id = f"{entry.entry_id}_{key}"
        self._attr_device_info = account_device(entry)
