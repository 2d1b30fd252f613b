"""The automation blueprint imports cleanly and sends, falls back and stops on acknowledgement.

Loaded into an automation of a test Home Assistant and fired against the SMS Gateway simulator.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import models
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.sms_alerts.const import DOMAIN

from .conftest import RECIPIENT, RunningSimulator, gateway_entry_for

BLUEPRINT = Path(__file__).parent.parent / "blueprints" / "automation" / "sms_alerts" / "state_alert.yaml"
WATCHED = "binary_sensor.freezer_door"
OTHER = "+491709876543"


def test_blueprint_is_valid() -> None:
    """Home Assistant reads it as an automation blueprint with its inputs."""
    blueprint = models.Blueprint(
        load_yaml_dict(str(BLUEPRINT)), expected_domain="automation", schema=AUTOMATION_BLUEPRINT_SCHEMA
    )
    assert blueprint.name == "SMS alert when an entity enters a state"
    assert {"watched", "sms_entry", "recipients", "backup_entry", "message", "severity", "reminders"} <= set(
        blueprint.inputs
    )


def test_every_input_is_explained_in_words() -> None:
    """Each input says what it does; severities read as words; no template is shown as a default."""
    inputs = load_yaml_dict(str(BLUEPRINT))["blueprint"]["input"]
    assert [key for key, data in inputs.items() if len(data.get("description", "")) < 20] == []
    options = inputs["severity"]["selector"]["select"]["options"]
    assert [option["label"] for option in options] == ["Critical", "Warning", "Information"]
    assert [option["value"] for option in options] == ["critical", "warning", "info"]
    assert [key for key, data in inputs.items() if "{{" in str(data.get("default", ""))] == []
    recipients = inputs["recipients"]["selector"]["entity"]
    assert recipients["multiple"] is True
    assert recipients["filter"] == [{"integration": "sms_alerts", "domain": "notify"}]


async def use_blueprint(hass: HomeAssistant, **inputs: Any) -> None:
    """Install the blueprint in the configuration and set up an automation from it."""
    target = Path(hass.config.path("blueprints", "automation", "sms_alerts"))
    await hass.async_add_executor_job(lambda: target.mkdir(parents=True, exist_ok=True))
    await hass.async_add_executor_job(shutil.copy, BLUEPRINT, target / BLUEPRINT.name)
    hass.states.async_set(WATCHED, "off", {"friendly_name": "Freezer door"})
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "use_blueprint": {"path": "sms_alerts/state_alert.yaml", "input": {"watched": WATCHED, **inputs}}
            }
        },
    )
    await hass.async_block_till_done()


async def test_alert_is_sent_when_the_entity_enters_the_state(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """The door opens: the recipients get the default message, with the name and state as the UI shows them."""
    assert await async_setup_component(hass, "binary_sensor", {})
    await use_blueprint(hass, sms_entry=loaded_gateway.entry_id)
    hass.states.async_set(WATCHED, "on", {"friendly_name": "Freezer door", "device_class": "door"})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [m.text for m in gateway.sim.messages] == ["Freezer door is Open"]


async def test_only_the_chosen_recipients_get_the_alert(hass: HomeAssistant, gateway: RunningSimulator) -> None:
    """Recipients chosen by their notify entities: the others of the entry get nothing."""
    entry = gateway_entry_for(gateway)
    entry.add_to_hass(hass)
    hass.config_entries.async_add_subentry(
        entry,
        ConfigSubentry(
            data=MappingProxyType({"target": OTHER}), subentry_type="recipient", title="Night shift", unique_id=OTHER
        ),
    )
    hass.config.country = "DE"
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    night = er.async_get(hass).async_get_entity_id(
        "notify", DOMAIN, f"{entry.entry_id}_{_subentry(entry, OTHER)}_notify"
    )
    assert night is not None
    await use_blueprint(hass, sms_entry=entry.entry_id, recipients=[night], message="Freezer open")
    hass.states.async_set(WATCHED, "on")
    await hass.async_block_till_done(wait_background_tasks=True)
    # The SMS Gateway is sent numbers as 0049…
    assert [(m.to, m.text) for m in gateway.sim.messages] == [("00" + OTHER[1:], "Freezer open")]


async def test_recipient_entities_and_numbers_mix_in_one_send(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """A recipient's notify entity beside a plain number: the entity becomes its target, the number stays."""
    response = await hass.services.async_call(
        DOMAIN,
        "send",
        {"config_entry_id": loaded_gateway.entry_id, "message": "Freezer open", "target": ["notify.on_call", OTHER]},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert [result["target"] for result in response["results"]] == [RECIPIENT, OTHER]  # type: ignore[index,union-attr]
    assert sorted(m.to for m in gateway.sim.messages) == sorted("00" + number[1:] for number in (RECIPIENT, OTHER))


def _subentry(entry: MockConfigEntry, target: str) -> str:
    """The id of the entry's recipient with that target."""
    return next(key for key, sub in entry.subentries.items() if sub.data["target"] == target)


async def test_an_entity_that_is_no_recipient_is_refused(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """A notify entity of another integration among the targets: a clear error, nothing sent."""
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "send",
            {"config_entry_id": loaded_gateway.entry_id, "message": "Freezer open", "target": ["notify.persistent"]},
            blocking=True,
        )
    assert err.value.translation_key == "unknown_recipient_entity"
    assert gateway.sim.messages == []


async def test_second_entry_sends_when_the_first_fails(
    hass: HomeAssistant, gateway: RunningSimulator, second_gateway: RunningSimulator
) -> None:
    """A refused login on the first entry: the second entry sends the alert."""
    first = gateway_entry_for(gateway, title="First")
    second = gateway_entry_for(second_gateway, title="Second")
    for entry in (first, second):
        entry.add_to_hass(hass)
    hass.config.country = "DE"
    assert await hass.config_entries.async_setup(first.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    gateway.sim.users["apiuser"].password = "rotated"
    await use_blueprint(hass, sms_entry=first.entry_id, backup_entry=second.entry_id, message="Freezer open")
    hass.states.async_set(WATCHED, "on")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert gateway.sim.messages == []
    assert [m.text for m in second_gateway.sim.messages] == ["Freezer open"]


async def settle(hass: HomeAssistant, done: Callable[[], bool], rounds: int = 5000) -> None:
    """Run the loop until `done`: the automation waits for a trigger, so block_till_done would wait forever."""
    for _ in range(rounds):
        if done():
            return
        await asyncio.sleep(0)


@pytest.mark.parametrize(("acknowledge", "expected"), [(None, 3), ("own", 1), ("other", 3)])
async def test_reminders_stop_when_acknowledged(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    acknowledge: str | None,
    expected: int,
) -> None:
    """Reminders repeat the alert until its entry reports it acknowledged; another entry's reply does not stop them."""
    hass.config_entries.async_update_entry(loaded_gateway, options={"dedup_minutes": 0})
    await hass.async_block_till_done(wait_background_tasks=True)
    await use_blueprint(
        hass, sms_entry=loaded_gateway.entry_id, message="Freezer open", reminders=2, reminder_minutes=15
    )
    messages = gateway.sim.messages
    hass.states.async_set(WATCHED, "on")
    await settle(hass, lambda: len(messages) == 1)
    await settle(hass, lambda: False, rounds=200)  # let the run reach its wait for the acknowledgement
    if acknowledge:
        entry_id = loaded_gateway.entry_id if acknowledge == "own" else "another_entry"
        hass.bus.async_fire("sms_alerts_acknowledged", {"entry_id": entry_id, "reference": "#1"})
    for sent in (2, 3):
        freezer.tick(timedelta(minutes=16))
        async_fire_time_changed(hass)
        await settle(hass, lambda sent=sent: len(messages) == sent)
        await settle(hass, lambda: False, rounds=200)
    assert [m.text for m in messages] == ["Freezer open"] * expected
