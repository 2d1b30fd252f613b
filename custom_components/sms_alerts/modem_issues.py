"""A GSM modem's SIM and network problems as repair issues, found when the link sets the modem up or reads its status.

The outbox raises the SIM's issues when a send fails (outbox/gate.py); a modem whose SIM is missing,
locked by its PUK or unusable is found earlier, when the link opens the port (AT+CPIN?, TS 27.007
§8.3), with no alert waiting. Those issues have the gate's ids, so one cause is one issue; they clear
once the link sets the modem up. A PIN the SIM wants or refused starts reauthentication instead
(modem_link). The registration (+CREG/+CEREG <stat>, TS 27.007 §7.2 and §10.1.22) raises an issue when
the network denies it (3), or when the modem has not been registered for NOT_REGISTERED_AFTER; both
clear once it is registered (home or roaming).
"""

from __future__ import annotations

import time
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .api.base import EntryRejectedError, ProviderError
from .const import DOMAIN, LOGGER

# The SIM's problems the link finds while setting the modem up (keys of api/modem_errors.py)
SIM_ISSUES = ("no_sim", "sim_puk", "sim_locked")
REGISTRATION_DENIED = "registration_denied"
NOT_REGISTERED = "not_registered"
# How long a modem may search for a network (after a restart, a move, a short outage) before an issue
NOT_REGISTERED_AFTER = 15 * 60.0
_REGISTERED = ("home", "roaming")
_UNREGISTERED = ("not_registered", "searching", "denied")


class ModemIssues:
    """Raises and clears one modem entry's SIM and registration issues."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
        """Belong to one entry."""
        self._hass = hass
        self._entry = entry
        # When the modem was first seen without a network (monotonic seconds), None while registered
        self._unregistered_since: float | None = None
        self._denied = False

    def _issue_id(self, key: str) -> str:
        """One issue per entry and cause (the gate's ids for the SIM's issues)."""
        return f"{self._entry.entry_id}_{key}"

    def _create(self, key: str, **placeholders: str) -> None:
        """Raise one issue (again: its text follows the latest reading)."""
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            self._issue_id(key),
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=key,
            translation_placeholders={
                "entry": self._entry.title,
                "entry_url": f"/config/integrations/integration/{DOMAIN}#config_entry={self._entry.entry_id}",
                **placeholders,
            },
            data={"entry_id": self._entry.entry_id},
        )

    def _delete(self, *keys: str) -> None:
        """Clear issues."""
        for key in keys:
            ir.async_delete_issue(self._hass, DOMAIN, self._issue_id(key))

    @callback
    def link(self, up: bool, error: ProviderError | None) -> None:
        """Raise the SIM's issue the link ran into; clear them once the modem is set up."""
        if up:
            self._delete(*SIM_ISSUES)
        elif isinstance(error, EntryRejectedError) and error.key in SIM_ISSUES:
            self._delete(*(key for key in SIM_ISSUES if key != error.key))
            self._create(str(error.key), error=error.reason)

    @callback
    def registration(self, state: str | None, now: float | None = None) -> None:
        """Follow the registration read: denied at once, not registered after a while; registered clears."""
        now = time.monotonic() if now is None else now
        if state in _REGISTERED:
            self._unregistered_since = None
            self._denied = False
            self._delete(REGISTRATION_DENIED, NOT_REGISTERED)
            return
        if state not in _UNREGISTERED:
            return  # unknown: no change
        if self._unregistered_since is None:
            self._unregistered_since = now
        if state == "denied":
            if not self._denied:
                LOGGER.warning("%s: the mobile network denied the SIM's registration", self._entry.title)
            self._denied = True
            self._delete(NOT_REGISTERED)
            self._create(REGISTRATION_DENIED)
            return
        self._denied = False
        if now - self._unregistered_since >= NOT_REGISTERED_AFTER:
            self._delete(REGISTRATION_DENIED)
            self._create(NOT_REGISTERED, minutes=str(round((now - self._unregistered_since) / 60)))
