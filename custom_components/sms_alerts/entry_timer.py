"""One timer of an entry's alert sources: set to the earliest due time, running its work in the entry's background."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_point_in_utc_time

from .const import DOMAIN


class EntryTimer:
    """Calls `work` once at the time last set, as a background task of the entry (cancelled when it unloads)."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        name: str,
        work: Callable[[], Coroutine[Any, Any, None]],
    ) -> None:
        """Bind the timer to an entry; `name` names its task."""
        self._hass = hass
        self._entry = entry
        self._name = name
        self._work = work
        self._unsub: CALLBACK_TYPE | None = None

    @callback
    def set(self, when: dt.datetime | None) -> None:
        """Run the work at `when` (a time already past: at once); None: not at all."""
        self.cancel()
        if when is not None:
            self._unsub = async_track_point_in_utc_time(self._hass, self._due, when)

    @callback
    def cancel(self) -> None:
        """Stop the timer (at unload)."""
        if self._unsub is not None:
            self._unsub()
            self._unsub = None

    @callback
    def _due(self, _now: dt.datetime) -> None:
        """Start the work in the background of the entry."""
        self._unsub = None
        self._entry.async_create_background_task(
            self._hass, self._work(), f"{DOMAIN} {self._name} {self._entry.entry_id}"
        )
