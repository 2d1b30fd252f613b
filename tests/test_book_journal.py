"""The alert sources' journal (pure): the lines of each change, replayed over the last snapshot, give the last state."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.sms_alerts.alerts.book_journal import (
    DELIVERIES,
    SEEN,
    SNAPSHOT_SEQ,
    changes,
    flatten,
    record_key,
    replay,
)

SOURCES = ("src-a", "src-b")
FINGERPRINTS = ("f1", "f2", "f3", "f4")

alerts = st.lists(
    st.fixed_dictionaries(
        {
            "source": st.sampled_from(SOURCES),
            "fingerprint": st.sampled_from(FINGERPRINTS),
            "count": st.integers(1, 3),
            "notified": st.dictionaries(st.sampled_from(("+491", "+492")), st.sampled_from(("", "item-1"))),
        }
    ),
    max_size=6,
    unique_by=lambda alert: (alert["source"], alert["fingerprint"]),
)
windows = st.lists(
    st.fixed_dictionaries({"source": st.sampled_from(SOURCES), "held": st.lists(st.integers(0, 3), max_size=2)}),
    max_size=2,
    unique_by=lambda window: window["source"],
)
states = st.fixed_dictionaries(
    {
        "open": alerts,
        "escalations": alerts,
        "maintenance": windows,
        "next_code": st.integers(1, 9),
        "summaries": st.lists(st.sampled_from(("item-1", "item-2")), unique=True),
    }
)
seen = st.lists(st.tuples(st.sampled_from(("src-a:d1", "src-a:d2", "src-b:d3")), st.floats(0, 1e6)), max_size=3)


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.tuples(states, seen, st.booleans()), min_size=1, max_size=8), first=states)
def test_replay_of_the_lines_gives_the_last_state(
    steps: list[tuple[dict[str, Any], list[tuple[str, float]], bool]], first: dict[str, Any]
) -> None:
    """Whatever changes, with snapshots now and then: the snapshot and the newer lines read back as the last state."""
    deliveries: dict[str, float] = {}
    snapshot: dict[str, Any] = {**first, DELIVERIES: {}, SNAPSHOT_SEQ: 0}
    written = flatten(first)
    lines: list[dict[str, Any]] = []
    seq = 0
    state = first
    for state, new_deliveries, snapshot_now in steps:
        for key, when in new_deliveries:
            deliveries.pop(key, None)
            deliveries[key] = when
            seq += 1
            lines.append({"s": seq, "op": SEEN, "k": key, "t": when})
        for op, fields in changes(written, flatten(state)):
            seq += 1
            # As written to disk and read back
            lines.append(orjson.loads(orjson.dumps({"s": seq, "op": op, **fields})))
        written = flatten(state)
        if snapshot_now:
            snapshot = {**state, DELIVERIES: dict(deliveries), SNAPSHOT_SEQ: seq}
    read = replay(snapshot, lines)
    assert flatten(read) == flatten(state)
    assert list(read[DELIVERIES].items()) == list(deliveries.items())


def test_a_line_holds_only_what_changed() -> None:
    """One count more on one of many open alerts is one line with that alert, not the whole."""
    before = {"open": [{"source": "s", "fingerprint": f"f{n}", "count": 1} for n in range(100)], "next_code": 101}
    after = {"open": [dict(alert) for alert in before["open"]], "next_code": 101}
    after["open"][42]["count"] = 2
    del after["open"][7]
    lines = changes(flatten(before), flatten(after))
    assert lines == [
        ("put", {"sec": "open", "k": "s\x1ff42", "v": {"source": "s", "fingerprint": "f42", "count": 2}}),
        ("del", {"sec": "open", "k": "s\x1ff7"}),
    ]


def test_what_cannot_be_read_is_left_out() -> None:
    """A record without its key, a line that cannot be applied: left out, the rest read."""
    assert record_key("open", {"source": "s"}) is None
    assert record_key("open", "not a record") is None
    snapshot = {"open": [{"source": "s", "fingerprint": "f"}, {"no": "key"}], SNAPSHOT_SEQ: 1}
    lines = [
        {"s": 1, "op": "put", "sec": "open", "k": "old", "v": {}},
        {"s": 2, "op": "put", "sec": "open"},
        {"s": 3, "op": "seen", "k": "d", "t": "not a time"},
        {"s": 4, "op": "put", "sec": "unknown", "k": "x", "v": 1},
        {"s": 5, "op": "set", "sec": "next_code", "v": 7},
        {"s": 6, "op": "put", "sec": "escalations", "k": "s\x1ff", "v": {"source": "s", "fingerprint": "f"}},
    ]
    read = replay(snapshot, lines)
    assert read["open"] == [{"source": "s", "fingerprint": "f"}]
    assert read["escalations"] == [{"source": "s", "fingerprint": "f"}]
    assert read["next_code"] == 7
    assert read[DELIVERIES] == {}
    assert read[SNAPSHOT_SEQ] == 6
    assert replay(snapshot, lines[:1]) is snapshot
    assert replay(None, []) is None
