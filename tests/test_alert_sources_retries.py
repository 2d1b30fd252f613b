"""A sender's retries of the same body, across a reload of the entry: real HTTP to the webhook, the simulator."""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from .conftest import RunningSimulator, advance, shown_state
from .test_alert_escalation import MINUTE, START
from .test_alert_sources import entry_with, load, post, setup, source_subentry, texts


async def test_a_retry_ignored_before_a_reload_still_counts_after_it(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Found by tests/test_alert_model.py: a retry ignored was not written, so after a reload one 8 min later counted.

    README: "The same delivery twice (a sender's retry of the same body within 10 minutes): acted on once".
    Posted at 12:00, after a reload at 12:08 (ignored) and after another at 12:16: within 10 minutes of the one
    before, ignored.
    """
    freezer.move_to(START)
    entry = entry_with(gateway, source_subentry())
    await setup(hass, entry)
    firing = load("alertmanager_firing")
    assert await post(hass, hass_client_no_auth, firing) == 200
    assert await hass.config_entries.async_reload(entry.entry_id)
    await advance(hass, freezer, 8 * MINUTE)
    # Nothing else changes after this reload: only the retry's time is new
    assert await post(hass, hass_client_no_auth, firing) == 200
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await advance(hass, freezer, 8 * MINUTE)
    assert await post(hass, hass_client_no_auth, firing) == 200
    state = await shown_state(hass, "sensor.prometheus_open_alerts")
    assert state is not None
    assert state.attributes["alerts"][0]["count"] == 1
    assert len(texts(gateway)) == 1
