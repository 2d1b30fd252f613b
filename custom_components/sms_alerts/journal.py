"""The outbox journal: one JSON line per change, appended and synced to disk, replayed over the last snapshot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import orjson

_LOGGER = logging.getLogger(__package__)

# Operations of a journal line ("s" is its sequence number, "op" one of these)
PUT = "put"  # an item is this outbox's (new or changed): "item" is its stored form
DEL = "del"  # an item left the outbox (sent, handed over, given up, summed up): "id"
SENT = "sent"  # a send remembered for its delivery report: "mid" (provider message id), "item"
UNSENT = "unsent"  # a remembered send forgotten (its delivery failed): "mid"
REF = "ref"  # an acknowledgement reference: "n", "text", "targets"
STORM = "storm"  # storm control's changes since its last line: "ev", a list of events (see StormGuard.apply)
# The key under which `replay` hands over the storm control events of the lines newer than the snapshot
STORM_LOG = "storm_log"
# The snapshot's key for the last journal line it holds
SNAPSHOT_SEQ = "journal_seq"

type Runner = Callable[[Callable[[], None]], Awaitable[None]]
type Spawner = Callable[[Coroutine[Any, Any, None]], object]


def encode(seq: int, op: str, fields: Mapping[str, Any]) -> bytes:
    """Return one journal line."""
    return orjson.dumps({"s": seq, "op": op, **fields}) + b"\n"


def parse(raw: bytes) -> tuple[list[dict[str, Any]], int]:
    """Return the records of a journal and the length of its whole lines.

    A last line without its newline was torn by a crash while it was written: it is left out, as is
    any line that does not read as a record.
    """
    whole = raw.rfind(b"\n") + 1
    records: list[dict[str, Any]] = []
    for line in raw[:whole].splitlines():
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("s"), int) and isinstance(record.get("op"), str):
            records.append(record)
    return records, whole


def last_seq(snapshot: Any, records: Iterable[Mapping[str, Any]]) -> int:
    """Return the highest sequence number the snapshot or the journal holds."""
    seq = snapshot_seq(snapshot)
    for record in records:
        seq = max(seq, int(record["s"]))
    return seq


def snapshot_seq(snapshot: Any) -> int:
    """Return the last journal line a snapshot holds (0 for a file written before the journal)."""
    seq = snapshot.get(SNAPSHOT_SEQ, 0) if isinstance(snapshot, dict) else 0
    return seq if isinstance(seq, int) else 0


def replay(snapshot: Any, records: Iterable[Mapping[str, Any]]) -> Any:
    """Return the stored form the outbox had at its last journal line: the snapshot with the newer lines applied.

    Items keep the order they were first written in; the snapshot is returned as it is when no line is newer.
    Storm control's events of the newer lines are collected, in order, under STORM_LOG (its memory in the
    snapshot, "storm", is as of the snapshot: the events are done again over it).
    """
    after = snapshot_seq(snapshot)
    newer = [record for record in records if record["s"] > after]
    if not newer:
        return snapshot
    data: dict[str, Any] = dict(snapshot) if isinstance(snapshot, dict) else {}
    raw_items = data.get("items")
    items: dict[Any, Any] = {}
    for index, raw in enumerate(raw_items if isinstance(raw_items, list) else []):
        # An unreadable item stays, to be counted when it is read
        items[raw["id"] if isinstance(raw, dict) and isinstance(raw.get("id"), str) else ("unreadable", index)] = raw
    sent: dict[str, Any] = {}
    for entry in data.get("sent", []) if isinstance(data.get("sent"), list) else []:
        if isinstance(entry, list) and len(entry) == 2:  # noqa: PLR2004 - [message id, item]
            sent[str(entry[0])] = entry[1]
    references = {
        entry[0]: entry
        for entry in (data.get("references", []) if isinstance(data.get("references"), list) else [])
        if isinstance(entry, list) and entry
    }
    next_reference = data.get("next_reference", 1)
    storm: list[Any] = []
    for record in newer:
        if record["op"] == STORM:
            events = record.get("ev")
            storm.extend(events if isinstance(events, list) else [])
            continue
        with contextlib.suppress(KeyError, TypeError, ValueError):
            next_reference = _apply(record, items, sent, references, next_reference)
    data["items"] = list(items.values())
    data["references"] = list(references.values())
    data["next_reference"] = next_reference
    if sent:
        data["sent"] = [[message_id, item] for message_id, item in sent.items()]
    else:
        data.pop("sent", None)
    if storm:
        data[STORM_LOG] = storm
    data[SNAPSHOT_SEQ] = newer[-1]["s"]
    return data


def _apply(
    record: Mapping[str, Any],
    items: dict[Any, Any],
    sent: dict[str, Any],
    references: dict[Any, Any],
    next_reference: Any,
) -> Any:
    """Apply one journal line; return the next acknowledgement reference."""
    op = record["op"]
    if op == PUT:
        item = record["item"]
        items[str(item["id"])] = item
    elif op == DEL:
        items.pop(str(record["id"]), None)
    elif op == SENT:
        sent.pop(str(record["mid"]), None)
        sent[str(record["mid"])] = record["item"]
    elif op == UNSENT:
        sent.pop(str(record["mid"]), None)
    elif op == REF:
        number = int(record["n"])
        references.pop(number, None)
        references[number] = [number, record["text"], record["targets"]]
        next_reference = max(int(next_reference) if isinstance(next_reference, int) else 1, number + 1)
    return next_reference


class JournalFile:
    """The journal on disk: blocking calls, made in a worker thread."""

    def __init__(self, path: Path) -> None:
        """Bind to the journal's path (the file exists only while it holds lines)."""
        self.path = path

    def read(self) -> list[dict[str, Any]]:
        """Return the records; cut a torn last line off, so that the next line starts on a line of its own."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        records, whole = parse(raw)
        if whole < len(raw):
            with self.path.open("r+b") as file:
                file.truncate(whole)
                os.fsync(file.fileno())
        return records

    def append(self, data: bytes) -> None:
        """Add lines and sync them to disk; on an error, leave the file as it was."""
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)
        if created:
            self._sync_folder()

    def keep_after(self, seq: int) -> None:
        """Drop the lines a snapshot holds (those up to `seq`); remove the file when none is left."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        whole = raw.rfind(b"\n") + 1
        kept = [line for line, record in _lines(raw[:whole]) if record is not None and record["s"] > seq]
        if not kept:
            self.remove()
            return
        temp = self.path.with_name(f"{self.path.name}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"".join(kept))
            os.fsync(fd)
        finally:
            os.close(fd)
        temp.replace(self.path)
        self._sync_folder()

    def remove(self) -> None:
        """Delete the journal."""
        self.path.unlink(missing_ok=True)
        self._sync_folder()

    def _sync_folder(self) -> None:
        """Make a created, replaced or removed file last through a power cut."""
        with contextlib.suppress(OSError):
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _lines(raw: bytes) -> list[tuple[bytes, dict[str, Any] | None]]:
    """Split whole lines, each with its record (None where it does not read as one)."""
    result: list[tuple[bytes, dict[str, Any] | None]] = []
    for line in raw.splitlines(keepends=True):
        records, _whole = parse(line)
        result.append((line, records[0] if records else None))
    return result


class JournalWriter:
    """Writes the lines of one outbox in the background, those of a burst in one write; one write at a time."""

    def __init__(self, file: JournalFile, run: Runner, spawn: Spawner, seq: int = 0) -> None:
        """Write to `file` through `run` (a worker thread), from a task started by `spawn`, after line `seq`."""
        self.file = file
        self._run = run
        self._spawn = spawn
        # Last line given a number, and last line on disk
        self.seq = seq
        self.written = seq
        self._pending: list[bytes] = []
        self._keep_after: int | None = None
        self._busy = False
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._idle: list[asyncio.Future[None]] = []
        self._closed = False
        # Set once lines could not be written (a full disk): they are only in the next snapshot, which clears it
        self.failed = False

    def add(self, op: str, **fields: Any) -> int:
        """Queue a line and start writing it; return its number (0 once closed)."""
        seq = self.queue(op, fields)
        if seq:
            self._start()
        return seq

    def queue(self, op: str, fields: Mapping[str, Any]) -> int:
        """Queue a line to go with the next one `add` queues (in the same write); return its number (0 once closed)."""
        if self._closed:
            return 0
        self.seq += 1
        self._pending.append(encode(self.seq, op, fields))
        return self.seq

    def keep_after(self, seq: int) -> None:
        """Drop the lines up to `seq` (a snapshot that holds them is on disk), after the lines queued before."""
        if self._closed:
            return
        self._keep_after = max(seq, self._keep_after or 0)
        self._start()

    async def async_written(self, seq: int | None = None) -> None:
        """Wait until line `seq` (all lines queued so far) is on disk, or could not be written."""
        seq = self.seq if seq is None else seq
        if seq <= self.written:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((seq, future))
        self._start()
        await future

    async def async_close(self) -> None:
        """Take no more lines; return once what was queued is written (nothing runs on the file afterwards)."""
        self._closed = True
        if self._busy:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._idle.append(future)
            await future

    def _start(self) -> None:
        """Start the writing task unless it runs already."""
        if not self._busy:
            self._busy = True
            self._spawn(self._async_write())

    async def _async_write(self) -> None:
        """Write queued lines until none is left, then drop lines a snapshot holds."""
        try:
            while self._pending or self._keep_after is not None:
                if self._pending:
                    data, upto = b"".join(self._pending), self.seq
                    self._pending = []
                    await self._write(partial(self.file.append, data))
                    self.written = upto
                    self._wake()
                    continue
                keep_after, self._keep_after = self._keep_after, None
                if keep_after is not None:
                    await self._write(partial(self.file.keep_after, keep_after))
        finally:
            self._busy = False
            self._wake(everyone=True)
            for future in self._idle:
                if not future.done():
                    future.set_result(None)
            self._idle = []

    async def _write(self, job: Callable[[], None]) -> None:
        """Run one write; log a failure once (the lines are then only in memory, until the next snapshot)."""
        try:
            await self._run(job)
        except OSError as err:
            if not self.failed:
                _LOGGER.error(  # noqa: TRY400 - a full disk needs no traceback
                    "The journal %s cannot be written: %s", self.file.path.name, err.strerror
                )
            self.failed = True

    def _wake(self, *, everyone: bool = False) -> None:
        """Let those wait on that wait for lines now on disk."""
        waiting = []
        for seq, future in self._waiters:
            if everyone or seq <= self.written:
                if not future.done():
                    future.set_result(None)
            else:
                waiting.append((seq, future))
        self._waiters = waiting


class TrackedDict[V](dict[str, V]):
    """A dict that notes which keys were set or deleted since they were last taken (for the journal)."""

    def __init__(self, *args: Any) -> None:
        """Fill the dict; what it starts with counts as changed."""
        super().__init__(*args)
        self.changed: set[str] = set(self)

    def __setitem__(self, key: str, value: V) -> None:
        """Set and note."""
        super().__setitem__(key, value)
        self.changed.add(key)

    def __delitem__(self, key: str) -> None:
        """Delete and note."""
        super().__delitem__(key)
        self.changed.add(key)

    def pop(self, key: str, *default: Any) -> Any:
        """Pop and note."""
        self.changed.add(key)
        return super().pop(key, *default)

    def touch(self, key: str) -> None:
        """Note that the value of a key changed inside."""
        self.changed.add(key)

    def take_changes(self) -> set[str]:
        """Return the keys changed since the last call, and forget them."""
        changed, self.changed = self.changed, set()
        return changed
