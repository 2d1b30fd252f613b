"""An account outlives its address: reconfigure moves it, one device under two names is one entry, names carry no IP."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import aiohttp
import pytest
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import aiohttp_client
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sms_alerts.const import DOMAIN
from simulators.brevisone import ApiUser, BrevisOneSimulator
from simulators.ipex import DEMO_EMAIL, DEMO_NUMBER, DEMO_PASSWORD
from simulators.pbxware import PbxwareSimulator

from .conftest import GATEWAY_PASSWORD, GATEWAY_USER, RECIPIENT, RunningSimulator, send, serving


def gateway_form(address: str, **overrides: Any) -> dict[str, Any]:
    """The sms_gateway form as a user fills it in."""
    return {
        "url": address,
        "username": GATEWAY_USER,
        "password": GATEWAY_PASSWORD,
        "verify_ssl": True,
        "telegram": False,
        **overrides,
    }


async def add_entry(hass: HomeAssistant, provider: str, user_input: dict[str, Any]) -> dict[str, Any]:
    """Run the user flow of a provider to its end."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": provider})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    await hass.async_block_till_done(wait_background_tasks=True)
    return dict(result)


async def reconfigure(hass: HomeAssistant, entry: ConfigEntry, user_input: dict[str, Any]) -> dict[str, Any]:
    """Run the reconfigure flow of an entry to its end."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    assert result["step_id"] == "reconfigure"
    assert "name" not in {str(key) for key in result["data_schema"].schema}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    await hass.async_block_till_done(wait_background_tasks=True)
    return dict(result)


def entity_ids(hass: HomeAssistant, entry: ConfigEntry) -> dict[str, str]:
    """The entry's entity ids by their unique ids."""
    return {
        item.unique_id: item.entity_id for item in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    }


def stored_entry(sim: RunningSimulator, *, title: str, unique_id: str) -> MockConfigEntry:
    """An SMS Gateway entry as version 1.2 stored it: address in its unique id and title, one recipient."""
    return MockConfigEntry(
        domain=DOMAIN,
        version=1,
        minor_version=2,
        title=title,
        unique_id=unique_id,
        options={"max_age_hours": 12},
        data={
            "provider": "sms_gateway",
            "url": f"{sim.url}/",
            "username": GATEWAY_USER,
            "password": GATEWAY_PASSWORD,
            "verify_ssl": True,
            "telegram": False,
            "legacy_tls": False,
            "api": "rest",
        },
        subentries_data=[
            {"data": {"target": RECIPIENT}, "subentry_type": "recipient", "title": "On call", "unique_id": RECIPIENT}
        ],
    )


async def test_reconfigure_to_a_new_port_keeps_recipients_options_and_entity_ids(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """The gateway answers on a new port: reconfigure moves the entry there; nothing else changes."""
    hass.config.country = "DE"
    async with contextlib.AsyncExitStack() as stack:
        old = await stack.enter_async_context(serving(BrevisOneSimulator()))
        made = await add_entry(hass, "sms_gateway", gateway_form(old.url))
        entry = made["result"]
        hass.config_entries.async_update_entry(entry, options={"max_age_hours": 12})
        result = await hass.config_entries.subentries.async_init(
            (entry.entry_id, "recipient"), context={"source": SOURCE_USER}
        )
        await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"name": "On call", "target": RECIPIENT}
        )
        await hass.async_block_till_done(wait_background_tasks=True)
        before = (entity_ids(hass, entry), dict(entry.subentries), dict(entry.options), entry.unique_id)
        assert "notify.on_call" in before[0].values()
        await stack.aclose()  # the old address answers no more

        async with serving(old.sim) as moved:
            result = await reconfigure(hass, entry, gateway_form(moved.url))
            assert result["type"] is FlowResultType.ABORT
            assert result["reason"] == "reconfigure_successful"
            assert entry.data["url"] == f"{moved.url}/"
            assert (entity_ids(hass, entry), dict(entry.subentries), dict(entry.options), entry.unique_id) == before
            assert entry.state is ConfigEntryState.LOADED
            assert hass.services.has_service("notify", "sms_gateway_apiuser")
            assert (await send(hass, entry, message="moved"))["results"][0]["status"] == "sent"
            assert [message.text for message in moved.sim.messages] == ["moved"]


