"""The "Last send status" sensor."""

from __future__ import annotations

import pytest
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import HomeAssistant, State
from homeassistant.exceptions import HomeAssistantError
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events, mock_restore_cache

from .conftest import RECIPIENT, RunningSimulator, send, show_reports

SENSOR = "sensor.sms_gateway_127_0_0_1_last_send_status"


async def test_sensor_is_an_enum_on_the_account_device(hass: HomeAssistant, loaded_gateway: MockConfigEntry) -> None:
    """Before any send the state is unknown; the options are the four statuses."""
    state = hass.states.get(SENSOR)
    assert state is not None
    assert state.state == "unknown"
    assert state.attributes["device_class"] == "enum"
    assert state.attributes["options"] == ["sent", "partial", "failed", "queued"]
    assert state.attributes["friendly_name"] == "SMS Gateway 127.0.0.1 Last send status"


@pytest.mark.parametrize(
    ("targets", "status", "error"),
    [
        ([RECIPIENT], "sent", None),
        (["group:Nobody"], "failed", "group:Nobody: HTTP 400: Error. See Gateway logs for more information."),
        (
            ["group:Nobody", RECIPIENT],
            "partial",
            "group:Nobody: HTTP 400: Error. See Gateway logs for more information.",
        ),
    ],
)
async def test_sensor_follows_each_send(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    targets: list[str],
    status: str,
    error: str | None,
) -> None:
    """Sent, failed or partial, with recipients, error, time and parts."""
    try:
        await send(hass, loaded_gateway, message="x", target=targets)
    except HomeAssistantError:
        assert status == "failed"
    state = hass.states.get(SENSOR)
    assert state is not None
    assert state.state == status
    assert state.attributes["recipients"] == targets
    # No error, no attribute: the frontend would show None as "Unknown"
    assert state.attributes.get("error", "absent") == (error or "absent")
    assert state.attributes["parts"] == 1
    assert state.attributes["time"]


async def test_sensor_restores_after_restart(
    hass: HomeAssistant, gateway_entry: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """The last status survives a restart."""
    mock_restore_cache(
        hass,
        [
            State(
                SENSOR,
                "failed",
                {"recipients": [RECIPIENT], "error": "boom", "time": "2026-11-23T08:00:00+00:00", "parts": 2},
            )
        ],
    )
    gateway_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(gateway_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    state = hass.states.get(SENSOR)
    assert state is not None
    assert state.state == "failed"
    assert state.attributes["error"] == "boom"
    assert state.attributes["parts"] == 2


async def test_a_burst_writes_the_state_about_once_a_second(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """Five sends in a row: the first is shown at once, the last one a second later, none in between.

    A burst of alerts must not write the state (and the recorder a row) once per send.
    """
    writes = async_capture_events(hass, EVENT_STATE_CHANGED)
    for number in range(4):
        await send(hass, loaded_gateway, message=f"alert {number}", target=[RECIPIENT])
    with pytest.raises(HomeAssistantError):
        await send(hass, loaded_gateway, message="alert 4", target=["group:Nobody"])
    mine = [event for event in writes if event.data["entity_id"] == SENSOR]
    assert [event.data["new_state"].state for event in mine] == ["sent"]
    await show_reports(hass)
    mine = [event for event in writes if event.data["entity_id"] == SENSOR]
    assert [event.data["new_state"].state for event in mine] == ["sent", "failed"]
    assert mine[-1].data["new_state"].attributes["recipients"] == ["group:Nobody"]
    # A second later a send is shown at once again
    await show_reports(hass)
    await send(hass, loaded_gateway, message="alert 5", target=[RECIPIENT])
    assert hass.states.get(SENSOR).state == "sent"  # type: ignore[union-attr]
