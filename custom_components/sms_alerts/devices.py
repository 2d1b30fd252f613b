"""The devices of an entry in Home Assistant's device registry."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from .const import DOMAIN


def entry_device(hass: HomeAssistant, entry_id: str, identifier: str) -> dr.DeviceEntry | None:
    """Return the entry's device of this identifier.

    Searched among the entry's devices: async_get_device is deprecated from 2026.x, and its
    replacement is missing from 2025.4.
    """
    wanted = (DOMAIN, identifier)
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry_id)
    return next((device for device in devices if wanted in device.identifiers), None)
