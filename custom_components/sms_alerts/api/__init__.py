"""Provider clients: plain aiohttp, nothing from Home Assistant or the rest of the integration."""

from __future__ import annotations

from enum import StrEnum

from . import brevisone, ipex, modem, pbxware, wildix
from .base import Provider


class ProviderKey(StrEnum):
    """The provider keys of the config flow menu, diagnostics and action results."""

    SMS_GATEWAY = "sms_gateway"
    WILDIX = "wildix"
    PBXWARE = "pbxware"
    IPEX = "ipex"
    MODEM = "modem"


PROVIDERS: dict[ProviderKey, type[Provider]] = {
    ProviderKey.SMS_GATEWAY: brevisone.BrevisOneProvider,
    ProviderKey.WILDIX: wildix.WildixProvider,
    ProviderKey.PBXWARE: pbxware.PbxwareProvider,
    ProviderKey.IPEX: ipex.IpexProvider,
    ProviderKey.MODEM: modem.ModemProvider,
}
