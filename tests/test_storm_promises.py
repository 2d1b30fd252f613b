"""Storm control as the README promises it, tried as a user would: held duplicates, references, the SMS budget."""

from __future__ import annotations

import asyncio
import datetime as dt
from datetime import timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.sms_alerts.storm import StormGuard, StormSettings, Verdict

from .conftest import RECIPIENT, RunningSimulator, gateway_entry_for, send

BERLIN = "Europe/Berlin"


async def advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    """Let simulated time pass and run what fell due."""
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


async def setup_entry(hass: HomeAssistant, sim: RunningSimulator, **options: Any) -> MockConfigEntry:
    """An SMS Gateway entry with storm options."""
    entry = gateway_entry_for(sim, options=options)
    entry.add_to_hass(hass)
    hass.config.country = "DE"
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


async def set_quiet_hours(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Give the entry's recipient quiet hours from 22:00 to 07:00."""
    subentry = next(iter(entry.subentries.values()))
    hass.config_entries.async_update_subentry(
        entry, subentry, data={"target": RECIPIENT, "quiet_start": "22:00:00", "quiet_end": "07:00:00"}
    )
    await hass.async_block_till_done(wait_background_tasks=True)


def status(response: dict[str, Any]) -> tuple[str, str | None]:
    """Status and reason of the only target of a response."""
    result = response["results"][0]
    return result["status"], result["error"]


def test_guard_counts_a_copy_of_a_held_alert_as_a_duplicate() -> None:
    """A held text is a duplicate within the window, during quiet hours too; released, it counts as sent."""
    guard = StormGuard(settings=StormSettings(dedup_window=300, rate_limit=0))
    assert guard.decide(target="a", text="x", severity="warning", now=0, today="d", quiet=True) is Verdict.QUIET
    guard.note_held(target="a", text="x", now=0)
    assert guard.decide(target="a", text="x", severity="warning", now=10, today="d", quiet=True) is Verdict.DEDUPLICATED
    assert guard.is_held(target="a", text="x")
    assert guard.decide(target="b", text="x", severity="warning", now=10, today="d") is Verdict.SEND
    assert guard.decide(target="a", text="x", severity="critical", now=10, today="d", quiet=True) is Verdict.SEND
    guard.note_released(target="a", text="x", now=200)
    assert not guard.is_held(target="a", text="x")
    assert guard.decide(target="a", text="x", severity="warning", now=450, today="d") is Verdict.DEDUPLICATED
    assert guard.decide(target="a", text="x", severity="warning", now=500, today="d") is Verdict.SEND


@pytest.mark.parametrize(("ack", "sent"), [(False, ["first", "Freezer warm"]), (True, ["first #1", "Freezer warm #2"])])
async def test_a_copy_of_a_throttled_alert_is_deduplicated(
    hass: HomeAssistant, gateway: RunningSimulator, freezer: FrozenDateTimeFactory, ack: bool, sent: list[str]
) -> None:
    """A copy of an alert the rate limit holds, within the window, is counted once: no summary of two copies."""
    entry = await setup_entry(hass, gateway, rate_limit=1, dedup_minutes=5, ack_reference=ack)
    await send(hass, entry, message="first", target=[RECIPIENT])
    assert status(await send(hass, entry, message="Freezer warm", target=[RECIPIENT]))[0] == "throttled"
    freezer.tick(timedelta(seconds=10))
    assert status(await send(hass, entry, message="Freezer warm", target=[RECIPIENT])) == (
        "deduplicated",
        "the same alert to this target is held already and goes out once",
    )
    assert len(entry.runtime_data.outbox.items) == 1
    await advance(hass, freezer, 55)
    assert [m.text for m in gateway.sim.messages] == sent
    # Gone out now: a later copy within the window is a duplicate of what was sent
    assert status(await send(hass, entry, message="Freezer warm", target=[RECIPIENT])) == (
        "deduplicated",
        "the same alert went to this target in the last 5 min",
    )
    assert len(gateway.sim.messages) == 2


async def test_a_copy_of_an_alert_held_for_quiet_hours_is_deduplicated(
    hass: HomeAssistant, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """At night a copy within the window is counted, not held: the morning summary names the alert once."""
    await hass.config.async_set_time_zone(BERLIN)
    freezer.move_to(dt.datetime(2026, 11, 23, 23, 0, tzinfo=dt_util.get_time_zone(BERLIN)))
    entry = await setup_entry(hass, gateway)
    await set_quiet_hours(hass, entry)
    assert status(await send(hass, entry, message="Freezer warm")) == ("queued", "quiet hours until 07:00")
    freezer.tick(timedelta(minutes=1))
    assert status(await send(hass, entry, message="Freezer warm"))[0] == "deduplicated"
    freezer.tick(timedelta(minutes=1))
    assert status(await send(hass, entry, message="Door open"))[0] == "queued"
    # Past the window, a copy is a new alert again, as for sent ones
    freezer.tick(timedelta(minutes=10))
    assert status(await send(hass, entry, message="Door open"))[0] == "queued"
    await advance(hass, freezer, 8 * 3600)
    assert [m.text for m in gateway.sim.messages] == ["3 alerts: Door open | Door open | Freezer warm"]


async def test_with_references_the_window_compares_the_alerts_own_text(
    hass: HomeAssistant, gateway: RunningSimulator
) -> None:
    """With acknowledgement references, the same alert twice is a duplicate although each would carry its own #n."""
    entry = await setup_entry(hass, gateway, ack_reference=True)
    assert status(await send(hass, entry, message="Freezer warm", target=[RECIPIENT]))[0] == "sent"
    assert status(await send(hass, entry, message="Freezer warm", target=[RECIPIENT]))[0] == "deduplicated"
    assert status(await send(hass, entry, message="Door open", target=[RECIPIENT]))[0] == "sent"
    assert [m.text for m in gateway.sim.messages] == ["Freezer warm #1", "Door open #3"]


@pytest.mark.parametrize(
    ("text", "limit", "ending", "encoding"),
    [
        pytest.param("Freezer in the plant room is warm: " + "x" * 127, 160, "... #1", "gsm7", id="gsm7-162"),
        pytest.param("Freezer warm " * 12 + "now", 160, "... #1", "gsm7", id="gsm7-159-words"),
        pytest.param("Kühlraum zu warm: " + "x" * 140, 160, "... #1", "gsm7", id="gsm7-umlaut-158"),
        pytest.param("Teplota mrazáku: " + "ž" * 60, 70, "… #1", "ucs2", id="ucs2-77"),
    ],
)
async def test_cut_to_one_sms_keeps_the_reference_inside_the_cut(
    hass: HomeAssistant, gateway: RunningSimulator, text: str, limit: int, ending: str, encoding: str
) -> None:
    """Cut to one SMS, with references: one SMS whose cut leaves room for the reference at its end."""
    entry = await setup_entry(hass, gateway, long_messages="single", ack_reference=True)
    result = (await send(hass, entry, message=text, target=[RECIPIENT]))["results"][0]
    assert (result["parts"], result["encoding"]) == (1, encoding)
    received = gateway.sim.messages[0].text
    assert received.endswith(ending)
    assert len(received) <= limit


async def test_a_text_that_fits_alone_is_cut_to_make_room_for_its_reference(
    hass: HomeAssistant, gateway: RunningSimulator
) -> None:
    """158 characters fit one SMS, but not with " #1": the text is cut, the reference kept."""
    entry = await setup_entry(hass, gateway, long_messages="single", ack_reference=True)
    short = "Door open"
    assert (await send(hass, entry, message=short, target=[RECIPIENT]))["results"][0]["parts"] == 1
    text = "Freezer warm " * 12 + "ab"
    assert len(text) == 158
    assert (await send(hass, entry, message=text, target=[RECIPIENT]))["results"][0]["parts"] == 1
    first, second = (m.text for m in gateway.sim.messages)
    assert first == "Door open #1"
    assert second.endswith("... #2")
    assert len(second) <= 160


def test_guard_budget_counts_parts_and_refuses_an_alert_that_does_not_fit() -> None:
    """The budget counts SMS: an alert is over budget when its parts do not all fit what is left."""
    guard = StormGuard(settings=StormSettings(dedup_window=0, rate_limit=0, daily_budget=4))
    assert guard.decide(target="t", text="a", severity="warning", now=0, today="d", parts=3) is Verdict.SEND
    guard.note_sent(target="t", text="a", now=0, today="d", parts=3)
    assert guard.budget_left() == 1
    assert guard.decide(target="t", text="b", severity="warning", now=1, today="d", parts=2) is Verdict.OVER_BUDGET
    assert guard.decide(target="t", text="b", severity="warning", now=1, today="d", parts=1) is Verdict.SEND
    assert guard.decide(target="t", text="b", severity="critical", now=1, today="d", parts=2) is Verdict.SEND


async def test_the_daily_budget_counts_every_sms_of_an_alert(hass: HomeAssistant, gateway: RunningSimulator) -> None:
    """A budget of 4 SMS: a 3-part alert spends 3; the next needs 3 of the 1 left and is refused; 1 part still goes."""
    entry = await setup_entry(hass, gateway, daily_budget=4)
    long = "Freezer in the plant room is warm. " * 10
    assert (await send(hass, entry, message=long, target=[RECIPIENT]))["results"][0]["parts"] == 3
    with pytest.raises(HomeAssistantError, match="1 of the daily budget of 4 SMS is left; this alert needs 3"):
        await send(hass, entry, message=long + "again", target=[RECIPIENT])
    assert status(await send(hass, entry, message="Door open", target=[RECIPIENT]))[0] == "sent"
    with pytest.raises(HomeAssistantError, match="the daily budget of 4 SMS is spent"):
        await send(hass, entry, message="Window open", target=[RECIPIENT])
    assert status(await send(hass, entry, message=long, target=[RECIPIENT], severity="critical"))[0] == "sent"
    assert [m.text for m in gateway.sim.messages] == [long.strip(), "Door open", long.strip()]


async def test_two_long_alerts_do_not_pass_a_budget_of_two_sms(hass: HomeAssistant, gateway: RunningSimulator) -> None:
    """Two 3-part alerts are 6 SMS: neither fits a budget of 2."""
    entry = await setup_entry(hass, gateway, daily_budget=2)
    for i in range(2):
        with pytest.raises(HomeAssistantError, match="2 of the daily budget of 2 SMS is left; this alert needs 3"):
            await send(hass, entry, message=f"Alert {i}: " + "Freezer warm. " * 25, target=[RECIPIENT])
    assert gateway.sim.messages == []


async def test_one_alert_to_three_numbers_spends_only_what_is_left(
    hass: HomeAssistant, gateway: RunningSimulator
) -> None:
    """A budget of 2 SMS and one alert to three numbers: two are sent, the third is over budget."""
    entry = await setup_entry(hass, gateway, daily_budget=2)
    numbers = [RECIPIENT, "+491701234568", "+491701234569"]
    results = (await send(hass, entry, message="Freezer warm", target=numbers))["results"]
    assert [result["status"] for result in results] == ["sent", "sent", "failed"]
    assert results[2]["error"] == "the daily budget of 2 SMS is spent"
    assert len(gateway.sim.messages) == 2


async def test_alerts_at_once_share_the_budget(hass: HomeAssistant, gateway: RunningSimulator) -> None:
    """Three alerts sent at the same time with 2 SMS left: the budget is counted as they are taken, not after."""
    entry = await setup_entry(hass, gateway, daily_budget=2)
    gateway.sim.latency = 0.05
    numbers = [RECIPIENT, "+491701234568", "+491701234569"]
    outcomes = await asyncio.gather(
        *(send(hass, entry, message=f"Alert {i}", target=[number]) for i, number in enumerate(numbers)),
        return_exceptions=True,
    )
    assert sum(isinstance(outcome, HomeAssistantError) for outcome in outcomes) == 1
    assert len(gateway.sim.messages) == 2


def test_guard_counts_what_is_taken_before_it_is_sent() -> None:
    """A reservation counts against the budget until it is released (the send ended, counted or not)."""
    guard = StormGuard(settings=StormSettings(dedup_window=0, rate_limit=0, daily_budget=2))
    guard.reserve(target="t", text="a", parts=2)
    assert guard.budget_left() == 0
    assert guard.decide(target="t", text="a", severity="warning", now=0, today="d") is Verdict.OVER_BUDGET
    guard.release(target="t", text="a", parts=2)
    assert guard.budget_left() == 2
    assert guard.decide(target="t", text="a", severity="warning", now=0, today="d") is Verdict.SEND


async def test_alerts_at_once_share_the_rate_limit(
    hass: HomeAssistant, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """Four alerts to one number at the same time with 2 a minute: two go out, two in a summary when it ends."""
    entry = await setup_entry(hass, gateway, rate_limit=2)
    # The first request is held at the device's door while the other three alerts are taken
    gateway.gate.hold()
    sends = [hass.async_create_task(send(hass, entry, message=f"Alert {i}", target=[RECIPIENT])) for i in range(4)]
    await gateway.gate.until_held()
    gateway.gate.release()
    responses = await asyncio.gather(*sends)
    assert sorted(status(response)[0] for response in responses) == ["sent", "sent", "throttled", "throttled"]
    assert len(gateway.sim.messages) == 2
    await advance(hass, freezer, 61)
    assert [m.text.split(":")[0] for m in gateway.sim.messages[2:]] == ["2 alerts"]


async def test_the_same_alert_twice_at_once_goes_out_once(hass: HomeAssistant, gateway: RunningSimulator) -> None:
    """Two copies of one alert sent at the same time: the second is a duplicate of the one under way."""
    entry = await setup_entry(hass, gateway)
    gateway.sim.latency = 0.05
    responses = await asyncio.gather(*(send(hass, entry, message="Disk full", target=[RECIPIENT]) for _ in range(2)))
    assert sorted(status(response)[0] for response in responses) == ["deduplicated", "sent"]
    assert len(gateway.sim.messages) == 1


def test_guard_lets_held_alerts_out_once_a_window_while_critical_ones_fill_it() -> None:
    """Critical alerts pass the limit and fill the window: the others go out when it has room, or once a window."""
    guard = StormGuard(settings=StormSettings(dedup_window=0, rate_limit=2))
    for second in range(0, 120, 5):
        guard.note_sent(target="a", text=f"critical {second}", now=second, today="d")
    assert guard.may_release("a", 115)  # full, but nothing held went out within the window
    guard.note_rate_release("a", 60)
    assert not guard.may_release("a", 115)
    assert guard.release_at("a", 115) == 120
    assert guard.may_release("a", 120)
    assert guard.may_release("b", 115)  # another recipient's window is empty


async def test_a_critical_storm_lets_the_other_alerts_out_as_one_summary_a_minute(
    hass: HomeAssistant, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """While critical alerts keep a recipient's window full, the others go as one summary a minute.

    Seen in the storm benchmark: with five flapping critical alerts, each send that left the window let the
    held alerts out again, as up to 14 SMS within 1.5 s about alerts that were not critical (rate limit 10).
    """
    entry = await setup_entry(hass, gateway, rate_limit=2, dedup_minutes=0)
    for second in range(150):
        await send(hass, entry, message=f"UPS on battery {second}", target=[RECIPIENT], severity="critical")
        if second % 3 == 0:
            await send(hass, entry, message=f"Disk full {second}", target=[RECIPIENT], severity="warning")
        await advance(hass, freezer, 1)
    calm = [m.text for m in gateway.sim.messages if "UPS on battery" not in m.text]
    # The first within the limit (with the first critical one), then one summary a minute
    assert [text.split(": ")[0] for text in calm] == ["Disk full 0", "19 alerts", "20 alerts"], calm
