"""The shared HTTP session an entry's client uses: TLS verification and, where asked, older encryption."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
from homeassistant.const import CONF_VERIFY_SSL
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util.ssl import SSLCipherList

from .api.brevisone import CONF_LEGACY_TLS


def async_entry_session(hass: HomeAssistant, data: Mapping[str, Any]) -> aiohttp.ClientSession:
    """Return Home Assistant's session for these settings; "Allow older encryption" takes its INSECURE cipher list."""
    cipher = SSLCipherList.INSECURE if data.get(CONF_LEGACY_TLS) else SSLCipherList.PYTHON_DEFAULT
    return async_get_clientsession(hass, verify_ssl=data.get(CONF_VERIFY_SSL, True), ssl_cipher=cipher)
