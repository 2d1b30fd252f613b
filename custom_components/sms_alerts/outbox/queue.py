"""The messages of one entry's outbox, each in one state of its lifecycle; the journal follows every move."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant

from ..api.base import Target
from ..const import DOMAIN
from ..journal import TrackedDict
from ..outbox_store import OutboxStore
from . import notices
from .lifecycle import HELD, QUEUED, UNDER_WAY, ItemState, advance
from .memory import Memory
from .models import IN_FLIGHT, QueuedItem


class Queue:
    """Waiting and held messages in order, and new ones under way; the only place an item changes state."""

    def __init__(self, hass: HomeAssistant, entry_id: str, memory: Memory, *, with_sent: bool) -> None:
        """Keep one entry's messages, written to its journal."""
        self._hass = hass
        self._entry_id = entry_id
        self._memory = memory
        self._with_sent = with_sent
        self.store = OutboxStore(hass, entry_id)
        # Waiting and held messages by id, oldest first; what changed is written to the journal
        self.items: TrackedDict[QueuedItem] = TrackedDict()
        # New messages whose first request is under way (or waits for its turn); written at once
        self.in_flight: dict[str, QueuedItem] = {}
        # One request at a time decides the order of a target's messages
        self.lock = asyncio.Lock()
        # Unloaded: the file belongs to the entry's next outbox from now on
        self.closed = False
        # The queue sensor is told once per turn of the event loop, however many items moved
        self._telling = False
        self._unsub_stop: CALLBACK_TYPE | None = None

    def unloaded(self) -> bool:
        """Tell whether the entry was unloaded (asked again after every wait: it changes meanwhile)."""
        return self.closed

    # The lifecycle

    def move(self, item: QueuedItem, state: ItemState) -> None:
        """Move an item to a state the lifecycle allows, and keep it where that state is kept.

        Queued states live in `items` (and the journal), new ones under way in `in_flight`; an item
        that left is in neither. The move is noted for the journal (written at the end of the step, with
        the other moves of that step) and the queue sensor hears of it.
        """
        advance(item, state)
        waiting = len(self.items)
        if state in QUEUED:
            self.in_flight.pop(item.id, None)
            if item.id in self.items:
                self.items.touch(item.id)
            else:
                self.items[item.id] = item
        elif state in UNDER_WAY:
            self.in_flight[item.id] = item
        else:
            self.in_flight.pop(item.id, None)
            if item.id in self.items:
                del self.items[item.id]
        if len(self.items) != waiting and not self._telling:
            self._telling = True
            self._hass.loop.call_soon(self._tell)

    def _tell(self) -> None:
        """Tell the queue sensor how many wait now."""
        self._telling = False
        if not self.closed:
            self.changed()

    def admit(self, items: Iterable[QueuedItem]) -> None:
        """Count new items as under way from the moment they are made: an unload then writes them too."""
        for item in items:
            self.in_flight[item.id] = item

    def load(self, items: Iterable[QueuedItem]) -> None:
        """Start with what the file held (already written: nothing to write again).

        Storm control's changes are written as journal lines from now on. When Home Assistant stops (it
        does not unload entries), everything is written once more.
        """
        self.items = TrackedDict({item.id: item for item in items})
        self.items.take_changes()
        if self._memory.storm is not None:
            self.store.follow_storm(self._memory.storm)

        async def stopping(_event: Event) -> None:
            self._unsub_stop = None
            await self._async_snapshot()

        self._unsub_stop = self._hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, stopping)

    def heads(self) -> list[QueuedItem]:
        """Return the oldest waiting message of each target: only it may be tried (order per target)."""
        heads: dict[Target, QueuedItem] = {}
        for item in self.items.values():
            if item.state is ItemState.WAITING:
                heads.setdefault(item.target, item)
        return list(heads.values())

    def waiting(self) -> list[QueuedItem]:
        """Messages waiting in the order of their targets' queues (held ones aside)."""
        return [item for item in self.items.values() if item.state is ItemState.WAITING]

    def held(self) -> list[QueuedItem]:
        """Messages held for quiet hours, the rate limit or a fallback being loaded."""
        return [item for item in self.items.values() if item.state in HELD]

    def waiting_for(self, target: Target) -> bool:
        """Tell whether messages wait for a target in the order of its queue (held ones aside)."""
        return any(item.target == target and item.state is ItemState.WAITING for item in self.items.values())

    # Writing

    def write_new(self, items: Iterable[QueuedItem]) -> int:
        """Start writing new items to the journal, marked as under way; return the number of the last line."""
        seq = 0
        if not self.closed:
            for item in items:
                seq = self.store.put({**item.to_stored(), IN_FLIGHT: True})
        return seq

    def write_settled(self, items: Iterable[QueuedItem]) -> None:
        """Write at once that new items which do not wait here left the outbox (sent, handed over, given up)."""
        if self.closed:
            return
        for item in items:
            if item.id not in self.items:
                self.store.delete(item.id)
        self.flush()

    def flush(self) -> None:
        """Start writing what changed to the journal (a line per changed item); a snapshot now and then."""
        if self.closed:
            return
        for item_id in self.items.take_changes():
            item = self.items.get(item_id)
            if item is not None:
                self.store.put(item.to_stored())
            elif item_id not in self.in_flight:
                self.store.delete(item_id)
        if self.store.compaction_due(len(self.items)):
            self._hass.async_create_task(self._async_snapshot(), f"{DOMAIN} outbox snapshot", eager_start=False)

    async def async_save(self) -> None:
        """Write what changed and wait until it is on disk: a crash a moment later must not lose it."""
        self.flush()
        await self.store.async_written()

    async def async_close(self) -> None:
        """Write everything as the Store file for the entry's next outbox, and write no more."""
        self.closed = True
        if self._unsub_stop is not None:
            self._unsub_stop()
            self._unsub_stop = None
        self.items.take_changes()
        await self.store.async_close(self.stored_data)

    async def _async_snapshot(self) -> None:
        """Write the whole outbox as the Store file, so the journal starts over."""
        if not self.closed:
            await self.store.async_snapshot(self.stored_data)

    def stored_data(self) -> dict[str, Any]:
        """Return the outbox file: waiting messages, then any whose first request is under way."""
        items = [item.to_stored() for item in self.items.values()]
        items += [{**item.to_stored(), IN_FLIGHT: True} for item in self.in_flight.values()]
        return {"items": items, **self._memory.stored(self._with_sent)}

    def changed(self) -> None:
        """Tell the queue sensor."""
        notices.queue_changed(self._hass, self._entry_id, len(self.items))
