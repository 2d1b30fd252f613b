"""Event entities: inbound SMS, delivery reports, acknowledgements and given-up messages, beside their bus events."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import STATE_UNKNOWN
from homeassistant.core import HomeAssistant, State
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sms_alerts.const import DOMAIN
from custom_components.sms_alerts.outbox.notices import MAX_ATTRIBUTE

from .conftest import RunningSimulator, send
from .test_provider_integration import NUMBER, ipex_entry

CHAT_NUMBER = "+420777888999"
KINDS = ("received", "delivery", "acknowledged", "given_up")


def event_entity_id(hass: HomeAssistant, entry: ConfigEntry, kind: str) -> str | None:
    """Return the entity id of one of the entry's event entities, by its unique id."""
    return er.async_get(hass).async_get_entity_id("event", DOMAIN, f"{entry.entry_id}_event_{kind}")


def event_state(hass: HomeAssistant, entry: ConfigEntry, kind: str) -> State:
    """Return the state of one of the entry's event entities."""
    entity_id = event_entity_id(hass, entry, kind)
    assert entity_id is not None, kind
    state = hass.states.get(entity_id)
    assert state is not None
    return state


def attributes(state: State) -> dict[str, Any]:
    """The event's attributes, without those every event entity has."""
    return {key: value for key, value in state.attributes.items() if key not in ("event_types", "friendly_name")}


async def post(hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, entry: ConfigEntry, body: Any) -> None:
    """POST a callback to the entry's webhook."""
    client = await hass_client_no_auth()
    assert (await client.post(f"/api/webhook/{entry.data['webhook_id']}", json=body)).status == 200
    await hass.async_block_till_done()


async def test_an_ipex_entry_has_four_event_entities_on_its_device(
    hass: HomeAssistant, ipex_sim: RunningSimulator
) -> None:
    """Each kind of event has an entity on the account device, with its event types declared; none fired yet."""
    entry = await ipex_entry(hass, ipex_sim.url)
    registry = er.async_get(hass)
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    account = next(device for device in devices if (DOMAIN, entry.entry_id) in device.identifiers)
    types = {}
    for kind in KINDS:
        entity_id = event_entity_id(hass, entry, kind)
        assert entity_id is not None
        entity = registry.async_get(entity_id)
        assert entity is not None
        assert (entity.device_id, entity.translation_key) == (account.id, kind)
        state = event_state(hass, entry, kind)
        assert state.state == STATE_UNKNOWN
        types[kind] = state.attributes["event_types"]
    assert types == {
        "received": ["received"],
        "delivery": ["delivered", "failed", "other"],
        "acknowledged": ["acknowledged"],
        "given_up": ["given_up"],
    }


async def test_an_entry_without_webhook_has_only_the_given_up_entity(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry
) -> None:
    """Replies and delivery reports cannot reach an SMS Gateway entry: no entities for them."""
    assert [kind for kind in KINDS if event_entity_id(hass, loaded_gateway, kind)] == ["given_up"]


