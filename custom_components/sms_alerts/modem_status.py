"""A GSM modem's signal (+CSQ) and network registration (+CREG / +CEREG), read every five minutes.

TS 27.007 §8.5 +CSQ: <rssi> 0-31 is -113 dBm + 2 dBm per step, 99 not known. §7.2 +CREG and §10.1.22
+CEREG <stat>: 0 not registered and not searching, 1 registered (home), 2 searching, 3 registration
denied, 4 unknown, 5 registered (roaming). A modem on LTE only may answer +CREG with 0 and +CEREG with 1:
the better of the two is shown.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .api.base import ProviderError
from .api.modem import ModemProvider
from .const import DOMAIN, LOGGER
from .modem_issues import ModemIssues

STATUS_INTERVAL = dt.timedelta(minutes=5)
REGISTRATION_STATES = ("not_registered", "home", "searching", "denied", "unknown", "roaming")
# The better registration first: registered beats searching beats the rest
_PREFERENCE = ("home", "roaming", "searching", "denied", "not_registered", "unknown")


def registration(status: dict[str, Any]) -> str | None:
    """Return the better of +CREG and +CEREG as a state name, or None if the modem gave neither."""
    states = [
        REGISTRATION_STATES[stat]
        for stat in (status.get("creg"), status.get("cereg"))
        if isinstance(stat, int) and 0 <= stat < len(REGISTRATION_STATES)
    ]
    return min(states, key=_PREFERENCE.index) if states else None


class ModemStatusCoordinator(DataUpdateCoordinator[dict[str, Any]]):
    """Reads the modem's signal and registration; unavailable while the modem is not linked."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry[Any], provider: ModemProvider, issues: ModemIssues
    ) -> None:
        """Read every five minutes, and whenever the link comes up."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{entry.title} modem status",
            update_interval=STATUS_INTERVAL,
            always_update=False,
        )
        self._provider = provider
        self._issues = issues

    async def _async_update_data(self) -> dict[str, Any]:
        """Ask the modem (AT+CSQ, AT+CREG?, AT+CEREG?), between sends: one command at a time."""
        try:
            status = await self._provider.async_signal()
        except ProviderError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="modem_status_failed",
                translation_placeholders={"error": err.reason},
            ) from err
        self._issues.registration(registration(status))
        return status
