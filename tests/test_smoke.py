"""A first end-to-end send."""

from unittest.mock import patch

import pytest
from aiohttp.resolver import AsyncResolver
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sms_alerts.const import DOMAIN

from .conftest import RunningSimulator, gateway_entry_for, send


async def test_send_reaches_simulator(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """An action call arrives at the simulator."""
    resp = await hass.services.async_call(
        DOMAIN,
        "send",
        {"config_entry_id": loaded_gateway.entry_id, "message": "Disk full"},
        blocking=True,
        return_response=True,
    )
    assert resp["results"][0]["status"] == "sent"
    assert gateway.sim.messages[0].text == "Disk full"


# localhost may resolve to ::1 first, which the test socket guard refuses before 127.0.0.1 is tried
@pytest.mark.filterwarnings("ignore:A test tried to use socket.socket.connect:UserWarning")
async def test_a_device_addressed_by_name_is_reached(hass: HomeAssistant, gateway: RunningSimulator) -> None:
    """Devices are often given by host name: the lookup through Home Assistant's shared session works."""
    named = RunningSimulator(gateway.sim, gateway.url.replace("//127.0.0.1:", "//localhost:"))
    assert "localhost" in named.url
    entry = gateway_entry_for(named)
    entry.add_to_hass(hass)
    hass.config.country = "DE"
    # The test library shares one DNS resolver across the session's event loops, which the newest aiodns
    # refuses; Home Assistant makes one per instance, on its own loop, as here
    resolver = AsyncResolver()
    resolver.real_close = resolver.close  # type: ignore[attr-defined]
    with patch("homeassistant.helpers.aiohttp_client._async_make_resolver", return_value=resolver):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done(wait_background_tasks=True)
    response = await send(hass, entry, message="UPS on battery")
    assert response["results"][0]["status"] == "sent"
    assert [message.text for message in gateway.sim.messages] == ["UPS on battery"]
