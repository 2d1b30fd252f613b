"""Runtime data of an SMS Alerts config entry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry

if TYPE_CHECKING:
    from .alert_sources import AlertSources
    from .api.base import Provider
    from .coordinator import Health
    from .outbox import Outbox


@dataclass(kw_only=True)
class SmsAlertsData:
    """What a loaded entry holds: its provider client, its outbox and its health."""

    provider: Provider
    outbox: Outbox
    health: Health = field(init=False, repr=False)
    alert_sources: AlertSources = field(init=False, repr=False)
    # What the entry was set up with: a change to anything else (see settings_of) needs no reload
    settings: tuple[Any, ...] = field(default=(), repr=False)


type SmsAlertsConfigEntry = ConfigEntry[SmsAlertsData]
