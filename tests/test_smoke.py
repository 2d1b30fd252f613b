"""A first end-to-end send."""

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sms_alerts.const import DOMAIN

from .conftest import RunningSimulator


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
