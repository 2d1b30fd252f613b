"""Who takes a message this entry cannot deliver: every fallback rule in one place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant

from ..const import DOMAIN, LOGGER
from .entry import OutboxEntry
from .models import QueuedItem, TargetResult
from .settings import OutboxSettings

# How often a message held for a fallback entry being set up or reloaded is looked at again
FALLBACK_WAIT = 60.0
# States of a fallback entry (not disabled) that end in its being loaded
_FALLBACK_COMING = (
    ConfigEntryState.NOT_LOADED,
    ConfigEntryState.SETUP_IN_PROGRESS,
    ConfigEntryState.SETUP_RETRY,
    ConfigEntryState.UNLOAD_IN_PROGRESS,
)


class Fallback(Protocol):
    """The outbox of a fallback entry, as the entry that hands messages over sees it."""

    @property
    def title(self) -> str:
        """The fallback entry's title."""

    async def async_take_over(self, items: Sequence[QueuedItem]) -> list[TargetResult]:
        """Take messages another entry could not deliver."""


def fallback_entry(hass: HomeAssistant, fallback_id: str | None) -> OutboxEntry | None:
    """Return the fallback entry, loaded or not, if there is one."""
    fallback = hass.config_entries.async_get_entry(fallback_id) if fallback_id else None
    return fallback if fallback is not None and fallback.domain == DOMAIN else None


def fallback_outbox(hass: HomeAssistant, fallback_id: str | None) -> Fallback | None:
    """Return the outbox of the fallback entry, if there is one and it is loaded."""
    fallback = fallback_entry(hass, fallback_id)
    if fallback is None or fallback.state is not ConfigEntryState.LOADED:
        return None
    outbox: Fallback = fallback.runtime_data.outbox
    return outbox


def fallback_coming(fallback: OutboxEntry) -> bool:
    """Tell whether a fallback entry that is not loaded will be in a moment (it is set up or reloaded)."""
    return fallback.disabled_by is None and fallback.state in _FALLBACK_COMING


def not_loaded(fallback: OutboxEntry) -> str:
    """Say, for the log, that a fallback entry is not loaded, and why."""
    why = "disabled" if fallback.disabled_by is not None else str(fallback.state.value).replace("_", " ")
    return f"{fallback.title} is not loaded ({why})"


class Router:
    """The fallback rules of one entry: a message goes to its fallback entry once, never back."""

    def __init__(self, hass: HomeAssistant, title: str, settings: OutboxSettings) -> None:
        """Route for one entry."""
        self._hass = hass
        self._title = title
        self._fallback_id = settings.fallback_entry_id

    def entry(self) -> OutboxEntry | None:
        """Return the fallback entry, loaded or not."""
        return fallback_entry(self._hass, self._fallback_id)

    def loaded(self) -> bool:
        """Tell whether the fallback entry is loaded."""
        return fallback_outbox(self._hass, self._fallback_id) is not None

    def fallback(self, item: QueuedItem) -> Fallback | None:
        """Return the loaded fallback entry's outbox, unless the message has been there already."""
        if self._fallback_id in item.visited:
            return None
        return fallback_outbox(self._hass, self._fallback_id)

    def pending(self, item: QueuedItem) -> OutboxEntry | None:
        """Return the fallback entry that would take the message if it were loaded, but is not."""
        if self._fallback_id in item.visited:
            return None
        fallback = self.entry()
        return fallback if fallback is not None and fallback.state is not ConfigEntryState.LOADED else None

    def coming_for(self, item: QueuedItem) -> bool:
        """Tell whether the fallback entry that would take the message is being set up or reloaded."""
        pending = self.pending(item)
        return pending is not None and fallback_coming(pending)

    def hand_over(self, items: list[QueuedItem], why: str) -> list[QueuedItem]:
        """Let the fallback take over the messages it may take; return those left.

        The fallback sends them in the background, as any send: the removal or the unload does not
        wait for its device. A message the fallback handed over itself is not handed back.
        """
        fallback = fallback_outbox(self._hass, self._fallback_id) if items else None
        if fallback is None:
            if items and (missing := self.entry()) is not None:
                LOGGER.warning(
                    "%s was %s with %s message(s) waiting; its fallback %s",
                    self._title,
                    why,
                    len(items),
                    not_loaded(missing),
                )
            return items
        handed = [item for item in items if self._fallback_id not in item.visited]
        if handed:
            LOGGER.warning(
                "%s was %s with %s message(s) waiting; its fallback takes them over", self._title, why, len(handed)
            )
            self._hass.async_create_background_task(fallback.async_take_over(handed), f"{DOMAIN} take over ({why})")
        return [item for item in items if self._fallback_id in item.visited]
