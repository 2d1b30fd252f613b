"""Notify entities per recipient and the legacy notify service per entry."""

from __future__ import annotations

import pytest
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sms_alerts.const import DOMAIN
from simulators.base import Fault

from .conftest import RECIPIENT, RunningSimulator

ENTITY = "notify.on_call"
LEGACY = "sms_gateway_127_0_0_1"


async def test_one_entity_and_device_per_recipient(hass: HomeAssistant, loaded_gateway: MockConfigEntry) -> None:
    """The recipient subentry is a notify entity on its own device."""
    entity = er.async_get(hass).async_get(ENTITY)
    assert entity is not None
    subentry_id = next(iter(loaded_gateway.subentries))
    assert entity.unique_id == f"{loaded_gateway.entry_id}_{subentry_id}_notify"
    assert entity.config_subentry_id == subentry_id
    device = dr.async_get(hass).async_get(entity.device_id or "")
    assert device is not None
    assert device.name == "On call"


async def test_send_message_reaches_the_recipient(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """notify.send_message with a title sends to the recipient's number."""
    await hass.services.async_call(
        "notify",
        "send_message",
        {ATTR_ENTITY_ID: ENTITY, "message": "Freezer warm", "title": "Kitchen"},
        blocking=True,
    )
    assert [(m.to, m.text) for m in gateway.sim.messages] == [("00491701234567", "Kitchen\nFreezer warm")]
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.state != "unknown"


async def test_send_message_failure_is_a_translated_error(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """A refused send raises, naming the recipient and the gateway's reason."""
    gateway.sim.users["apiuser"].password = "rotated"
    with pytest.raises(HomeAssistantError, match=f"could not be sent to 1 of 1 targets: \\{RECIPIENT}: HTTP 401"):
        await hass.services.async_call(
            "notify", "send_message", {ATTR_ENTITY_ID: ENTITY, "message": "x"}, blocking=True
        )


async def test_send_message_empty_is_a_validation_error(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """An empty message is refused before any request."""
    with pytest.raises(ServiceValidationError, match="The message is empty"):
        await hass.services.async_call(
            "notify", "send_message", {ATTR_ENTITY_ID: ENTITY, "message": " "}, blocking=True
        )
    assert gateway.sim.requests[-1].form.get("text") is None


async def test_removing_a_recipient_removes_its_entity(hass: HomeAssistant, loaded_gateway: MockConfigEntry) -> None:
    """Removing the subentry removes the notify entity after the reload."""
    subentry_id = next(iter(loaded_gateway.subentries))
    assert hass.config_entries.async_remove_subentry(loaded_gateway, subentry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert er.async_get(hass).async_get(ENTITY) is None
    assert hass.states.get(ENTITY) is None


async def test_legacy_service_sends_to_targets_with_data(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """notify.<entry title> takes targets and provider options in data."""
    assert hass.services.has_service("notify", LEGACY)
    await hass.services.async_call(
        "notify",
        LEGACY,
        {"message": "UPS on battery", "title": "Rack", "target": ["group:Oncall"], "data": {"telegram": True}},
        blocking=True,
    )
    message = gateway.sim.messages[0]
    assert (message.to, message.text, message.options["mode"]) == ("group:Oncall", "Rack\nUPS on battery", "telgroup")


async def test_legacy_service_without_target_goes_to_all_recipients(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """Without target the legacy service sends to every recipient."""
    await hass.services.async_call("notify", LEGACY, {"message": "x"}, blocking=True)
    assert [m.to for m in gateway.sim.messages] == ["00491701234567"]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"ring": "maybe"}, "Invalid notify data"),
        ({"severity": "apocalyptic"}, "Invalid notify data"),
        ({"postpone": "2026-12-01 10:00"}, "does not support the option postpone"),
    ],
)
async def test_legacy_service_bad_data(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    data: dict[str, str],
    match: str,
) -> None:
    """Bad data is a translated validation error and nothing is sent."""
    with pytest.raises(ServiceValidationError, match=match):
        await hass.services.async_call("notify", LEGACY, {"message": "x", "data": data}, blocking=True)
    assert gateway.sim.messages == []


async def test_legacy_service_failure_raises(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """A failure on the legacy path is as loud as on the others."""
    with pytest.raises(HomeAssistantError, match="group:Nobody"):
        await hass.services.async_call("notify", LEGACY, {"message": "x", "target": ["group:Nobody"]}, blocking=True)


async def test_unload_removes_legacy_service_and_reload_restores_it(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry
) -> None:
    """The legacy service lives exactly as long as its entry."""
    assert await hass.config_entries.async_unload(loaded_gateway.entry_id)
    await hass.async_block_till_done()
    assert not hass.services.has_service("notify", LEGACY)
    assert await hass.config_entries.async_setup(loaded_gateway.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.services.has_service("notify", LEGACY)
    assert hass.services.has_service(DOMAIN, "send")


async def test_the_entity_stays_available_and_queues_while_the_gateway_is_down(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """The notify entity stays available while the gateway is down, so alerts to it are queued.

    Home Assistant skips unavailable entities without an error: an entity tied to the gateway's
    reachability would drop alerts silently exactly when they must be queued.
    """
    gateway.sim.fail(Fault.HTTP_503)
    for text in ("UPS on battery", "Freezer warm"):
        await hass.services.async_call(
            "notify", "send_message", {ATTR_ENTITY_ID: ENTITY, "message": text}, blocking=True
        )
    reachable = hass.states.get("binary_sensor.sms_gateway_127_0_0_1_provider_reachable")
    assert reachable is not None
    assert reachable.state == "off"
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.state != "unavailable"
    assert [item.text for item in loaded_gateway.runtime_data.outbox.items] == ["UPS on battery", "Freezer warm"]
