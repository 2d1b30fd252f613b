"""An outbox on disk: Home Assistant's Store file as a snapshot, and the journal of changes since, beside it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import STORAGE_DIR, Store

from .const import DOMAIN
from .journal import DEL, PUT, REF, SENT, SNAPSHOT_SEQ, STORM, UNSENT, JournalFile, JournalWriter, last_seq, replay
from .storm import StormGuard

STORAGE_VERSION = 1
# A snapshot is written once the journal holds more lines than this, and more than items wait:
# each line then costs a constant share of one snapshot, however many wait
COMPACT_AFTER = 1000


def storage_key(entry_id: str) -> str:
    """Name of an entry's outbox file in .storage."""
    return f"{DOMAIN}.{entry_id}.outbox"


def journal_folder(hass: HomeAssistant) -> Path:
    """Home Assistant's .storage folder, where the journal lies beside its outbox file."""
    return Path(hass.config.path(STORAGE_DIR))


def journal_path(hass: HomeAssistant, entry_id: str) -> Path:
    """Path of an entry's outbox journal."""
    return journal_folder(hass) / f"{storage_key(entry_id)}.journal"


class SnapshotStore(Store[dict[str, Any]]):
    """Home Assistant's Store, telling whether its last write reached the disk (it logs a failure, not raises it)."""

    saved = False

    async def _async_write_data(self, *args: Any) -> None:
        """Write, and note that it worked ((path, data) on 2025.4, (data) since)."""
        await super()._async_write_data(*args)
        self.saved = True


class OutboxStore:
    """Reads an outbox back, writes each change as a journal line at once, and a snapshot now and then."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Bind to the entry's outbox file and journal."""
        self._hass = hass
        self.store = SnapshotStore(hass, STORAGE_VERSION, storage_key(entry_id), private=True, atomic_writes=True)
        self.journal = JournalWriter(JournalFile(journal_path(hass, entry_id)), self._run, self._spawn)
        # Journal lines since the last snapshot (storm control's short lines aside)
        self.lines = 0
        self._snapshot_lock = asyncio.Lock()
        # A snapshot was asked for (compaction_due said so) and has not begun yet
        self._snapshot_asked = False
        # Storm control's guard, whose changes are written as lines too (follow_storm), and whether a line
        # of them is planned for the end of this turn of the event loop
        self._storm: StormGuard | None = None
        self._storm_due = False

    async def _run(self, job: Callable[[], None]) -> None:
        """Run a blocking write in a worker thread."""
        await self._hass.async_add_executor_job(job)

    def _spawn(self, coro: Any) -> None:
        """Start the journal's writing task now: it hands its first write to a worker thread at once."""
        self._hass.async_create_task(coro, f"{DOMAIN} outbox journal", eager_start=True)

    async def async_load(self) -> Any:
        """Return the stored form the outbox had when it last wrote: the snapshot with the journal replayed."""
        snapshot = await self.store.async_load()
        records = await self._hass.async_add_executor_job(self.journal.file.read)
        self.journal.seq = self.journal.written = last_seq(snapshot, records)
        self.lines = sum(record["op"] != STORM for record in records)
        return replay(snapshot, records)

    async def async_remove(self) -> None:
        """Delete the outbox file and its journal."""
        await self.store.async_remove()
        await self._hass.async_add_executor_job(self.journal.file.remove)

    def put(self, item: dict[str, Any]) -> int:
        """Write an item that is new or changed; return the number of its line."""
        return self._add(PUT, item=item)

    def delete(self, item_id: str) -> None:
        """Write that an item left the outbox."""
        self._add(DEL, id=item_id)

    def sent(self, message_id: str, item: dict[str, Any]) -> None:
        """Write a send remembered for its delivery report."""
        self._add(SENT, mid=message_id, item=item)

    def unsent(self, message_id: str) -> None:
        """Write that a remembered send is forgotten."""
        self._add(UNSENT, mid=message_id)

    def reference(self, number: int, text: str, targets: list[str]) -> None:
        """Write an acknowledgement reference."""
        self._add(REF, n=number, text=text, targets=targets)

    def follow_storm(self, guard: StormGuard) -> None:
        """Write storm control's changes as journal lines from now on, so that a crash keeps its counts.

        They go ahead of the next line written (in the same write), or at the end of the turn of the event
        loop they were made in, whichever comes first.
        """
        self._storm = guard
        guard.changes = []
        guard.noticed = self._storm_noticed

    def _storm_noticed(self) -> None:
        """Plan a line for storm control's changes at the end of this turn, unless one is planned."""
        if not self._storm_due:
            self._storm_due = True
            self._hass.loop.call_soon(self.write_storm)

    def write_storm(self) -> None:
        """Write storm control's changes not written yet, as a line of their own."""
        self._storm_due = False
        if self._storm is not None and self._storm.changes:
            events, self._storm.changes = self._storm.changes, []
            self._add(STORM, ev=events)

    def _add(self, op: str, **fields: Any) -> int:
        """Queue a journal line (written in the background, with the others of the moment); return its number.

        Storm control's changes not written yet go ahead of it, in a line of their own. Such short lines
        come only with the changes of items (or in their turn of the event loop): they do not count
        towards a snapshot, which comes as often as before.
        """
        if self._storm is not None and self._storm.changes:
            events, self._storm.changes = self._storm.changes, []
            self.journal.queue(STORM, {"ev": events})
        seq = self.journal.add(op, **fields)
        if seq and op != STORM:
            self.lines += 1
        return seq

    def compaction_due(self, waiting: int) -> bool:
        """Tell whether a snapshot is due: the journal is long, or lines could not be written.

        True once, until the snapshot the caller then starts has begun: a burst asks for one, not one per change.
        """
        if self._snapshot_asked or self._snapshot_lock.locked():
            return False
        self._snapshot_asked = self.journal.failed or self.lines > max(COMPACT_AFTER, waiting)
        return self._snapshot_asked

    async def async_written(self, seq: int | None = None) -> None:
        """Wait until line `seq` (every line queued so far) is on disk, or could not be written."""
        await self.journal.async_written(seq)

    async def async_snapshot(self, data_func: Callable[[], dict[str, Any]]) -> None:
        """Write a snapshot of everything, then drop the journal lines it holds (not if it could not be written)."""
        async with self._snapshot_lock:
            self._snapshot_asked = False
            # Storm control's changes so far are in the snapshot: their line goes before it, not after
            self.write_storm()
            seq = self.journal.seq
            data = {**data_func(), SNAPSHOT_SEQ: seq}
            lines, self.lines = self.lines, 0
            self.store.saved = False
            await self.store.async_save(data)
            if self.store.saved:
                self.journal.failed = False
                self.journal.keep_after(seq)
            else:
                self.lines += lines

    async def async_close(self, data_func: Callable[[], dict[str, Any]]) -> None:
        """Write a last snapshot and stop writing: the entry's next outbox owns the files."""
        await self.async_snapshot(data_func)
        await self.journal.async_close()