async def test_inbound_sms_fires_the_event_and_the_entity(
    hass: HomeAssistant, ipex_sim: RunningSimulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """An inbound SMS fires sms_alerts_received as before, and the received entity shows the same data."""
    entry = await ipex_entry(hass, ipex_sim.url)
    received = async_capture_events(hass, "sms_alerts_received")
    await post(
        hass,
        hass_client_no_auth,
        entry,
        {"id": "in-1", "from": NUMBER, "to": CHAT_NUMBER, "text": "hi", "direction": "IN"},
    )
    assert [e.data for e in received] == [{"entry_id": entry.entry_id, "from": NUMBER, "to": CHAT_NUMBER, "text": "hi"}]
    state = event_state(hass, entry, "received")
    assert state.state != STATE_UNKNOWN
    assert attributes(state) == {"event_type": "received", "from": NUMBER, "to": CHAT_NUMBER, "text": "hi"}
    # The others did not fire
    assert event_state(hass, entry, "acknowledged").state == STATE_UNKNOWN
    assert event_state(hass, entry, "delivery").state == STATE_UNKNOWN


@pytest.mark.parametrize(
    ("report_state", "event_type"),
    [("DELIVERED", "delivered"), ("FAILED", "failed"), ("BUFFERED", "other")],
)
async def test_delivery_report_fires_the_event_and_the_entity(
    hass: HomeAssistant,
    ipex_sim: RunningSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    report_state: str,
    event_type: str,
) -> None:
    """A delivery report shows on the delivery entity, its state as event type; the bus event stays."""
    entry = await ipex_entry(hass, ipex_sim.url)
    response = await send(hass, entry, message="Freezer warm", target=[NUMBER])
    message_id = response["results"][0]["id"]
    delivery = async_capture_events(hass, "sms_alerts_delivery")
    await post(hass, hass_client_no_auth, entry, {"id": message_id, "to": NUMBER, "state": report_state})
    assert [e.data for e in delivery] == [
        {"entry_id": entry.entry_id, "id": message_id, "to": NUMBER, "state": report_state}
    ]
    state = event_state(hass, entry, "delivery")
    assert attributes(state) == {"event_type": event_type, "id": message_id, "to": NUMBER, "state": report_state}


async def test_a_failed_delivery_also_shows_as_given_up(
    hass: HomeAssistant, ipex_sim: RunningSimulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """Without a fallback, a message whose delivery failed is given up: sms_alerts_failed and its entity."""
    entry = await ipex_entry(hass, ipex_sim.url)
    response = await send(hass, entry, message="Freezer warm", target=[NUMBER])
    failed = async_capture_events(hass, "sms_alerts_failed")
    await post(hass, hass_client_no_auth, entry, {"id": response["results"][0]["id"], "to": NUMBER, "state": "FAILED"})
    assert len(failed) == 1
    state = event_state(hass, entry, "given_up")
    assert attributes(state) == {
        "event_type": "given_up",
        "target": NUMBER,
        "message": "Freezer warm",
        "error": "the provider reported the delivery as failed",
    }


async def test_acknowledgement_fires_the_event_and_the_entity(
    hass: HomeAssistant, ipex_sim: RunningSimulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """A reply quoting an alert's reference shows on the acknowledgement entity as it does on the bus."""
    entry = await ipex_entry(hass, ipex_sim.url)
    hass.config_entries.async_update_entry(entry, options={"ack_reference": True})
    await hass.async_block_till_done(wait_background_tasks=True)
    await send(hass, entry, message="Freezer warm", target=[NUMBER])
    acknowledged = async_capture_events(hass, "sms_alerts_acknowledged")
    reply = {"id": "r1", "from": NUMBER, "to": CHAT_NUMBER, "text": "ACK #1", "direction": "IN"}
    await post(hass, hass_client_no_auth, entry, reply)
    assert len(acknowledged) == 1
    state = event_state(hass, entry, "acknowledged")
    assert attributes(state) == {
        "event_type": "acknowledged",
        "reference": "#1",
        "target": NUMBER,
        "message": "Freezer warm",
        "from": NUMBER,
    }
    assert attributes(event_state(hass, entry, "received"))["text"] == "ACK #1"


async def test_given_up_message_fires_the_event_and_the_entity(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """A target the gateway refuses is given up: sms_alerts_failed, and the given-up entity with the same data."""
    events = async_capture_events(hass, "sms_alerts_failed")
    with pytest.raises(HomeAssistantError):
        await send(hass, loaded_gateway, message="Freezer warm", target=["group:Nobody"])
    await hass.async_block_till_done()
    assert len(events) == 1
    state = event_state(hass, loaded_gateway, "given_up")
    assert state.state != STATE_UNKNOWN
    assert attributes(state) == {
        "event_type": "given_up",
        "target": "group:Nobody",
        "message": "Freezer warm",
        "error": "HTTP 400: Error. See Gateway logs for more information.",
    }


async def test_event_entity_attributes_are_bounded(
    hass: HomeAssistant, ipex_sim: RunningSimulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """A long inbound text is cut on the entity (the bus event keeps what the webhook took)."""
    entry = await ipex_entry(hass, ipex_sim.url)
    received = async_capture_events(hass, "sms_alerts_received")
    text = "x" * (MAX_ATTRIBUTE * 2)
    await post(
        hass,
        hass_client_no_auth,
        entry,
        {"id": "in-1", "from": NUMBER, "to": CHAT_NUMBER, "text": text, "direction": "IN"},
    )
    assert received[0].data["text"] == text
    shown = event_state(hass, entry, "received").attributes["text"]
    assert len(shown) == MAX_ATTRIBUTE
    assert shown.endswith("…")


async def test_the_last_event_is_restored_after_a_reload(
    hass: HomeAssistant, ipex_sim: RunningSimulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """After a reload the entity still shows the last event, and follows new ones."""
    entry = await ipex_entry(hass, ipex_sim.url)
    await post(
        hass,
        hass_client_no_auth,
        entry,
        {"id": "1", "from": NUMBER, "to": CHAT_NUMBER, "text": "one", "direction": "IN"},
    )
    before = event_state(hass, entry, "received")
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    after = event_state(hass, entry, "received")
    assert (after.state, after.attributes["text"]) == (before.state, "one")
    await post(
        hass,
        hass_client_no_auth,
        entry,
        {"id": "2", "from": NUMBER, "to": CHAT_NUMBER, "text": "two", "direction": "IN"},
    )
    assert event_state(hass, entry, "received").attributes["text"] == "two"
