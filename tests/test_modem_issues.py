"""A GSM modem's SIM and network problems as repair issues, found by the link with no alert waiting.

AT+CPIN? answers (TS 27.007 §8.3): READY, SIM PIN, SIM PUK; no SIM is +CME ERROR: 10 (§9.2). +CREG/+CEREG
<stat> (§7.2, §10.1.22): 1 home, 2 searching, 3 registration denied, 5 roaming.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from custom_components.sms_alerts import modem_issues
from custom_components.sms_alerts.api import modem as modem_api
from custom_components.sms_alerts.const import DOMAIN
from simulators.modem import ModemFault, ModemSimulator

from .modem_helpers import TRANSPORTS, running_modem, wait_for
from .test_modem_entry import PIN, add_entry, modem


@pytest.fixture(params=TRANSPORTS)
async def sim(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncGenerator[ModemSimulator]:
    """A modem whose SIM wants PIN 4711, reopened quickly after an unplug or a failed setup."""
    monkeypatch.setattr(modem_api, "BACKOFF_INITIAL", 0.05)
    monkeypatch.setattr(modem_api, "BACKOFF_MAX", 0.2)
    monkeypatch.setattr(modem_api, "SYNC_TIMEOUT", 0.3)
    async with running_modem(request.param, monkeypatch, pin=PIN) as modem_sim:
        yield modem_sim


def issue(hass: HomeAssistant, entry: ConfigEntry, key: str) -> ir.IssueEntry | None:
    """The entry's repair issue of one cause."""
    return ir.async_get(hass).async_get_issue(DOMAIN, f"{entry.entry_id}_{key}")


def reauth_started(hass: HomeAssistant) -> bool:
    """Tell whether a reauthentication flow runs."""
    return any(flow["context"]["source"] == "reauth" for flow in hass.config_entries.flow.async_progress())


@pytest.mark.parametrize(
    ("fault", "key"), [(ModemFault.NO_SIM, "no_sim"), (ModemFault.SIM_PUK, "sim_puk")], ids=["no_sim", "puk"]
)
async def test_sim_problem_at_link_time_is_a_repair_issue(
    hass: HomeAssistant, sim: ModemSimulator, fault: ModemFault, key: str
) -> None:
    """The modem comes back without a usable SIM: an issue at once, no send needed; it clears once the SIM is in."""
    entry = await add_entry(hass, sim)
    sim.inject(fault)
    await sim.replug()
    await wait_for(lambda: issue(hass, entry, key) is not None)
    raised = issue(hass, entry, key)
    assert raised is not None
    assert raised.translation_key == key
    assert raised.translation_placeholders is not None
    assert raised.translation_placeholders["entry"] == entry.title
    assert "SIM" in raised.translation_placeholders["error"]
    assert not reauth_started(hass)
    sim.recover()
    await wait_for(lambda: modem(entry).connected)
    assert issue(hass, entry, key) is None
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_pin_wanted_at_link_time_starts_reauthentication(hass: HomeAssistant, sim: ModemSimulator) -> None:
    """A SIM that asks for its PIN again (a PIN the entry does not hold): reauthentication, not a SIM issue."""
    entry = await add_entry(hass, sim)
    sim.pin = "13572468"
    sim.pin_entered = False
    await sim.replug()
    await wait_for(lambda: reauth_started(hass))
    assert all(issue(hass, entry, key) is None for key in modem_issues.SIM_ISSUES)


async def test_registration_denied_and_not_registered_are_repair_issues(
    hass: HomeAssistant, sim: ModemSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """+CREG 3: an issue at the next status read; searching: an issue once it lasts; registered clears both."""
    entry = await add_entry(hass, sim)
    coordinator = entry.runtime_data.health.modem
    assert coordinator is not None
    await coordinator.async_refresh()
    assert issue(hass, entry, "registration_denied") is None
    sim.inject(ModemFault.REGISTRATION_DENIED)
    await coordinator.async_refresh()
    denied = issue(hass, entry, "registration_denied")
    assert denied is not None
    assert denied.severity is ir.IssueSeverity.ERROR
    sim.recover()
    await coordinator.async_refresh()
    assert issue(hass, entry, "registration_denied") is None
    # Searching: no issue while it is short (a restart, a move); one once it lasts
    sim.inject(ModemFault.NO_NETWORK)
    await coordinator.async_refresh()
    assert issue(hass, entry, "not_registered") is None
    monkeypatch.setattr(modem_issues, "NOT_REGISTERED_AFTER", 0.0)
    await coordinator.async_refresh()
    lasting = issue(hass, entry, "not_registered")
    assert lasting is not None
    assert lasting.translation_placeholders is not None
    assert lasting.translation_placeholders["minutes"] == "0"
    sim.registration = 5  # roaming: registered
    await coordinator.async_refresh()
    assert issue(hass, entry, "not_registered") is None
