"""Storm control: duplicates, per-recipient rate limit with summaries, daily budget, severity and quiet hours."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sms_alerts.const import DOMAIN
from custom_components.sms_alerts.message import sms_info
from custom_components.sms_alerts.storm import QuietHours, StormGuard, StormSettings, Verdict, summary_text

from .conftest import RECIPIENT, RunningSimulator, advance, gateway_entry_for, on_disk, send, show_reports

TARGETS = [RECIPIENT, "group:Oncall", "contact:Alice"]


async def setup_entry(hass: HomeAssistant, sim: RunningSimulator, **options: Any) -> MockConfigEntry:
    """An SMS Gateway entry with storm options."""
    entry = gateway_entry_for(sim, options=options)
    entry.add_to_hass(hass)
    hass.config.country = "DE"
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


async def night_entry_with_quiet_hours(
    hass: HomeAssistant, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> MockConfigEntry:
    """23:00 in Berlin, and an entry whose recipient has quiet hours from 22:00 to 07:00."""
    await hass.config.async_set_time_zone("Europe/Berlin")
    freezer.move_to(dt.datetime(2026, 11, 23, 23, 0, tzinfo=dt_util.get_time_zone("Europe/Berlin")))
    entry = await setup_entry(hass, gateway)
    subentry_id = next(iter(entry.subentries))
    hass.config_entries.async_update_subentry(
        entry,
        entry.subentries[subentry_id],
        data={"target": RECIPIENT, "quiet_start": "22:00:00", "quiet_end": "07:00:00"},
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


def test_guard_deduplicates_throttles_and_spares_critical() -> None:
    """Within the window the same text is a duplicate; past the rate a target is throttled; critical passes."""
    guard = StormGuard(settings=StormSettings(dedup_window=300, rate_limit=2))
    decide = guard.decide
    assert decide(target="a", text="x", severity="warning", now=0, today="d") is Verdict.SEND
    guard.note_sent(target="a", text="x", now=0, today="d")
    assert decide(target="a", text="x", severity="warning", now=10, today="d") is Verdict.DEDUPLICATED
    assert decide(target="a", text="x", severity="critical", now=10, today="d") is Verdict.SEND
    guard.note_sent(target="a", text="y", now=11, today="d")
    assert decide(target="a", text="z", severity="info", now=12, today="d") is Verdict.THROTTLED
    assert decide(target="b", text="z", severity="info", now=12, today="d") is Verdict.SEND
    assert guard.window_end("a", 12) == 60
    assert decide(target="a", text="z", severity="info", now=61, today="d") is Verdict.SEND
    assert decide(target="a", text="x", severity="info", now=301, today="d") is Verdict.SEND


def test_guard_keeps_exact_limits_between_sweeps_and_forgets_old_sends() -> None:
    """Each decision prunes its own target; the periodic sweep empties the memory of sends past the windows."""
    guard = StormGuard(settings=StormSettings(dedup_window=30, rate_limit=1))
    guard.note_sent(target="a", text="x", now=0, today="d")
    guard.note_sent(target="b", text="x", now=1, today="d")
    assert guard.decide(target="a", text="y", severity="info", now=59, today="d") is Verdict.THROTTLED
    # 60 s after its send, "a" has room again although no sweep ran since the one at 59 s
    assert guard.decide(target="a", text="y", severity="info", now=60, today="d") is Verdict.SEND
    assert guard.decide(target="a", text="x", severity="info", now=60, today="d") is Verdict.SEND
    assert "b" in guard.sent_times
    guard.decide(target="c", text="z", severity="info", now=200, today="d")
    assert guard.sent_times == {}
    assert guard.recent == {}


def test_guard_without_dedup_remembers_no_texts() -> None:
    """With the duplicate window off, no text is kept: thousands of distinct alerts take no memory."""
    guard = StormGuard(settings=StormSettings(dedup_window=0, rate_limit=0))
    for i in range(1000):
        guard.note_sent(target="t", text=f"alert {i}", now=i / 100, today="d")
    assert guard.recent == {}
    assert guard.day_count == 1000


def test_guard_budget_resets_each_day() -> None:
    """The daily budget counts every SMS of the day and starts again the next day."""
    guard = StormGuard(settings=StormSettings(dedup_window=0, rate_limit=0, daily_budget=2))
    for text in ("a", "b"):
        guard.note_sent(target="t", text=text, now=0, today="mon")
    assert guard.decide(target="t", text="c", severity="warning", now=1, today="mon") is Verdict.OVER_BUDGET
    assert guard.decide(target="t", text="c", severity="critical", now=1, today="mon") is Verdict.SEND
    assert guard.decide(target="t", text="c", severity="warning", now=2, today="tue") is Verdict.SEND


@pytest.mark.parametrize(
    ("start", "end", "now", "until"),
    [
        ("22:00", "07:00", "23:30", "tomorrow 07:00"),
        ("22:00", "07:00", "06:59", "today 07:00"),
        ("22:00", "07:00", "07:00", None),
        ("22:00", "07:00", "12:00", None),
        ("12:00", "14:00", "13:00", "today 14:00"),
        ("12:00", "14:00", "14:30", None),
        ("08:00", "08:00", "08:00", None),
    ],
)
def test_quiet_hours(start: str, end: str, now: str, until: str | None) -> None:
    """Quiet hours may span midnight; their end is the next end after now."""
    zone = dt.timezone(dt.timedelta(hours=1))
    base = dt.datetime(2026, 11, 23, tzinfo=zone)
    at = base.replace(hour=int(now[:2]), minute=int(now[3:]))
    result = QuietHours(start=dt.time.fromisoformat(start), end=dt.time.fromisoformat(end)).until(at)
    if until is None:
        assert result is None
    else:
        day, time = until.split()
        expected = base.replace(hour=int(time[:2]), minute=int(time[3:])) + dt.timedelta(days=day == "tomorrow")
        assert result == expected


def test_summary_puts_the_most_severe_and_newest_first_within_one_sms() -> None:
    """A summary counts the alerts and fits one SMS."""
    texts = [("info", "door open", 1.0), ("critical", "fire", 2.0), ("warning", "freezer warm", 3.0)]
    assert summary_text(texts, 160) == "3 alerts: fire | freezer warm | door open"
    long = [("warning", f"alert number {i} with some words", float(i)) for i in range(30)]
    cut = summary_text(long, 160)
    assert len(cut) == 160
    assert cut.startswith("30 alerts: alert number 29 with some words | alert number 28")
    assert cut.endswith("...")


async def test_storm_of_200_alerts_to_3_targets_is_accounted_for(
    hass: HomeAssistant, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """200 alerts in a minute to 3 targets: 10 each go out, duplicates are counted, the rest is one summary each."""
    entry = await setup_entry(hass, gateway, rate_limit=10, dedup_minutes=5)
    statuses: Counter[str] = Counter()
    for i in range(200):
        text = f"Sensor {i % 150} over threshold"  # 50 repeats of earlier texts
        response = await send(hass, entry, message=text, target=TARGETS)
        statuses.update(result["status"] for result in response["results"])
        freezer.tick(timedelta(milliseconds=250))
    assert sum(statuses.values()) == 600
    assert statuses["sent"] == 30
    assert statuses["sent"] + statuses["throttled"] + statuses["deduplicated"] == 600
    assert len(gateway.sim.messages) == 30
    await advance(hass, freezer, 60)
    await advance(hass, freezer, 5)
    summaries = list(gateway.sim.messages[30:])
    assert len(summaries) == 3
    assert {m.to for m in summaries} == {"00491701234567", "group:Oncall", "user:Alice"}
    assert all(m.text.startswith(f"{statuses['throttled'] // 3} alerts: ") for m in summaries)
    assert all(len(m.text) <= 160 for m in summaries)
    assert entry.runtime_data.outbox.items == []


async def test_critical_alerts_pass_storm_control(
    hass: HomeAssistant, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """A critical alert is never throttled or deduplicated."""
    entry = await setup_entry(hass, gateway, rate_limit=1, dedup_minutes=5)
    await send(hass, entry, message="first", target=[RECIPIENT])
    throttled = await send(hass, entry, message="second", target=[RECIPIENT])
    assert throttled["results"][0]["status"] == "throttled"
    for _ in range(2):
        critical = await send(hass, entry, message="FIRE", target=[RECIPIENT], severity="critical")
        assert critical["results"][0]["status"] == "sent"
    assert [m.text for m in gateway.sim.messages] == ["first", "FIRE", "FIRE"]
    await advance(hass, freezer, 61)
    assert [m.text for m in gateway.sim.messages][-1] == "second"


async def test_duplicate_is_reported_and_not_sent(hass: HomeAssistant, gateway: RunningSimulator) -> None:
    """The same alert twice inside the window: the second is counted, not sent."""
    entry = await setup_entry(hass, gateway)
    await send(hass, entry, message="Disk full", target=[RECIPIENT])
    response = await send(hass, entry, message="Disk full", target=[RECIPIENT])
    assert response["results"][0]["status"] == "deduplicated"
    assert response["results"][0]["error"] == "the same alert went to this target in the last 5 min"
    assert len(gateway.sim.messages) == 1
    await show_reports(hass)
    state = hass.states.get("sensor.sms_gateway_127_0_0_1_last_send_status")
    assert state is not None
    assert state.state == "sent"
    assert (state.attributes["deduplicated"], state.attributes["throttled"]) == (1, 0)
    assert "error" not in state.attributes


async def test_failed_send_is_not_a_duplicate(hass: HomeAssistant, gateway: RunningSimulator) -> None:
    """An alert that failed may be sent again at once: only what went out counts as a duplicate."""
    entry = await setup_entry(hass, gateway)
    gateway.sim.groups.clear()
    with pytest.raises(HomeAssistantError):
        await send(hass, entry, message="x", target=["group:Oncall"])
    gateway.sim.groups["1"] = "Oncall"
    assert (await send(hass, entry, message="x", target=["group:Oncall"]))["results"][0]["status"] == "sent"


def test_guard_memory_is_written_and_read_back() -> None:
    """What the guard wrote decides as before in a new guard; a part that cannot be read starts afresh alone."""
    settings = StormSettings(dedup_window=300, rate_limit=2, daily_budget=3)
    guard = StormGuard(settings=settings)
    guard.decide(target="a", text="x", severity="warning", now=0, today="d")
    guard.note_sent(target="a", text="x", now=0, today="d")
    guard.note_sent(target="a", text="y", now=1, today="d")
    guard.note_held(target="b", text="z", now=2)
    guard.note_rate_release("a", 3)
    stored = json.loads(json.dumps(guard.stored()))
    again = StormGuard(settings=settings)
    again.restore(stored)
    assert again.decide(target="a", text="x", severity="warning", now=10, today="d") is Verdict.DEDUPLICATED
    assert again.decide(target="b", text="z", severity="warning", now=10, today="d") is Verdict.DEDUPLICATED
    assert again.decide(target="a", text="new", severity="warning", now=10, today="d") is Verdict.THROTTLED
    assert again.budget_left() == 1
    assert again.release_at("a", 10) == 63
    broken = StormGuard(settings=settings)
    broken.restore({**stored, "recent": "junk", "held": [[1]], "day_count": -1})
    # The send times were readable (throttled), the texts and the day's count were not (no duplicate, no count)
    assert broken.decide(target="a", text="x", severity="warning", now=10, today="d") is Verdict.THROTTLED
    assert broken.decide(target="b", text="z", severity="warning", now=10, today="d") is Verdict.SEND
    assert broken.budget_left() == 3
    for junk in (None, [], {"recent": [["a"]]}):
        StormGuard(settings=settings).restore(junk)


def test_guard_changes_done_again_over_what_was_stored_give_the_same_guard() -> None:
    """Events recorded after `stored`, applied after `restore`: the same windows, minute, day and count.

    The day turns at a decision alone too (a duplicate sends nothing): the new day starts its count at 0.
    """
    settings = StormSettings(dedup_window=300, rate_limit=2, daily_budget=5)
    guard = StormGuard(settings=settings)
    guard.note_sent(target="a", text="x", now=0, today="d1", parts=2)
    stored = json.loads(json.dumps(guard.stored()))
    guard.changes = []
    assert guard.decide(target="a", text="x", severity="warning", now=100, today="d2") is Verdict.DEDUPLICATED
    guard.note_sent(target="a", text="y", now=100, today="d2", parts=2)
    guard.note_held(target="b", text="z", now=101)
    guard.note_released(target="b", text="z", now=110)
    guard.note_held(target="c", text="w", now=111)
    guard.forget(target="c", text="w")
    guard.note_rate_release("a", 112)
    guard.note_sent(target="a", text="v", now=120, today="d2")
    events = json.loads(json.dumps(guard.changes))
    assert [event[0] for event in events] == ["day", "sent", "held", "released", "held", "forget", "rate", "sent"]
    again = StormGuard(settings=settings)
    again.restore(stored)
    again.apply(events)
    assert again.stored() == guard.stored()
    assert (again.day, again.day_count, again.budget_left()) == ("d2", 3, 2)
    assert again.changes is None  # what it applied is not recorded again
    for one in (guard, again):
        assert one.decide(target="b", text="z", severity="warning", now=130, today="d2") is Verdict.DEDUPLICATED
        assert one.decide(target="c", text="w", severity="warning", now=130, today="d2") is Verdict.SEND
        assert one.decide(target="a", text="new", severity="warning", now=130, today="d2") is Verdict.THROTTLED
        assert one.release_at("a", 130) == 172
    # Only the day turned since the last write: the count starts afresh after a crash as it did before
    turned = StormGuard(settings=settings)
    turned.restore(stored)
    turned.apply(events[:1])
    assert (turned.day, turned.day_count) == ("d2", 0)
    # Unreadable events are skipped, the others done
    skipped = StormGuard(settings=settings)
    skipped.apply([["sent", "a"], ["unknown", 1], "junk", ["sent", "a", "t", 5, "d2", 1]])
    assert (skipped.day, skipped.day_count) == ("d2", 1)
    skipped.apply("junk")


def test_a_guard_without_a_journal_records_nothing() -> None:
    """Pure users of the guard attach no list: nothing is recorded, nothing grows."""
    guard = StormGuard(settings=StormSettings(dedup_window=300, rate_limit=2, daily_budget=5))
    guard.decide(target="a", text="x", severity="warning", now=0, today="d")
    guard.note_sent(target="a", text="x", now=0, today="d")
    guard.note_held(target="a", text="y", now=1)
    assert guard.changes is None
    noticed: list[int] = []
    guard.changes, guard.noticed = [], lambda: noticed.append(len(guard.changes or []))
    guard.note_sent(target="a", text="z", now=2, today="d")
    guard.note_rate_release("a", 3)
    # Told once, at the first event of a batch
    assert noticed == [0]
    assert guard.changes == [["sent", "a", "z", 2, "d", 1], ["rate", "a", 3]]


async def test_storm_memory_outlives_a_reload_and_is_written_when_home_assistant_stops(
    hass: HomeAssistant, gateway: RunningSimulator, hass_storage: dict[str, Any]
) -> None:
    """A reload keeps the duplicate window and the day's count; a stop (no unload) writes them for the next start."""
    entry = await setup_entry(hass, gateway, daily_budget=3, dedup_minutes=5)
    await send(hass, entry, message="a", target=[RECIPIENT])
    # Written whole with everything; line by line, only its changes
    assert "storm" not in on_disk(hass_storage, entry.entry_id)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert (await send(hass, entry, message="a", target=[RECIPIENT]))["results"][0]["status"] == "deduplicated"
    await send(hass, entry, message="b", target=[RECIPIENT])
    await send(hass, entry, message="c", target=[RECIPIENT])
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    storm = on_disk(hass_storage, entry.entry_id)["storm"]
    assert storm["day_count"] == 3
    assert sorted(text for _target, text, _when in storm["recent"]) == ["a", "b", "c"]
    assert [m.text for m in gateway.sim.messages] == ["a", "b", "c"]


