"""What quality_scale.yaml claims, checked: setup that never refuses an entry, and the typed entry everywhere."""

from __future__ import annotations

import re
from pathlib import Path

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant

from custom_components.sms_alerts.const import DOMAIN

from .conftest import GATEWAY_USER, RECIPIENT, RunningSimulator, gateway_entry_for, send

PACKAGE = Path(__file__).parents[1] / "custom_components/sms_alerts"


async def test_refused_login_at_start_loads_and_hands_alerts_to_the_fallback(
    hass: HomeAssistant, gateway: RunningSimulator, second_gateway: RunningSimulator
) -> None:
    """test-before-setup is exempt on purpose: an entry refused at start stays loaded, so its alerts reach the fallback.

    With ConfigEntryAuthFailed the entry would not load, and the alert below would be refused outright.
    """
    fallback = gateway_entry_for(second_gateway, title="Fallback gateway")
    fallback.add_to_hass(hass)
    primary = gateway_entry_for(gateway, options={"fallback_entry": fallback.entry_id})
    primary.add_to_hass(hass)
    gateway.sim.users[GATEWAY_USER].password = "rotated"
    hass.config.country = "DE"
    assert await hass.config_entries.async_setup(primary.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert primary.state is ConfigEntryState.LOADED
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]

    response = await send(hass, primary, message="Freezer warm")
    assert [(r["target"], r["status"], r["provider"]) for r in response["results"]] == [
        (RECIPIENT, "sent", "sms_gateway")
    ]
    assert gateway.sim.messages == []
    assert [m.text for m in second_gateway.sim.messages] == ["Freezer warm"]


def test_every_function_takes_the_typed_entry() -> None:
    """strict-typing: no annotation names the bare ConfigEntry; the typed SmsAlertsConfigEntry is used throughout."""
    bare = re.compile(r"(?::|->|\|)\s*ConfigEntry\b(?!\[)|\bConfigEntry\s*\|")
    found = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in PACKAGE.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if bare.search(line)
    ]
    assert found == []