async def test_reconfigure_to_another_account_at_a_new_address_aborts(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, second_gateway: RunningSimulator
) -> None:
    """Another user on another gateway is another account, even with the address changed too."""
    second_gateway.sim.users["apiuser2"] = ApiUser(password="secret2")
    result = await reconfigure(
        hass, loaded_gateway, gateway_form(second_gateway.url, username="apiuser2", password="secret2")
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert loaded_gateway.data["url"] != f"{second_gateway.url}/"


async def test_reconfigure_onto_another_entrys_account_aborts(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """Reconfiguring one entry into the account of another would make two entries of one account."""
    gateway.sim.users["apiuser2"] = ApiUser(password="secret2")
    other = (await add_entry(hass, "sms_gateway", gateway_form(gateway.url, username="apiuser2", password="secret2")))[
        "result"
    ]
    result = await reconfigure(hass, other, gateway_form(gateway.url))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert other.data["username"] == "apiuser2"


@pytest.fixture
def names_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    """Home Assistant's session resolves names through the system, as at home.

    The test plugin gives every test one shared resolver, which the first Home Assistant to stop closes
    on 2026.x; a test that needs a name resolved gets its own.
    """

    def make(_hass: HomeAssistant) -> aiohttp.ThreadedResolver:
        resolver = aiohttp.ThreadedResolver()
        resolver.real_close = resolver.close  # type: ignore[attr-defined] # what 2026.x closes at the end
        return resolver

    monkeypatch.setattr(aiohttp_client, "_async_make_resolver", make)


@pytest.mark.usefixtures("names_resolve")
async def test_the_same_gateway_as_localhost_and_127_0_0_1_is_one_entry(
    hass: HomeAssistant, gateway: RunningSimulator
) -> None:
    """One device under two names: the second setup aborts instead of making a twin entry."""
    localhost = gateway.url.replace("127.0.0.1", "localhost")
    first = await add_entry(hass, "sms_gateway", gateway_form(localhost))
    assert first["type"] is FlowResultType.CREATE_ENTRY
    second = await add_entry(hass, "sms_gateway", gateway_form(gateway.url))
    assert second["type"] is FlowResultType.ABORT
    assert second["reason"] == "already_configured"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_a_name_given_in_the_flow_names_the_entry_its_entities_and_its_notify_action(
    hass: HomeAssistant, gateway: RunningSimulator
) -> None:
    """The name field sets the title; without it the title is the account's, with no address in it."""
    gateway.sim.users["apiuser2"] = ApiUser(password="secret2")
    named = await add_entry(hass, "sms_gateway", gateway_form(gateway.url, name="Plant gateway"))
    assert named["title"] == "Plant gateway"
    assert hass.services.has_service("notify", "plant_gateway")
    assert hass.states.get("sensor.plant_gateway_last_send_status") is not None
    unnamed = await add_entry(hass, "sms_gateway", gateway_form(gateway.url, username="apiuser2", password="secret2"))
    assert unnamed["title"] == "SMS Gateway apiuser2"
    port = gateway.url.rpartition(":")[2]
    assert all(port not in entity_id for entity_id in entity_ids(hass, unnamed["result"]).values())


async def test_a_name_another_entry_has_is_refused(hass: HomeAssistant, gateway: RunningSimulator) -> None:
    """Two entries of one name would share notify.<name>: the form asks for another, then creates the entry."""
    gateway.sim.users["apiuser2"] = ApiUser(password="secret2")
    await add_entry(hass, "sms_gateway", gateway_form(gateway.url, name="Alarm"))
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "sms_gateway"})
    second = gateway_form(gateway.url, username="apiuser2", password="secret2")
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {**second, "name": "alarm"})
    assert result["errors"] == {"name": "name_taken"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {**second, "name": "Alarm 2"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_migration_from_1_2_keeps_title_entity_ids_and_notify_service_and_allows_a_move(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """A 1.2 entry gets an address-free unique id; its title, entity ids and notify.<title> stay, and it can move."""
    hass.config.country = "DE"
    async with serving(BrevisOneSimulator()) as old:
        netloc = old.url.removeprefix("http://")
        entry = stored_entry(old, title=f"SMS Gateway {netloc}", unique_id=f"apiuser@{netloc}")
        entry.add_to_hass(hass)
        slug = f"sms_gateway_127_0_0_1_{netloc.rpartition(':')[2]}"
        registry = er.async_get(hass)
        kept = registry.async_get_or_create(
            "sensor", DOMAIN, f"{entry.entry_id}_last_send_status", config_entry=entry, suggested_object_id=slug
        )
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done(wait_background_tasks=True)
        assert (entry.version, entry.minor_version, entry.unique_id) == (1, 3, "sms_gateway:apiuser")
        assert entry.title == f"SMS Gateway {netloc}"
        assert hass.states.get(kept.entity_id) is not None
        assert hass.services.has_service("notify", slug)
        before = entity_ids(hass, entry)

    async with serving(old.sim) as moved:
        result = await reconfigure(hass, entry, gateway_form(moved.url))
        assert result["reason"] == "reconfigure_successful"
        assert entity_ids(hass, entry) == before
        assert hass.services.has_service("notify", slug)
        await hass.services.async_call("notify", slug, {"message": "still here"}, blocking=True)
        assert [message.text for message in moved.sim.messages] == ["still here"]


async def test_migration_of_one_gateway_stored_twice_keeps_the_second_entrys_id(
    hass: HomeAssistant, gateway: RunningSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Entries for localhost and 127.0.0.1 made before 1.3: the first takes the account's id, the second is named."""
    netloc = gateway.url.removeprefix("http://")
    twin_netloc = netloc.replace("127.0.0.1", "localhost")
    first = stored_entry(gateway, title=f"SMS Gateway {netloc}", unique_id=f"apiuser@{netloc}")
    twin = stored_entry(gateway, title=f"SMS Gateway {twin_netloc}", unique_id=f"apiuser@{twin_netloc}")
    for entry in (first, twin):
        entry.add_to_hass(hass)
    with caplog.at_level(logging.WARNING):
        assert await hass.config_entries.async_setup(first.entry_id)  # sets up every entry of the domain
        await hass.async_block_till_done(wait_background_tasks=True)
    assert first.unique_id == "sms_gateway:apiuser"
    assert (twin.minor_version, twin.unique_id) == (3, f"apiuser@{twin_netloc}")
    assert f"SMS Gateway {twin_netloc} is the same account as SMS Gateway {netloc}" in caplog.text


def pbxware_form(address: str, api_key: str = "ha-alerts-key") -> dict[str, Any]:
    """The pbxware form as a user fills it in."""
    return {"url": address, "api_key": api_key, "server": "1", "verify_ssl": True}


async def test_pbxware_moves_with_its_key_and_takes_a_new_key_at_its_address(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """A PBXware account is its tenant and key: the address may change, or the key, but not both at once."""
    sim = PbxwareSimulator()
    async with serving(sim) as old:
        made = await add_entry(hass, "pbxware", pbxware_form(old.url))
        assert made["title"] == "PBXware tenant 1"
        entry = made["result"]
    async with serving(sim) as moved:
        result = await reconfigure(hass, entry, pbxware_form(moved.url, "sms-only-key"))
        assert result["reason"] == "wrong_account"
        result = await reconfigure(hass, entry, pbxware_form(moved.url))
        assert result["reason"] == "reconfigure_successful"
        result = await reconfigure(hass, entry, pbxware_form(moved.url, "sms-only-key"))
        assert result["reason"] == "reconfigure_successful"
        assert entry.data["api_key"] == "sms-only-key"
        assert entry.unique_id is not None
        assert entry.unique_id.startswith("pbxware:1:")
        assert "sms-only-key" not in entry.unique_id


async def test_an_ipex_entry_takes_the_name_given_before_its_sender_step(
    hass: HomeAssistant, ipex_sim: RunningSimulator
) -> None:
    """The name typed in the IPEX form survives the sender step and names the entry and notify.<name>."""
    hosts = {"url": ipex_sim.url, "auth_url": f"{ipex_sim.url}/token", "instant_url": f"{ipex_sim.url}/v1/sms"}
    login = {"username": DEMO_EMAIL, "password": DEMO_PASSWORD}
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "ipex"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**hosts, **login, "name": "Czech alerts"}
    )
    assert result["step_id"] == "sender"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"sender": DEMO_NUMBER})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Czech alerts"
    assert "name" not in result["data"]
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.services.has_service("notify", "czech_alerts")