async def test_daily_budget_fails_with_a_repair_issue(hass: HomeAssistant, gateway: RunningSimulator) -> None:
    """Past the budget an alert fails with the reason and a repair issue; critical still goes."""
    entry = await setup_entry(hass, gateway, daily_budget=2)
    await send(hass, entry, message="a", target=[RECIPIENT])
    await send(hass, entry, message="b", target=[RECIPIENT])
    with pytest.raises(HomeAssistantError, match="the daily budget of 2 SMS is spent"):
        await send(hass, entry, message="c", target=[RECIPIENT])
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"{entry.entry_id}_daily_budget") is not None
    assert (await send(hass, entry, message="d", target=[RECIPIENT], severity="critical"))["results"][0][
        "status"
    ] == "sent"
    assert [m.text for m in gateway.sim.messages] == ["a", "b", "d"]


async def test_quiet_hours_hold_warnings_and_pass_critical(
    hass: HomeAssistant, gateway: RunningSimulator, freezer: FrozenDateTimeFactory, hass_storage: dict[str, Any]
) -> None:
    """At night a warning waits for the morning (kept on disk); a critical alert goes at once."""
    entry = await night_entry_with_quiet_hours(hass, gateway, freezer)
    held = await send(hass, entry, message="Freezer warm")
    assert held["results"][0]["status"] == "queued"
    assert held["results"][0]["error"] == "quiet hours until 07:00"
    freezer.tick(timedelta(seconds=1))
    await send(hass, entry, message="Door open")
    critical = await send(hass, entry, message="FIRE", severity="critical")
    assert critical["results"][0]["status"] == "sent"
    assert [m.text for m in gateway.sim.messages] == ["FIRE"]
    stored = on_disk(hass_storage, entry.entry_id)["items"]
    assert [(i["text"], i["hold_kind"]) for i in stored] == [("Freezer warm", "quiet"), ("Door open", "quiet")]
    await advance(hass, freezer, 7.5 * 3600)
    assert [m.text for m in gateway.sim.messages] == ["FIRE"]
    await advance(hass, freezer, 0.6 * 3600)
    assert [m.text for m in gateway.sim.messages] == ["FIRE", "2 alerts: Door open | Freezer warm"]


