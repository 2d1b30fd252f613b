"""Provider clients: plain aiohttp, nothing from Home Assistant or the rest of the integration."""

from __future__ import annotations

from enum import StrEnum

from .base import Provider
from .brevisone import BrevisOneProvider


class ProviderKey(StrEnum):
    """The provider keys of the config flow menu, diagnostics and action results."""

    SMS_GATEWAY = "sms_gateway"


PROVIDERS: dict[ProviderKey, type[Provider]] = {
    ProviderKey.SMS_GATEWAY: BrevisOneProvider,
}
