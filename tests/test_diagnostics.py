"""Diagnostics hold what helps and nothing private."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from homeassistant.config_entries import SOURCE_USER, ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sms_alerts.const import DOMAIN
from custom_components.sms_alerts.diagnostics import async_get_config_entry_diagnostics
from simulators.base import Fault, Simulator
from simulators.brevisone import BrevisOneSimulator
from simulators.ipex import DEMO_API_PASSWORD as IPEX_API_PASSWORD
from simulators.ipex import DEMO_API_USER as IPEX_API_USER
from simulators.ipex import DEMO_EMAIL as IPEX_EMAIL
from simulators.ipex import DEMO_NUMBER as IPEX_NUMBER
from simulators.ipex import DEMO_PASSWORD as IPEX_PASSWORD
from simulators.ipex import DEMO_TRUNK as IPEX_TRUNK
from simulators.ipex import IpexSimulator
from simulators.pbxware import PbxwareSimulator
from simulators.wildix import DEMO_API_KEY as WILDIX_API_KEY
from simulators.wildix import DEMO_PASSWORD as WILDIX_PASSWORD
from simulators.wildix import DEMO_USER as WILDIX_USER
from simulators.wildix import WildixSimulator

from .conftest import GATEWAY_PASSWORD, GATEWAY_USER, RECIPIENT, RunningSimulator, send, serving
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


# Every login kind of every provider: its secret is redacted in the diagnostics and appears nowhere


@dataclass(frozen=True, kw_only=True)
class Login:
    """One way to log in to one provider, set up through the flow against its simulator."""

    provider: str  # the menu step
    simulator: Callable[[], Simulator]
    form: Callable[[RunningSimulator], dict[str, Any]]
    secrets: frozenset[str]  # the entry's keys holding a secret
    sender: str | None = None  # IPEX's second step
    prepare: Callable[[Any], None] = lambda _sim: None
    api: str | None = None  # the SMS Gateway API the flow must have found


def _no_rest(sim: Any) -> None:
    """A firmware-3 gateway: api.php only."""
    sim.rest_api = False


def _no_chat(sim: Any) -> None:
    """An IPEX account without SMS Chat: instant SMS from its trunk."""
    sim.sms_chat = False


def _ipex_hosts(sim: RunningSimulator) -> dict[str, Any]:
    """Every IPEX host pointing at the simulator."""
    return {"url": sim.url, "auth_url": f"{sim.url}/token", "instant_url": f"{sim.url}/v1/sms"}


LOGINS = {
    "sms_gateway api.php login": Login(
        provider="sms_gateway",
        simulator=BrevisOneSimulator,
        form=lambda sim: {"url": sim.url, "username": GATEWAY_USER, "password": GATEWAY_PASSWORD},
        secrets=frozenset({"password"}),
        prepare=_no_rest,
        api="legacy",
    ),
    # The REST API's JWT lives in memory only: it is caught in the Authorization headers the simulator saw
    "sms_gateway rest login": Login(
        provider="sms_gateway",
        simulator=BrevisOneSimulator,
        form=lambda sim: {"url": sim.url, "username": GATEWAY_USER, "password": GATEWAY_PASSWORD},
        secrets=frozenset({"password"}),
        api="rest",
    ),
    "wildix login": Login(
        provider="wildix",
        simulator=WildixSimulator,
        form=lambda sim: {"url": sim.url, "username": WILDIX_USER, "password": WILDIX_PASSWORD},
        secrets=frozenset({"password"}),
    ),
    "wildix api_key": Login(
        provider="wildix",
        simulator=WildixSimulator,
        form=lambda sim: {"url": sim.url, "api_key": WILDIX_API_KEY},
        secrets=frozenset({"api_key"}),
    ),
    "pbxware api_key": Login(
        provider="pbxware",
        simulator=PbxwareSimulator,
        form=lambda sim: {"url": sim.url, "api_key": "ha-alerts-key", "server": "1"},
        secrets=frozenset({"api_key"}),
    ),
    "ipex password": Login(
        provider="ipex",
        simulator=IpexSimulator,
        form=lambda sim: {**_ipex_hosts(sim), "username": IPEX_EMAIL, "password": IPEX_PASSWORD},
        secrets=frozenset({"password"}),
        sender=IPEX_NUMBER,
    ),
    "ipex api_token": Login(
        provider="ipex",
        simulator=IpexSimulator,
        form=lambda sim: {**_ipex_hosts(sim), "api_token": sim.sim.issue_token()},
        secrets=frozenset({"api_token"}),
        sender=IPEX_NUMBER,
    ),
    "ipex rest api login": Login(
        provider="ipex",
        simulator=IpexSimulator,
        form=lambda sim: {**_ipex_hosts(sim), "username": IPEX_API_USER, "password": IPEX_API_PASSWORD},
        secrets=frozenset({"password"}),
        sender=IPEX_TRUNK,
        prepare=_no_chat,
    ),
}
# Keys whose values are private though not secret: shown redacted as well
PRIVATE = frozenset({"username", "url", "auth_url", "instant_url", "webhook_id", "webhook_url", "sender", "gsm"})
# Names under which a secret travels in a query string or form
SECRET_FIELDS = frozenset({"password", "apikey", "api_key", "token", "access_token", "refresh_token", "jwt"})


def secrets_on_the_wire(sim: Any) -> set[str]:
    """Every credential the simulator was sent: Authorization values (tokens, JWTs, keys, Basic) and secret fields."""
    found: set[str] = set()
    for request in sim.requests:
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        found.add(credential or scheme)
        for fields in (request.query, request.form):
            found.update(value for name, value in fields.items() if name.lower() in SECRET_FIELDS)
    found.discard("")
    return found


@pytest.mark.parametrize("login", list(LOGINS))
async def test_every_login_is_redacted_and_never_shown(
    hass: HomeAssistant, socket_enabled: None, login: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Set up, a send, a failed try: the login's secrets are redacted in diagnostics and absent from every text."""
    kind = LOGINS[login]
    caplog.set_level(logging.DEBUG)
    async with serving(kind.simulator()) as running:
        kind.prepare(running.sim)
        entry = await _entry_through_the_flow(hass, kind, running)
        texts = [json.dumps(await send(hass, entry, message="x", target=[RECIPIENT]))]  # type: ignore[arg-type]
        running.sim.fail(Fault.HTML_500)
        texts.append(json.dumps(await send(hass, entry, message="y", target=[RECIPIENT])))  # type: ignore[arg-type]
        running.sim.recover()
        diagnostics = await async_get_config_entry_diagnostics(hass, entry)  # type: ignore[arg-type]
        for key in entry.data.keys() & (kind.secrets | PRIVATE):
            assert diagnostics["entry"]["data"][key] == "**REDACTED**", key
        texts.append(json.dumps(diagnostics))
        texts += [record.getMessage() for record in caplog.records]
        texts += [record.exc_text or "" for record in caplog.records]
        secrets = {entry.data[key] for key in kind.secrets} | secrets_on_the_wire(running.sim)
        assert len(secrets) >= len(kind.secrets)
        for secret in secrets:
            assert not [text for text in texts if secret in text]
        assert await hass.config_entries.async_unload(entry.entry_id)


async def _entry_through_the_flow(hass: HomeAssistant, kind: Login, running: RunningSimulator) -> ConfigEntry:
    """Make the entry as a user would: the menu, the form and, for IPEX, the sender."""
    hass.config.country = "DE"
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": kind.provider})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], kind.form(running))
    if kind.sender is not None:
        assert result.get("step_id") == "sender", result
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {"sender": kind.sender})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    entry: ConfigEntry = result["result"]
    await hass.async_block_till_done(wait_background_tasks=True)
    assert kind.secrets <= entry.data.keys()
    if kind.api is not None:
        assert entry.data["api"] == kind.api
    return entry