async def test_a_summary_of_gsm_texts_is_cut_to_one_whole_sms_not_to_70_characters(
    hass: HomeAssistant, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """Found by tests/test_alert_model.py: a summary over one SMS was cut to UCS-2's 70 characters.

    Its `|` take two GSM-7 septets each, so it passes 160 septets before 160 characters; it must still keep
    as much as one SMS holds (README: "cut to one SMS"), ending in "...".
    """
    entry = await night_entry_with_quiet_hours(hass, gateway, freezer)
    for number in range(4):
        await send(hass, entry, message=f"Freezer {number} in the cold store is warm: 12 degrees for an hour")
    await advance(hass, freezer, 8.1 * 3600)
    [summary] = [m.text for m in gateway.sim.messages]
    assert summary.startswith("4 alerts: Freezer 0 in the cold store is warm")
    assert summary.endswith("...")
    assert sms_info(summary).parts == 1
    assert len(summary) > 140


async def test_quiet_hours_need_both_ends(hass: HomeAssistant, loaded_gateway: MockConfigEntry) -> None:
    """A recipient with only a start of quiet hours is refused."""
    result = await hass.config_entries.subentries.async_init(
        (loaded_gateway.entry_id, "recipient"), context={"source": "user"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Night", "target": "group:Oncall", "quiet_start": "22:00:00"}
    )
    assert result["errors"] == {"base": "quiet_hours_incomplete"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {"name": "Night", "target": "group:Oncall", "quiet_start": "22:00:00", "quiet_end": "06:30:00"},
    )
    assert result["type"] == "create_entry"
    await hass.async_block_till_done(wait_background_tasks=True)
    subentry = next(s for s in loaded_gateway.subentries.values() if s.title == "Night")
    assert isinstance(subentry, ConfigSubentry)
    assert subentry.data["quiet_end"] == "06:30:00"


async def test_gsm_only_transliterates_and_reports_the_encoding(hass: HomeAssistant, gateway: RunningSimulator) -> None:
    """With GSM-7 only, Czech and emoji become plain GSM-7 text in one SMS."""
    entry = await setup_entry(hass, gateway, gsm_only=True)
    response = await send(hass, entry, message="Příliš žluťoučký kůň 🚨", target=[RECIPIENT])
    result = response["results"][0]
    assert (result["encoding"], result["parts"]) == ("gsm7", 1)
    assert gateway.sim.messages[0].text == "Prilis zlutoucky kun ?"


@pytest.mark.parametrize(
    ("text", "limit", "ending", "encoding"),
    [
        ("Disk /dev/sda1 is 98% full. " * 20, 160, "...", "gsm7"),
        ("Příliš žluťoučký kůň úpěl ďábelské ódy. " * 5, 70, "…", "ucs2"),
    ],
)
async def test_single_sms_option_cuts_long_alerts(
    hass: HomeAssistant, gateway: RunningSimulator, text: str, limit: int, ending: str, encoding: str
) -> None:
    """The option "Cut to one SMS" sends at most one SMS, ending with an ellipsis."""
    entry = await setup_entry(hass, gateway, long_messages="single")
    response = await send(hass, entry, message=text, target=[RECIPIENT])
    assert (response["results"][0]["parts"], response["results"][0]["encoding"]) == (1, encoding)
    received = gateway.sim.messages[0].text
    assert received.endswith(ending)
    assert len(received) <= limit


async def test_long_alert_is_sent_whole_by_default(hass: HomeAssistant, gateway: RunningSimulator) -> None:
    """Without the option a long alert goes whole and its parts are counted."""
    entry = await setup_entry(hass, gateway)
    text = "Příliš žluťoučký kůň úpěl ďábelské ódy. " * 5
    response = await send(hass, entry, message=text, target=[RECIPIENT])
    assert (response["results"][0]["parts"], response["results"][0]["encoding"]) == (3, "ucs2")
    assert gateway.sim.messages[0].text == text.strip()


async def test_a_clock_set_back_does_not_make_the_next_alert_a_copy(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """A Raspberry Pi without a clock after a power cut starts at the time it last saved, before NTP answers.

    "Freezer warm" went out at 12:00 (the duplicate window is 5 min); now the clock reads 11:30, hours later in
    truth: the same alert is no copy of one sent "in the last 5 min", and goes out.
    """
    freezer.move_to("2026-01-15 12:00:00+00:00")
    assert (await send(hass, loaded_gateway, message="Freezer warm"))["results"][0]["status"] == "sent"
    freezer.move_to("2026-01-15 11:30:00+00:00")
    result = (await send(hass, loaded_gateway, message="Freezer warm"))["results"][0]
    assert result["status"] == "sent", result
    assert [message.text for message in gateway.sim.messages] == ["Freezer warm", "Freezer warm"]
