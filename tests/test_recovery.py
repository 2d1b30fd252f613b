"""A device that answers again: what waited for it goes out at once, in order, here or through the fallback."""

from __future__ import annotations

from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.sms_alerts.const import DOMAIN, RETRY_MAX
from custom_components.sms_alerts.coordinator import HEALTH_INTERVAL
from custom_components.sms_alerts.outbox import storage_key
from simulators.base import Fault

from .conftest import RECIPIENT, RunningSimulator, gateway_entry_for, send
from .test_outbox import advance, setup_pair, stored

REACHABLE = "binary_sensor.sms_gateway_127_0_0_1_provider_reachable"


def texts(sim: RunningSimulator) -> list[str]:
    """Texts the simulated device took, in the order it took them."""
    return [m.text for m in sim.sim.messages]


def reachable(hass: HomeAssistant) -> str:
    """State of the primary entry's reachability sensor."""
    current = hass.states.get(REACHABLE)
    assert current is not None
    return current.state


async def wait_long(hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory) -> float:
    """Let the waiting message fail until its next try is over 12 minutes away; return when that try is due."""
    outbox = entry.runtime_data.outbox
    while outbox.items[0].attempts < 6:  # the 6th try failed: the 7th is 16 min +- 20 % later
        await advance(hass, freezer, 10)
    return outbox.items[0].next_attempt


@pytest.mark.parametrize("fault", [Fault.REDIRECT_302, Fault.HTTP_503])
async def test_a_new_alert_to_a_waiting_target_is_tried_at_once_after_the_waiting_ones(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    fault: Fault,
) -> None:
    """The fault is cleared with two alerts waiting; a third to the same number takes all three out, in order.

    A redirect on a retry blocks the entry (a repair issue, one try per 30 min); a 503 backs off. Either
    way nothing tells the entry that the device answers again until it makes a request.
    """
    gateway.sim.fail(Fault.HTTP_503, times=1)
    assert (await send(hass, loaded_gateway, message="one"))["results"][0]["status"] == "queued"
    gateway.sim.fail(fault)
    await advance(hass, freezer, 40)  # the retry meets the fault
    redirected = f"{loaded_gateway.entry_id}_redirected"
    issues = ir.async_get(hass)
    assert (issues.async_get_issue(DOMAIN, redirected) is not None) is (fault is Fault.REDIRECT_302)
    second = await send(hass, loaded_gateway, message="two")
    # The device failed a moment ago: no request, the alert queues behind the first one
    assert second["results"][0]["status"] == "queued"
    gateway.sim.recover()
    await advance(hass, freezer, 35)  # before the next retry (a 503's: 60 s +- 20 %; a redirect's: 30 min)
    assert texts(gateway) == []
    third = await send(hass, loaded_gateway, message="three")
    assert (third["results"][0]["status"], third["results"][0]["error"]) == ("sent", None)
    assert texts(gateway) == ["one", "two", "three"]
    assert loaded_gateway.runtime_data.outbox.items == []
    assert issues.async_get_issue(DOMAIN, redirected) is None
    await hass.async_block_till_done()
    assert stored(hass_storage, loaded_gateway) == []
    await advance(hass, freezer, RETRY_MAX)
    assert texts(gateway) == ["one", "two", "three"]


