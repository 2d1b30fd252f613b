"""Diagnostics hold what helps and nothing private."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sms_alerts.diagnostics import async_get_config_entry_diagnostics

from .conftest import GATEWAY_PASSWORD, GATEWAY_USER, RECIPIENT, RunningSimulator, send
from .test_provider_integration import ipex_entry


async def test_diagnostics_are_redacted(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """No password, login, address or full number; the last send is there, masked."""
    await send(hass, loaded_gateway, message="x", target=[RECIPIENT, "group:Oncall"])
    diagnostics = await async_get_config_entry_diagnostics(hass, loaded_gateway)
    text = json.dumps(diagnostics)
    for private in (GATEWAY_PASSWORD, GATEWAY_USER, gateway.url, "127.0.0.1", RECIPIENT):
        assert private not in text
    assert diagnostics["entry"]["data"]["password"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["provider"] == "sms_gateway"
    assert diagnostics["recipients"] == [{"subentry_type": "recipient", "target": "+49170…567"}]
    assert diagnostics["provider"] == {
        "provider": "sms_gateway",
        "api": "legacy",
        "scheme": "http",
        "path": "/api.php",
        "telegram_default": False,
        "timeout": 30.0,
    }
    assert diagnostics["last_send"]["status"] == "sent"
    assert [r["target"] for r in diagnostics["last_send"]["results"]] == ["+49170…567", "group:Oncall"]


async def test_diagnostics_before_any_send(hass: HomeAssistant, loaded_gateway: MockConfigEntry) -> None:
    """Without a send there is no last send."""
    diagnostics = await async_get_config_entry_diagnostics(hass, loaded_gateway)
    assert diagnostics["last_send"] is None


async def test_ipex_diagnostics_hide_the_webhook(hass: HomeAssistant, ipex_sim: RunningSimulator) -> None:
    """The webhook id is the callbacks' only secret: neither it nor the address holding it is shown."""
    await hass.config.async_update(external_url="https://ha.example.com")
    entry = await ipex_entry(hass, ipex_sim.url)
    webhook_id = entry.data["webhook_id"]
    assert entry.data["webhook_url"].endswith(webhook_id)
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)  # type: ignore[arg-type]
    assert webhook_id not in json.dumps(diagnostics)
    assert diagnostics["entry"]["data"]["webhook_url"] == "**REDACTED**"
