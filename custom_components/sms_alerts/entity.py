"""Devices of an entry: the account device that holds the entry's sensors."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo

from .api import ProviderKey
from .const import CONF_PROVIDER, DOMAIN
from .data import SmsAlertsConfigEntry

_MODELS: dict[ProviderKey, tuple[str, str]] = {
    ProviderKey.SMS_GATEWAY: ("brevis.one", "SMS Gateway"),
    ProviderKey.WILDIX: ("Wildix", "PBX with GSM gateway"),
    ProviderKey.PBXWARE: ("Bicom Systems", "PBXware"),
    ProviderKey.IPEX: ("IPEX", "SMS API"),
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