async def test_waiting_alerts_go_within_seconds_after_any_send_succeeds(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """An alert to another number goes through: the one waiting for a retry minutes away follows within 10 s."""
    gateway.sim.fail(Fault.HTTP_503)
    await send(hass, loaded_gateway, message="Freezer warm")
    next_try = await wait_long(hass, loaded_gateway, freezer)
    gateway.sim.recover()
    other = await send(hass, loaded_gateway, message="Door open", target=["group:Oncall"])
    assert other["results"][0]["status"] == "sent"
    assert next_try - dt_util.utcnow().timestamp() > 600
    await advance(hass, freezer, 10)
    assert texts(gateway) == ["Door open", "Freezer warm"]
    assert loaded_gateway.runtime_data.outbox.items == []


async def test_waiting_alerts_go_within_seconds_after_the_status_page_answers_again(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """The SMS Gateway's check.php poll finds the gateway back: the alert waiting for a later retry goes out."""
    gateway.sim.fail(Fault.HTTP_503)
    await send(hass, loaded_gateway, message="UPS on battery")
    next_try = await wait_long(hass, loaded_gateway, freezer)
    assert reachable(hass) == "off"
    gateway.sim.recover()
    step = 5
    for _ in range(int(HEALTH_INTERVAL.total_seconds() / step) + 2):
        await advance(hass, freezer, step)
        if reachable(hass) == "on":
            break
    assert reachable(hass) == "on"
    assert next_try - dt_util.utcnow().timestamp() > 300
    await advance(hass, freezer, 10 - step)
    assert texts(gateway) == ["UPS on battery"]
    assert loaded_gateway.runtime_data.outbox.items == []


async def test_known_down_hands_the_waiting_alert_over_before_later_ones(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """50 alerts to one number (no rate limit) while the primary is down: the fallback sends all 50, in order, once."""
    primary, _ = await setup_pair(hass, gateway, second_gateway, rate_limit=0)
    gateway.sim.fail(Fault.HTTP_503)
    events = async_capture_events(hass, "sms_alerts_failed")
    sent = [f"Alert {number}" for number in range(1, 51)]
    for text in sent:
        await send(hass, primary, message=text)
    assert texts(second_gateway) == sent
    assert primary.runtime_data.outbox.items == []
    await hass.async_block_till_done()
    assert stored(hass_storage, primary) == []
    gateway.sim.recover()
    await advance(hass, freezer, RETRY_MAX)
    await advance(hass, freezer, RETRY_MAX)
    assert texts(second_gateway) == sent
    assert texts(gateway) == []
    assert events == []


async def test_known_down_hands_every_waiting_alert_over_first_in_order(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    second_gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """Two alerts kept from before a restart wait for a primary found down: a new one follows them to the fallback."""
    fallback = gateway_entry_for(second_gateway, title="Fallback gateway")
    fallback.add_to_hass(hass)
    primary = gateway_entry_for(gateway, options={"fallback_entry": fallback.entry_id, "handover_minutes": 60})
    primary.add_to_hass(hass)
    created = dt_util.utcnow().timestamp()
    hass_storage[storage_key(primary.entry_id)] = {
        "version": 1,
        "minor_version": 1,
        "key": storage_key(primary.entry_id),
        "data": {
            "items": [
                {
                    "id": item_id,
                    "message_id": item_id,
                    "text": text,
                    "target": {"kind": "number", "value": RECIPIENT},
                    "parts": 1,
                    "created": created,
                    "attempts": 1,
                    "visited": [primary.entry_id],
                }
                for item_id, text in (("a", "UPS on battery"), ("b", "Freezer warm"))
            ]
        },
    }
    gateway.sim.fail(Fault.HTTP_503)
    hass.config.country = "DE"
    assert await hass.config_entries.async_setup(fallback.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    # Waiting in the primary, or already handed over in order where the start-up check found it down first
    waiting = [item.text for item in primary.runtime_data.outbox.items]
    assert texts(second_gateway) + waiting == ["UPS on battery", "Freezer warm"]
    assert reachable(hass) == "off"  # the first try after the start failed
    response = await send(hass, primary, message="Water in the basement")
    assert (response["results"][0]["status"], response["results"][0]["provider"]) == ("sent", "sms_gateway")
    assert texts(second_gateway) == ["UPS on battery", "Freezer warm", "Water in the basement"]
    assert primary.runtime_data.outbox.items == []
    await hass.async_block_till_done()
    assert stored(hass_storage, primary) == []
    gateway.sim.recover()
    await advance(hass, freezer, RETRY_MAX)
    assert texts(second_gateway) == ["UPS on battery", "Freezer warm", "Water in the basement"]
    assert texts(gateway) == []
