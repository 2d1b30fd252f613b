"""The outbox journal on its own: lines appended and synced, a torn last line, compaction, replay."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from custom_components.sms_alerts.journal import (
    DEL,
    PUT,
    REF,
    SENT,
    SNAPSHOT_SEQ,
    STORM,
    STORM_LOG,
    UNSENT,
    JournalFile,
    JournalWriter,
    TrackedDict,
    encode,
    last_seq,
    parse,
    replay,
)


def item(item_id: str, text: str = "Freezer warm", **extra: Any) -> dict[str, Any]:
    """A stored item, as the outbox writes it."""
    return {"id": item_id, "text": text, "target": {"kind": "number", "value": "+491701234567"}, **extra}


def lines(*records: tuple[int, str, dict[str, Any]]) -> bytes:
    """Journal lines."""
    return b"".join(encode(seq, op, fields) for seq, op, fields in records)


def test_parse_leaves_out_a_torn_last_line_and_lines_that_are_no_records() -> None:
    """A crash in the middle of a write leaves part of a line: it is not read, and the whole lines are."""
    whole = lines((1, PUT, {"item": item("a")}), (2, DEL, {"id": "a"}))
    torn = encode(3, PUT, {"item": item("b")})[:-9]
    records, length = parse(whole + b"[1, 2]\n" + torn)
    assert [(r["s"], r["op"]) for r in records] == [(1, PUT), (2, DEL)]
    assert length == len(whole) + len(b"[1, 2]\n")


def test_replay_applies_newer_lines_over_the_snapshot_in_order() -> None:
    """Items keep their first place; deleted ones go; lines the snapshot holds already are skipped."""
    snapshot = {"items": [item("old"), item("gone")], SNAPSHOT_SEQ: 5, "next_reference": 3, "references": []}
    records, _ = parse(
        lines(
            (4, PUT, {"item": item("stale")}),  # before the snapshot: it holds this line's effect already
            (6, PUT, {"item": item("new", in_flight=True)}),
            (7, DEL, {"id": "gone"}),
            (8, PUT, {"item": item("old", attempts=2)}),
            (9, PUT, {"item": item("new", attempts=1)}),
            (10, REF, {"n": 7, "text": "Door open", "targets": ["+491701234567"]}),
            (11, SENT, {"mid": "m1", "item": item("x")}),
            (12, SENT, {"mid": "m2", "item": item("y")}),
            (13, UNSENT, {"mid": "m1"}),
        )
    )
    data = replay(snapshot, records)
    assert [(i["id"], i.get("attempts"), i.get("in_flight")) for i in data["items"]] == [
        ("old", 2, None),
        ("new", 1, None),
    ]
    assert data["references"] == [[7, "Door open", ["+491701234567"]]]
    assert data["next_reference"] == 8
    assert data["sent"] == [["m2", item("y")]]
    assert data[SNAPSHOT_SEQ] == 13
    assert last_seq(snapshot, records) == 13


def test_replay_collects_storm_events_of_the_lines_newer_than_the_snapshot_only() -> None:
    """Storm control's events after the snapshot are handed over in order; those it holds already are not."""
    snapshot = {"items": [], SNAPSHOT_SEQ: 2, "storm": {"day": "2026-12-07", "day_count": 1}}
    sent = ["sent", "+491701234567", "Freezer warm", 100.5, "2026-12-07", 1]
    records, _ = parse(
        lines(
            (1, STORM, {"ev": [["sent", "+491701234567", "old", 90.0, "2026-12-07", 1]]}),
            (2, DEL, {"id": "a"}),
            (3, STORM, {"ev": [sent]}),
            (4, DEL, {"id": "b"}),
            (5, STORM, {"ev": [["held", "+491701234567", "Door open", 101.0], ["rate", "+491701234567", 102.0]]}),
            (6, STORM, {"ev": "junk"}),
        )
    )
    data = replay(snapshot, records)
    assert data[STORM_LOG] == [sent, ["held", "+491701234567", "Door open", 101.0], ["rate", "+491701234567", 102.0]]
    assert data["storm"] == snapshot["storm"]  # as of the snapshot: the events are done again over it
    assert data[SNAPSHOT_SEQ] == 6
    # No newer storm line: nothing to hand over (an old file reads as before)
    assert STORM_LOG not in replay(snapshot, parse(lines((3, DEL, {"id": "a"})))[0])
    assert STORM_LOG not in replay({"items": [], SNAPSHOT_SEQ: 5}, records)


