"""The base of the entry's entities, and the account device that holds them."""

from __future__ import annotations

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity

from .api import ProviderKey
from .api.base import Hardware
from .const import CONF_PROVIDER, DOMAIN
from .data import SmsAlertsConfigEntry
from .devices import entry_device

# Maker and model of each provider's device; a modem tells its own (AT+CGMI, AT+CGMM)
_MODELS: dict[ProviderKey, tuple[str, str]] = {
    ProviderKey.SMS_GATEWAY: ("brevis.one", "SMS Gateway"),
    ProviderKey.WILDIX: ("Wildix", "PBX with GSM gateway"),
    ProviderKey.PBXWARE: ("Bicom Systems", "PBXware"),
    ProviderKey.IPEX: ("IPEX", "SMS API"),
}
# An account of a web service; the other providers are devices on the user's own network or USB
_SERVICES = frozenset({ProviderKey.IPEX})


def account_device(entry: SmsAlertsConfigEntry) -> DeviceInfo:
    """Describe the device of the provider account.

    A modem's maker, model and firmware are what it answered; until it has (Home Assistant just
    started, the modem not yet opened) they are left out, so the registry keeps what it said before.
    """
    key = ProviderKey(entry.data[CONF_PROVIDER])
    provider = entry.runtime_data.provider
    info = DeviceInfo(
        identifiers={(DOMAIN, entry.entry_id)},
        name=entry.title,
        entry_type=DeviceEntryType.SERVICE if key in _SERVICES else None,
    )
    if key in _MODELS:
        info["manufacturer"], info["model"] = _MODELS[key]
    if (hardware := provider.hardware()) is not None:
        info.update(_told(hardware))  # type: ignore[typeddict-item]
    if (page := provider.web_page()) is not None:
        info["configuration_url"] = page
    return info


def _told(hardware: Hardware) -> dict[str, str]:
    """Return the parts of its description the device told itself."""
    told = {"manufacturer": hardware.manufacturer, "model": hardware.model, "sw_version": hardware.sw_version}
    return {name: value for name, value in told.items() if value}


@callback
def async_show_hardware(hass: HomeAssistant, entry: SmsAlertsConfigEntry) -> None:
    """Write what the device just told of itself into its registry entry, where that changed."""
    hardware = entry.runtime_data.provider.hardware()
    registry = dr.async_get(hass)
    device = entry_device(hass, entry.entry_id, entry.entry_id)
    if hardware is None or device is None:
        return  # a device made later takes it from account_device
    changes = {name: value for name, value in _told(hardware).items() if getattr(device, name) != value}
    if changes:
        registry.async_update_device(device.id, **changes)  # type: ignore[arg-type]


@callback
class SmsAlertsEntity(Entity):
    """An entity of one provider account: named by its translation key, on the account's device, never polled."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, entry: SmsAlertsConfigEntry, key: str) -> None:
        """Attach the entity to the account device; its unique id is the entry's id and the key."""
        self._entry = entry
        self._attr_unique_id = f"{entry.entry_id}_{key}"
        self._attr_device_info = account_device(entry)
