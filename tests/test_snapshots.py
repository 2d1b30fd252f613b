"""Snapshots of what users and automations read: the entities, the diagnostics and the send action's response.

Home Assistant's own structures (registry entries, state objects) gain fields between versions, so each
snapshot holds only the fields this integration sets, and random ids are replaced by their role.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.sms_alerts.diagnostics import async_get_config_entry_diagnostics
from simulators.base import Fault

from .conftest import RECIPIENT, RunningSimulator, send

NOW = "2026-11-23T08:00:00+00:00"


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Home Assistant's snapshot format and folder (tests/snapshots), as core's tests use them."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture(autouse=True)
def _frozen(freezer: FrozenDateTimeFactory) -> None:
    """Fix the clock: times appear in states, diagnostics and responses."""
    freezer.move_to(NOW)


def _ids(entry: MockConfigEntry) -> dict[str, str]:
    """Name the random ids of an entry by their role."""
    ids = {entry.entry_id: "ENTRY_ID"}
    ids |= {subentry_id: f"SUBENTRY_{sub.title}" for subentry_id, sub in entry.subentries.items()}
    return ids


def _named(value: Any, ids: dict[str, str]) -> Any:
    """Replace random ids anywhere in a value by their role."""
    if isinstance(value, str):
        for raw, name in ids.items():
            value = value.replace(raw, name)
        return value
    if isinstance(value, dict):
        return {key: _named(item, ids) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_named(item, ids) for item in value]
    return value


def _entities(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    """Return each entity of the entry: what this integration sets in the registry, and its state."""
    registry = er.async_get(hass)
    found: dict[str, Any] = {}
    for entity in sorted(er.async_entries_for_config_entry(registry, entry.entry_id), key=lambda e: e.entity_id):
        state = hass.states.get(entity.entity_id)
        assert state is not None, entity.entity_id
        found[entity.entity_id] = {
            "unique_id": entity.unique_id,
            "translation_key": entity.translation_key,
            "device_class": entity.original_device_class,
            "entity_category": None if entity.entity_category is None else str(entity.entity_category),
            "unit_of_measurement": entity.unit_of_measurement,
            # As stored (2026.x keys some by an enum, 2025.4 by its string)
            "capabilities": None if entity.capabilities is None else json.loads(json.dumps(entity.capabilities)),
            "state": state.state,
            # As the frontend reads them: JSON (a feature flag is its number)
            "attributes": json.loads(json.dumps(dict(state.attributes))),
        }
    return _named(found, _ids(entry))


async def test_entities(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    snapshot: SnapshotAssertion,
) -> None:
    """The SMS Gateway entry's entities after a send to its recipient's notify entity."""
    await hass.services.async_call(
        "notify", "send_message", {"entity_id": "notify.on_call", "message": "Door open"}, blocking=True
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _entities(hass, loaded_gateway) == snapshot


async def test_diagnostics(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    snapshot: SnapshotAssertion,
) -> None:
    """Diagnostics with a sent message and one that waits for its next try."""
    await send(hass, loaded_gateway, message="Freezer warm", target=[RECIPIENT])
    gateway.sim.fail(Fault.HTTP_503)
    await send(hass, loaded_gateway, message="Freezer still warm", target=["group:Oncall"])
    diagnostics = await async_get_config_entry_diagnostics(hass, loaded_gateway)
    # The first retry comes after 30 s ± 20 %: the jitter stays out of the snapshot
    for item in diagnostics["outbox"]["queued"]:
        assert 24 <= item.pop("next_attempt_in_s") <= 36
    assert _named(diagnostics, _ids(loaded_gateway)) == snapshot


async def test_send_response(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    snapshot: SnapshotAssertion,
) -> None:
    """The action's response for a sent target, a refused one and one the outbox holds back as a duplicate."""
    await send(hass, loaded_gateway, message="Rack B2 is hot", target=[RECIPIENT])
    response = await send(hass, loaded_gateway, message="Rack B2 is hot", target=[RECIPIENT, "group:Nobody", "ext:12"])
    assert response == snapshot
