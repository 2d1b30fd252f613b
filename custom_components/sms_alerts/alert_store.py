"""The open alerts on disk: each change a journal line, the whole now and then.

What the alert sources keep (open alerts, who was told, the deliveries seen, escalations, maintenance windows)
is Home Assistant's Store file (a snapshot) and a journal beside it, as for the outbox. Changes are written as
lines of what changed, never the whole: an acknowledgement, a snooze, a maintenance window and a page return only
once their lines are synced to disk; what a sender's body changed (the alert opened, who was told) is written
within WRITE_DELAY, with everything else that changed meanwhile, and a storm does not put that off. A crash
after that loses none of it; the SMS themselves were in the outbox's journal before the sender's answer.
The snapshot is written again once the journal is long.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store

from . import outbox_store
from .alerts.book_journal import DELIVERIES, SEEN, SNAPSHOT_SEQ, changes, flatten, replay
from .const import DOMAIN
from .journal import JournalFile, JournalWriter, last_seq

STORAGE_VERSION = 1
# A snapshot is written once the journal holds more lines than this, and than twice the records kept
COMPACT_AFTER = 2000
# Seconds at most until what a body changed is written (the changes of a storm's second in one write)
WRITE_DELAY = 1.0


def storage_key(entry_id: str) -> str:
    """Return the Store key of an entry's open alerts."""
    return f"{DOMAIN}.alerts.{entry_id}"


def _journal_file(hass: HomeAssistant, entry_id: str) -> JournalFile:
    """Return the journal beside an entry's open-alerts file."""
    return JournalFile(outbox_store.journal_folder(hass) / f"{storage_key(entry_id)}.journal")


async def async_remove_alert_store(hass: HomeAssistant, entry_id: str) -> None:
    """Delete the open alerts of a removed entry, and their journal."""
    await Store[dict[str, Any]](hass, STORAGE_VERSION, storage_key(entry_id)).async_remove()
    await hass.async_add_executor_job(_journal_file(hass, entry_id).remove)


class AlertStore:
    """Writes an entry's open alerts as journal lines when they change; a snapshot now and then."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        data_func: Callable[[], dict[str, Any]],
        deliveries: Callable[[], list[tuple[str, float]]],
    ) -> None:
        """Bind to the entry's files; `data_func` returns the stored form, `deliveries` those seen since last asked."""
        self._hass = hass
        self._store = outbox_store.SnapshotStore(
            hass, STORAGE_VERSION, storage_key(entry_id), private=True, atomic_writes=True
        )
        self.journal = JournalWriter(_journal_file(hass, entry_id), self._run, self._spawn)
        self._data_func = data_func
        self._deliveries = deliveries
        # The stored form as the journal last wrote it (flattened), and the lines since the last snapshot
        self._written: dict[str, Any] = {}
        self.lines = 0
        self._flush_handle: asyncio.Handle | None = None
        self._snapshot_lock = asyncio.Lock()
        self._closed = False

    async def _run(self, job: Callable[[], None]) -> None:
        """Run a blocking write in a worker thread."""
        await self._hass.async_add_executor_job(job)

    def _spawn(self, coro: Any) -> None:
        """Start the journal's writing task now: it hands its first write to a worker thread at once."""
        self._hass.async_create_task(coro, f"{DOMAIN} open alerts journal", eager_start=True)

    async def async_load(self) -> dict[str, Any] | None:
        """Return what was last written: the snapshot with the journal replayed (None for a new entry)."""
        snapshot = await self._store.async_load()
        records = await self._hass.async_add_executor_job(self.journal.file.read)
        self.journal.seq = self.journal.written = last_seq(snapshot, records)
        self.lines = len(records)
        data = replay(snapshot, records)
        if isinstance(data, dict):
            self._written = flatten(data)
            return data
        return None

    @callback
    def changed(self, *, soon: bool = False) -> None:
        """Note a change: written at the end of this moment, or within WRITE_DELAY (`soon`) with the others then.

        A change written soon is not put off by later ones: a storm writes once every WRITE_DELAY.
        """
        if self._closed:
            return
        if soon:
            if self._flush_handle is None:
                self._flush_handle = self._hass.loop.call_later(WRITE_DELAY, self._flush)
            return
        if isinstance(self._flush_handle, asyncio.TimerHandle):
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._flush_handle is None:
            self._flush_handle = self._hass.loop.call_soon(self._flush)

    @callback
    def _flush(self) -> None:
        """Queue the lines of what changed since the last ones (the journal writes them at once)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._closed:
            return
        lines = [(SEEN, {"k": key, "t": when}) for key, when in self._deliveries()]
        data = self._data_func()
        now = flatten(data)
        lines += changes(self._written, now)
        self._written = now
        # All queued first, then one write of them all starts at once
        for op, fields in lines[:-1]:
            if self.journal.queue(op, fields):
                self.lines += 1
        if lines:
            self._add(lines[-1][0], **lines[-1][1])
        # Each line costs a constant share of a snapshot, however much is kept: snapshots are rarer the more it is
        records = sum(len(section) for section in now.values() if isinstance(section, dict))
        kept = len(data.get(DELIVERIES) or ()) + records
        if self.lines > max(COMPACT_AFTER, 2 * kept) and not self._snapshot_lock.locked():
            self._hass.async_create_task(self.async_snapshot(), f"{DOMAIN} open alerts snapshot")

    def _add(self, op: str, **fields: Any) -> None:
        """Queue one line."""
        if self.journal.add(op, **fields):
            self.lines += 1

    async def async_written(self) -> None:
        """Wait until every change noted so far is on disk (or could not be written, which is logged once)."""
        if self._flush_handle is not None:
            self._flush()
        await self.journal.async_written()

    async def async_save(self) -> None:
        """Write what changed now and wait for it."""
        self.changed()
        await self.async_written()

    async def async_snapshot(self) -> None:
        """Write everything whole, then drop the journal lines it holds (not if it could not be written)."""
        async with self._snapshot_lock:
            if self._flush_handle is not None:
                self._flush()
            seq = self.journal.seq
            data = {**self._data_func(), SNAPSHOT_SEQ: seq}
            lines, self.lines = self.lines, 0
            self._store.saved = False
            await self._store.async_save(data)
            if self._store.saved:
                self.journal.failed = False
                self.journal.keep_after(seq)
            else:
                self.lines += lines

    async def async_close(self) -> None:
        """Write a last snapshot and stop: the entry's next load owns the files."""
        await self.async_snapshot()
        self._closed = True
        await self.journal.async_close()
