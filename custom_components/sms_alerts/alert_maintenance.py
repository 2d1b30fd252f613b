"""Maintenance windows of an entry's alert sources: kept with the book, one timer, the summary when one ends.

While a window is open the source's alerts are held (see `alerts/maintenance.py`): nothing is sent, no
escalation starts, and escalations already running are paused. When it ends, by hand, at its end time, or at
start-up for one that ended while Home Assistant was down, each routed recipient gets one summary SMS; the
alerts still firing count as told from then on, and those at or above the source's escalation severity start
their escalation (not one acknowledged meanwhile). Escalations paused by the window go on where they stood.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util

from .alert_escalations import Escalations, Pager
from .alerts.book import ACKNOWLEDGED
from .alerts.maintenance import Held, Window, resume, routed, summary_severity, summary_text, windows_from_stored
from .alerts.models import Alert
from .alerts.routing import recipients_for
from .const import LOGGER
from .entry_timer import EntryTimer

if TYPE_CHECKING:
    from .alert_source_config import SourceConfig


class Sources(Pager, Protocol):
    """What maintenance windows need of the alert sources: what escalations need, and the escalations."""

    escalations: Escalations


class Maintenance:
    """The maintenance windows of one entry's alert sources, and the one timer of the earliest end."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[Any], sources: Sources) -> None:
        """Start with no window open."""
        self._hass = hass
        self._entry = entry
        self._sources = sources
        self.windows: dict[str, Window] = {}
        self._timer = EntryTimer(hass, entry, "maintenance", self._async_run)
        self._now: Callable[[], dt.datetime] = dt_util.utcnow

    # Storage

    def load(self, stored: object) -> None:
        """Read the stored windows of sources that still exist."""
        self.windows = windows_from_stored(stored, self._sources.sources)

    def as_stored(self) -> list[dict[str, Any]]:
        """Return the stored form."""
        return [window.as_dict() for window in self.windows.values()]

    # What the alert sources ask

    def active(self, source_id: str) -> bool:
        """Whether a source's window is open."""
        return source_id in self.windows

    def hold(self, source_id: str, alert: Alert) -> bool:
        """Hold an alert that fired or resolved while its source's window is open; tell whether it was held."""
        window = self.windows.get(source_id)
        if window is None:
            return False
        window.hold(alert)
        LOGGER.debug("%s: %s is %s during maintenance; held", source_id, alert.shown_name, alert.status)
        return True

    def describe(self, source_id: str) -> dict[str, Any]:
        """Describe a source's window for its switch and diagnostics (no labels, no names)."""
        window = self.windows.get(source_id)
        if window is None:
            return {"active": False, "started": None, "ends": None, "held": 0}
        return {
            "active": True,
            "started": window.started.isoformat(),
            "ends": None if window.ends is None else window.ends.isoformat(),
            "held": window.count,
        }

    def ends(self, source_id: str) -> dt.datetime | None:
        """When a source's open window ends (None: until turned off, or no window)."""
        window = self.windows.get(source_id)
        return None if window is None else window.ends

    # Start and end

    async def async_start(self, source_id: str, ends: dt.datetime | None) -> None:
        """Open a source's window until `ends` (None: until it is turned off); an open one gets the new end."""
        async with self._sources.lock:
            window = self.windows.get(source_id)
            if window is None:
                window = self.windows[source_id] = Window(source=source_id, started=self._now())
                # Escalations already running are paused from now on (their timer leaves them out)
                self._sources.escalations.arm()
            window.ends = ends
            name = self._name(source_id)
            LOGGER.info(
                "%s: maintenance until %s; its alerts are held",
                name,
                "turned off" if ends is None else ends.isoformat(),
            )
            self._sources.changed()
            await self._sources.async_save()
            self.arm()

    async def async_end(self, source_id: str) -> None:
        """End a source's window now (nothing happens when none is open)."""
        async with self._sources.lock:
            await self._async_end(source_id)
            self.arm()

    async def _async_end(self, source_id: str) -> None:
        """End a window: the summary to each routed recipient, escalations started or resumed (lock held)."""
        window = self.windows.pop(source_id, None)
        source = self._sources.sources.get(source_id)
        if window is None or source is None:
            return
        now = self._now()
        book = self._sources.book
        firing = [held for held in window.held.values() if held.firing and (source_id, held.fingerprint) in book.open]
        LOGGER.info("%s: maintenance ended; %d alerts held, %d still firing", source.name, window.count, len(firing))
        if window.count:
            await self._async_summarize(source, window, firing)
        escalations = self._sources.escalations
        for key, tracked in list(escalations.tracked.items()):
            if tracked.source == source_id:
                escalations.tracked[key] = replace(tracked, escalation=resume(tracked.escalation, window.started, now))
        for held in firing:
            opened = book.open.get((source_id, held.fingerprint))
            # One acknowledged in the window is not paged: an acknowledgement ends an escalation, it never starts
            if opened is None or opened.status == ACKNOWLEDGED:
                continue
            if not escalations.escalating(source_id, held.fingerprint):
                escalations.start(source, opened, held.alert(source.kind))
        self._sources.changed()
        # Escalations due now page at once; this saves the book as well when a page went
        await escalations.async_page_due()
        await self._sources.async_save()

    async def _async_summarize(self, source: SourceConfig, window: Window, firing: list[Held]) -> None:
        """Send each routed recipient one summary of what the window held; those still firing count as told."""
        targets = self._sources.recipient_targets()
        everyone = list(targets)
        targets_of = {
            held.fingerprint: list(
                dict.fromkeys(
                    targets[key]
                    for key in recipients_for(held.labels, source.routes, source.recipients, everyone)
                    if key in targets
                )
            )
            for held in window.held.values()
        }
        grouped = routed(window.held.values(), targets_of)
        if window.overflow and not grouped:
            grouped = {target: [] for target in dict.fromkeys(targets.values())}
        if not grouped:
            LOGGER.warning("%s: maintenance ended, but no recipient is set up or routed for its summary", source.name)
            return
        still = {held.fingerprint for held in firing}
        for target, held in grouped.items():
            told = [item for item in held if item.fingerprint in still]
            text = summary_text(source.name, len(held) + window.overflow, told)
            fingerprints = [item.fingerprint for item in told]
            item_id = await self._sources.async_submit(source, text, target, summary_severity(told), fingerprints)
            if item_id is not None:
                self._sources.book.told(source.subentry_id, fingerprints, target, item_id)

    def _name(self, source_id: str) -> str:
        source = self._sources.sources.get(source_id)
        return source.name if source is not None else source_id

    # The timer

    @callback
    def arm(self) -> None:
        """Set the one timer to the earliest end of a timed window (one already past ends at once)."""
        ends = [window.ends for window in self.windows.values() if window.ends is not None]
        self._timer.set(min(ends) if ends else None)

    @callback
    def cancel(self) -> None:
        """Stop the timer (at unload)."""
        self._timer.cancel()

    async def _async_run(self) -> None:
        """End every window whose end has come, one at a time (not once the entry unloads: its next load does)."""
        async with self._sources.lock:
            if not self._sources.taking:
                return
            now = self._now()
            for source_id in [key for key, window in self.windows.items() if window.due(now)]:
                await self._async_end(source_id)
            self.arm()
