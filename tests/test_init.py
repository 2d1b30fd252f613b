"""Setup, start-up credential check, unload and reload."""

from __future__ import annotations

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState, ConfigSubentry
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sms_alerts.const import DOMAIN

from .conftest import RunningSimulator, send


async def test_setup_and_unload(hass: HomeAssistant, loaded_gateway: MockConfigEntry) -> None:
    """An entry loads with its entities and unloads cleanly."""
    assert loaded_gateway.state is ConfigEntryState.LOADED
    assert hass.states.get("notify.on_call") is not None
    assert await hass.config_entries.async_unload(loaded_gateway.entry_id)
    assert loaded_gateway.state is ConfigEntryState.NOT_LOADED


async def test_unreachable_gateway_still_loads(
    hass: HomeAssistant, gateway_entry: MockConfigEntry, closed_url: str
) -> None:
    """An unreachable gateway never blocks or fails the start."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Down",
        unique_id="down",
        data={**gateway_entry.data, "url": closed_url},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


async def test_refused_login_at_start_asks_for_reauth_before_the_first_alert(
    hass: HomeAssistant, gateway_entry: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """A password changed on the gateway is found at start, not by the first alert."""
    gateway.sim.users["apiuser"].password = "rotated"
    gateway_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(gateway_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert gateway_entry.state is ConfigEntryState.LOADED
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]
    assert gateway.sim.messages == []


async def test_new_recipient_reloads_and_is_usable(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """A recipient added in the UI is a notify entity and a target of the action without a restart."""
    hass.config_entries.async_add_subentry(
        loaded_gateway,
        ConfigSubentry(
            data={"target": "group:Oncall"}, subentry_type="recipient", title="Oncall", unique_id="group:Oncall"
        ),
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get("notify.oncall") is not None
    response = await send(hass, loaded_gateway, message="x")
    assert [r["target"] for r in response["results"]] == ["+491701234567", "group:Oncall"]