def test_replay_over_a_file_from_before_the_journal_keeps_everything() -> None:
    """The outbox file of earlier versions has no journal number: every line is newer, every old item stays."""
    old_file = {"items": [item("a"), {"broken": True}], "next_reference": 1, "references": []}
    assert replay(old_file, []) is old_file
    data = replay(old_file, parse(lines((1, PUT, {"item": item("b")})))[0])
    assert [i.get("id") for i in data["items"]] == ["a", None, "b"]  # the unreadable one is still counted at load
    assert replay(None, parse(lines((1, PUT, {"item": item("b")})))[0])["items"] == [item("b")]


def test_file_appends_privately_cuts_a_torn_line_and_keeps_only_lines_after_a_snapshot(tmp_path: Path) -> None:
    """Append, crash mid-line, read (the torn tail is cut, so the next line starts clean), compact, remove."""
    journal = JournalFile(tmp_path / "sms_alerts.x.outbox.journal")
    assert journal.read() == []
    journal.append(lines((1, PUT, {"item": item("a")}), (2, PUT, {"item": item("b")})))
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    with journal.path.open("ab") as file:
        file.write(encode(3, DEL, {"id": "a"})[:-5])  # the power went while this line was written
    assert [r["s"] for r in journal.read()] == [1, 2]
    journal.append(lines((4, DEL, {"id": "b"})))
    assert [r["s"] for r in journal.read()] == [1, 2, 4]
    journal.keep_after(2)
    assert [r["s"] for r in journal.read()] == [4]
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    journal.keep_after(4)
    assert not journal.path.exists()
    journal.append(lines((5, DEL, {"id": "c"})))
    journal.remove()
    assert not journal.path.exists()


def test_a_failed_append_leaves_no_partial_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk in the middle of a write: the file is cut back, so the next line is not glued to a torn one."""
    journal = JournalFile(tmp_path / "j")
    journal.append(lines((1, PUT, {"item": item("a")})))
    size = journal.path.stat().st_size

    def full(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        journal.append(lines((2, PUT, {"item": item("b")})))
    monkeypatch.undo()
    assert journal.path.stat().st_size == size


async def _writer(tmp_path: Path) -> tuple[JournalWriter, list[bytes]]:
    """A writer on a real file, writing in a worker thread, that records each write it makes."""
    loop = asyncio.get_running_loop()
    file = JournalFile(tmp_path / "j")
    writes: list[bytes] = []
    append = file.append

    def recording_append(data: bytes) -> None:
        writes.append(data)
        append(data)

    file.append = recording_append  # type: ignore[method-assign]

    async def run(job: Callable[[], None]) -> None:
        await loop.run_in_executor(None, job)

    def spawn(coro: Coroutine[Any, Any, None]) -> object:
        return loop.create_task(coro)

    return JournalWriter(file, run, spawn), writes


async def test_writer_groups_a_burst_into_few_writes_and_says_when_a_line_is_on_disk(tmp_path: Path) -> None:
    """A thousand lines queued at once go in two writes (the first line alone, the rest while it is written)."""
    writer, writes = await _writer(tmp_path)
    seqs = [writer.add(PUT, item=item(str(n))) for n in range(1000)]
    assert seqs == list(range(1, 1001))
    await writer.async_written(seqs[0])
    assert writer.written >= 1
    await writer.async_written()
    assert len(writes) <= 2
    assert [r["s"] for r in writer.file.read()] == seqs
    writer.keep_after(1000)
    await writer.async_close()
    assert not writer.file.path.exists()
    assert writer.add(DEL, id="1") == 0  # closed: the next outbox owns the file


async def test_writer_reports_a_full_disk_once_and_does_not_hang(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Lines that cannot be written are logged once; whoever waits for them is let go, and the writer says so."""
    writer, _writes = await _writer(tmp_path)

    def full(_data: bytes) -> None:
        raise OSError(28, "No space left on device")

    writer.file.append = full  # type: ignore[method-assign]
    writer.add(PUT, item=item("a"))
    writer.add(PUT, item=item("b"))
    await writer.async_written()
    writer.add(PUT, item=item("c"))
    await writer.async_written()
    assert writer.failed
    assert caplog.text.count("cannot be written: No space left on device") == 1


def test_tracked_dict_notes_what_changed() -> None:
    """Set, delete, pop and touch are noted; taking the changes forgets them."""
    tracked: TrackedDict[int] = TrackedDict({"a": 1})
    assert tracked.take_changes() == {"a"}
    tracked["b"] = 2
    del tracked["a"]
    tracked.pop("x", None)
    tracked.touch("b")
    assert tracked.take_changes() == {"a", "b", "x"}
    assert tracked.take_changes() == set()
    assert tracked == {"b": 2}
