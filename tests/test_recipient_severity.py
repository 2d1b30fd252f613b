"""A recipient's default severity, and sms_alerts.send_message on its notify entity, against its quiet hours."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import voluptuous as vol
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sms_alerts.const import DOMAIN

from .conftest import RECIPIENT, RunningSimulator, advance, gateway_entry_for

ENTITY = "notify.on_call"
NIGHT = {"target": RECIPIENT, "quiet_start": "22:00:00", "quiet_end": "07:00:00"}


async def night_entry(
    hass: HomeAssistant, gateway: RunningSimulator, freezer: FrozenDateTimeFactory, recipient: dict[str, Any]
) -> MockConfigEntry:
    """An SMS Gateway entry whose one recipient has quiet hours, set up at 23:00 (within them)."""
    await hass.config.async_set_time_zone("Europe/Berlin")
    freezer.move_to(dt.datetime(2026, 11, 23, 23, 0, tzinfo=dt_util.get_time_zone("Europe/Berlin")))
    entry = gateway_entry_for(gateway)
    hass.config.country = "DE"
    entry.add_to_hass(hass)
    subentry = next(iter(entry.subentries.values()))
    hass.config_entries.async_update_subentry(entry, subentry, data=recipient)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


async def notify_send(hass: HomeAssistant, message: str) -> None:
    """Call notify.send_message on the recipient's entity."""
    await hass.services.async_call(
        "notify", "send_message", {ATTR_ENTITY_ID: ENTITY, "message": message}, blocking=True
    )


async def send_message(hass: HomeAssistant, message: str, **data: Any) -> None:
    """Call the entity action sms_alerts.send_message on the recipient's entity."""
    await hass.services.async_call(
        DOMAIN, "send_message", {ATTR_ENTITY_ID: ENTITY, "message": message, **data}, blocking=True
    )


@pytest.mark.parametrize(
    ("severity", "sent"),
    [
        (None, False),  # a recipient made before severities sends as warning
        ("info", False),
        ("warning", False),
        ("critical", True),
    ],
)
async def test_notify_send_message_uses_the_recipients_default_severity(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    severity: str | None,
    *,
    sent: bool,
) -> None:
    """notify.send_message carries no severity: a critical recipient passes its quiet hours, the others wait."""
    recipient = NIGHT if severity is None else {**NIGHT, "severity": severity}
    await night_entry(hass, gateway, freezer, recipient)
    await notify_send(hass, "Freezer warm")
    assert [m.text for m in gateway.sim.messages] == (["Freezer warm"] if sent else [])


async def test_a_held_notify_alert_goes_out_when_the_quiet_hours_end(
    hass: HomeAssistant, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """A warning recipient's alert is held, not lost: it goes out in the morning."""
    await night_entry(hass, gateway, freezer, {**NIGHT, "severity": "warning"})
    await notify_send(hass, "Freezer warm")
    assert gateway.sim.messages == []
    await advance(hass, freezer, 8.1 * 3600)
    assert [m.text for m in gateway.sim.messages] == ["Freezer warm"]


@pytest.mark.parametrize(
    ("data", "sent"),
    [
        ({"severity": "critical"}, True),
        ({"severity": "critical", "title": "Plant room"}, True),
        ({"severity": "warning"}, False),
        ({}, False),  # the recipient's default
    ],
)
async def test_entity_action_sends_with_its_severity(
    hass: HomeAssistant,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    data: dict[str, Any],
    *,
    sent: bool,
) -> None:
    """sms_alerts.send_message on a notify entity: critical passes the recipient's quiet hours, without entry id."""
    await night_entry(hass, gateway, freezer, NIGHT)
    await send_message(hass, "FIRE", **data)
    expected = "Plant room\nFIRE" if "title" in data else "FIRE"
    assert [m.text for m in gateway.sim.messages] == ([expected] if sent else [])


async def test_entity_action_without_severity_uses_a_critical_recipients_default(
    hass: HomeAssistant, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """Without a severity the entity action sends with the recipient's default."""
    await night_entry(hass, gateway, freezer, {**NIGHT, "severity": "critical"})
    await send_message(hass, "FIRE")
    assert [m.text for m in gateway.sim.messages] == ["FIRE"]


async def test_entity_action_refuses_an_unknown_severity(
    hass: HomeAssistant, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """A severity outside info, warning and critical is refused before anything is sent."""
    await night_entry(hass, gateway, freezer, NIGHT)
    with pytest.raises(vol.Invalid):
        await send_message(hass, "FIRE", severity="urgent")
    assert gateway.sim.messages == []


async def test_entity_action_failure_is_a_translated_error(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """A bad message through the entity action is refused as notify.send_message refuses it."""
    with pytest.raises(ServiceValidationError, match="The message is empty"):
        await send_message(hass, " ", severity="critical")
    assert gateway.sim.messages == []


async def test_recipient_flow_stores_the_severity(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """The recipient form offers the severity; the chosen one is stored and used by its notify entity."""
    result = await hass.config_entries.subentries.async_init(
        (loaded_gateway.entry_id, "recipient"), context={"source": SOURCE_USER}
    )
    assert "severity" in result["data_schema"].schema
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Night shift", "target": "0171 9876543", "severity": "critical"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    subentry = next(s for s in loaded_gateway.subentries.values() if s.title == "Night shift")
    assert subentry.data == {"target": "+491719876543", "severity": "critical"}


async def test_recipient_reconfigure_keeps_a_missing_severity_as_warning(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry
) -> None:
    """Editing a recipient made before severities suggests warning, and saves what is chosen."""
    subentry = next(iter(loaded_gateway.subentries.values()))
    assert "severity" not in subentry.data
    result = await hass.config_entries.subentries.async_init(
        (loaded_gateway.entry_id, "recipient"),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry.subentry_id},
    )
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "On call", "target": RECIPIENT}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded_gateway.subentries[subentry.subentry_id].data == {"target": RECIPIENT, "severity": "warning"}
