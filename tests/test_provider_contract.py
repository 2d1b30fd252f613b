"""What every provider must do, through the real config flow and real HTTP (a modem: its port) to its simulator."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_USER, ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.sms_alerts.api import PROVIDERS, ProviderKey
from custom_components.sms_alerts.const import DOMAIN
from custom_components.sms_alerts.devices import entry_device
from custom_components.sms_alerts.diagnostics import async_get_config_entry_diagnostics
from simulators.base import MOVED_PATH, Fault, Simulator
from simulators.brevisone import BrevisOneSimulator
from simulators.ipex import IpexSimulator
from simulators.modem import ModemFault, ModemSimulator
from simulators.pbxware import PbxwareSimulator
from simulators.wildix import DEMO_API_KEY, WildixSimulator

from .conftest import RunningSimulator, _serve, send
from .modem_helpers import pseudo_terminals, running_modem, wait_for

NUMBER = "+491701234567"
# Eight digits that appear nowhere else in a test's log
MODEM_PIN = "97315086"
UNICODE = "Příliš žluťoučký kůň 🚨 Grüße € [ok] 100%"


@dataclass(frozen=True, kw_only=True)
class Case:
    """How one provider is set up and where its messages arrive."""

    key: str
    simulator: Callable[[], Simulator]
    form: Callable[[str], dict[str, Any]]
    wrong: dict[str, str]
    secret: str
    received_to: str
    sender_step: dict[str, str] = field(default_factory=dict)
    # The query parameter the vendor documents for the secret (PBXware's action API), if it has one
    query_secret: str | None = None
    # A GSM modem: a serial port (the simulator's pty or memory port), no HTTP
    http: bool = True
    wrong_error: str = "invalid_auth"
    unreachable_error: str = "cannot_connect"


CASES = {
    "sms_gateway": Case(
        key="sms_gateway",
        simulator=BrevisOneSimulator,
        form=lambda url: {"url": url, "username": "apiuser", "password": "secret", "verify_ssl": True},
        wrong={"password": "Wr0ngPa55"},
        secret="secret",
        received_to="00491701234567",
    ),
    # A firmware-3 gateway: api.php only (the case above finds the REST API)
    "sms_gateway_legacy": Case(
        key="sms_gateway",
        simulator=lambda: BrevisOneSimulator(rest_api=False),
        form=lambda url: {"url": url, "username": "apiuser", "password": "secret", "verify_ssl": True},
        wrong={"password": "Wr0ngPa55"},
        secret="secret",
        received_to="00491701234567",
    ),
    "wildix": Case(
        key="wildix",
        simulator=WildixSimulator,
        form=lambda url: {"url": url, "username": "101", "password": "sms101api", "verify_ssl": True},
        wrong={"password": "Wr0ngPa55"},
        secret="sms101api",
        received_to=NUMBER,
    ),
    # A PBX that takes only Company API keys (Authorization: Bearer wsk-v1-…)
    "wildix_api_key": Case(
        key="wildix",
        simulator=lambda: WildixSimulator(basic_enabled=False),
        form=lambda url: {"url": url, "api_key": DEMO_API_KEY, "verify_ssl": True},
        wrong={"api_key": "wsk-v1-" + "0" * 93},
        secret=DEMO_API_KEY,
        received_to=NUMBER,
    ),
    "pbxware": Case(
        key="pbxware",
        simulator=lambda: PbxwareSimulator(query_only=True),
        form=lambda url: {"url": url, "api_key": "ha-alerts-key", "server": "1", "verify_ssl": True},
        wrong={"api_key": "Wr0ngKey"},
        secret="ha-alerts-key",
        received_to=NUMBER,
        query_secret="apikey",
    ),
    "ipex": Case(
        key="ipex",
        simulator=IpexSimulator,
        form=lambda url: {
            "url": url,
            "username": "alerts@example.com",
            "password": "secret",
            "auth_url": f"{url}/token",
            "instant_url": f"{url}/v1/sms",
        },
        wrong={"password": "Wr0ngPa55"},
        secret="secret",
        received_to=NUMBER,
        sender_step={"sender": "+420777888999"},
    ),
    # The port is the "url"; an address that is no port is cannot-open; the PIN is the secret
    "modem": Case(
        key="modem",
        simulator=lambda: ModemSimulator(pin=MODEM_PIN, memory=not pseudo_terminals()),
        form=lambda port: {"port": port, "baudrate": "115200", "pin": MODEM_PIN},
        wrong={"pin": "11111111"},
        secret=MODEM_PIN,
        received_to=NUMBER,
        http=False,
        wrong_error="wrong_pin",
        unreachable_error="no_port",
    ),
}


@pytest.fixture(params=list(CASES))
async def provider(
    request: pytest.FixtureRequest, socket_enabled: None
) -> AsyncGenerator[tuple[Case, RunningSimulator]]:
    """Each provider with its simulator on loopback."""
    case = CASES[request.param]
    if not case.http:
        monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
        async with running_modem("pty" if pseudo_terminals() else "memory", monkeypatch, pin=MODEM_PIN) as modem:
            yield case, RunningSimulator(sim=modem, url=modem.path)
        return
    sim = case.simulator()
    runner, url = await _serve(sim)
    yield case, RunningSimulator(sim=sim, url=url)
    await runner.cleanup()


async def run_flow(hass: HomeAssistant, case: Case, form: dict[str, Any]) -> dict[str, Any]:
    """Open the flow, pick the provider, submit the form (and the sender step for IPEX)."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": case.key})
    assert result["step_id"] == case.key
    result = await hass.config_entries.flow.async_configure(result["flow_id"], form)
    if case.sender_step and result.get("step_id") == "sender":
        result = await hass.config_entries.flow.async_configure(result["flow_id"], case.sender_step)
    return dict(result)


async def add_entry(hass: HomeAssistant, case: Case, sim: RunningSimulator) -> ConfigEntry:
    """Create the entry through the flow and give it one recipient."""
    hass.config.country = "DE"
    result = await run_flow(hass, case, case.form(sim.url))
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    entry: ConfigEntry = result["result"]
    await hass.async_block_till_done(wait_background_tasks=True)
    sub = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "recipient"), context={"source": SOURCE_USER}
    )
    sub = await hass.config_entries.subentries.async_configure(sub["flow_id"], {"name": "On call", "target": NUMBER})
    assert sub["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


async def test_flow_creates_entry_without_sending(hass: HomeAssistant, provider: tuple[Case, RunningSimulator]) -> None:
    """The credential check sends no SMS; the entry loads with a recipient entity."""
    case, sim = provider
    entry = await add_entry(hass, case, sim)
    assert entry.data["provider"] == case.key
    assert sim.sim.messages == []
    assert hass.states.get("notify.on_call") is not None


async def test_wrong_credentials_are_invalid_auth(hass: HomeAssistant, provider: tuple[Case, RunningSimulator]) -> None:
    """A refused login is the form error invalid_auth, and the right one then works."""
    case, sim = provider
    result = await run_flow(hass, case, {**case.form(sim.url), **case.wrong})
    assert result["errors"] == {"base": case.wrong_error}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], case.form(sim.url))
    if case.sender_step:
        result = await hass.config_entries.flow.async_configure(result["flow_id"], case.sender_step)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_unreachable_is_cannot_connect(
    hass: HomeAssistant, provider: tuple[Case, RunningSimulator], closed_url: str
) -> None:
    """Nothing listening is cannot_connect."""
    case, _ = provider
    result = await run_flow(hass, case, case.form(closed_url))
    assert result["errors"] == {"base": case.unreachable_error}


async def test_same_account_twice_is_already_configured(
    hass: HomeAssistant, provider: tuple[Case, RunningSimulator]
) -> None:
    """The second flow for the same account aborts."""
    case, sim = provider
    await add_entry(hass, case, sim)
    result = await run_flow(hass, case, case.form(sim.url))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_unicode_alert_arrives_intact(hass: HomeAssistant, provider: tuple[Case, RunningSimulator]) -> None:
    """Czech diacritics, emoji and GSM extension characters arrive as sent, at the right number."""
    case, sim = provider
    entry = await add_entry(hass, case, sim)
    response = await send(hass, entry, message=UNICODE)
    assert [(r["status"], r["provider"]) for r in response["results"]] == [("sent", case.key)]
    assert [(m.to, m.text) for m in sim.sim.messages] == [(case.received_to, UNICODE)]


async def test_outage_queues_then_delivers_once(
    hass: HomeAssistant, provider: tuple[Case, RunningSimulator], freezer: FrozenDateTimeFactory
) -> None:
    """A provider answering 503 (a modem: +CMS ERROR 42, congestion) queues the alert; it is delivered once after."""
    case, sim = provider
    entry = await add_entry(hass, case, sim)
    if case.http:
        sim.sim.fail(Fault.HTTP_503)
    else:
        sim.sim.refuse(42, times=100)
    response = await send(hass, entry, message="UPS on battery")
    assert response["results"][0]["status"] == "queued"
    sim.sim.recover()
    for _ in range(3):
        freezer.tick(timedelta(seconds=40))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
    assert [m.text for m in sim.sim.messages] == ["UPS on battery"]


async def test_no_secret_leaks(
    hass: HomeAssistant, provider: tuple[Case, RunningSimulator], caplog: pytest.LogCaptureFixture
) -> None:
    """The secret is in no URL (but where the vendor documents it), log line, error or diagnostics."""
    case, sim = provider
    entry = await add_entry(hass, case, sim)
    await send(hass, entry, message="x")
    sim.sim.fail(Fault.HTML_500, times=1)
    await send(hass, entry, message="y")
    for request in sim.sim.requests:
        assert case.secret not in request.path
        query = {name: value for name, value in request.query.items() if name != case.query_secret}
        assert case.secret not in json.dumps(query)
    # (asyncio's slow-task lines name this test, whose name holds the SMS Gateway's demo password)
    assert case.secret not in caplog.text.replace("test_no_secret_leaks", "")
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert case.secret not in json.dumps(diagnostics)
    assert sim.url.removeprefix("http://") not in json.dumps(diagnostics)
    for private in ("webhook_id", "sender"):
        if private in entry.data:
            assert entry.data[private] not in json.dumps(diagnostics)


@pytest.mark.parametrize("fault", [Fault.REDIRECT_302, Fault.REDIRECT_307])
async def test_a_redirect_is_not_followed_and_not_taken_for_sent(
    hass: HomeAssistant, provider: tuple[Case, RunningSimulator], fault: Fault
) -> None:
    """An address that now redirects (say, http to a web page): the alert is not "sent" to the page.

    Following it would post the login again elsewhere (307), or fetch a page that answers 200 (302).
    """
    case, sim = provider
    if not case.http:
        pytest.skip("a serial port has no redirects")
    entry = await add_entry(hass, case, sim)
    sim.sim.fail(fault)
    with pytest.raises(HomeAssistantError, match="redirects"):
        await send(hass, entry, message="Disk full")
    assert sim.sim.messages == []
    assert [r for r in sim.sim.requests if r.path == MOVED_PATH] == []
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"{entry.entry_id}_redirected") is not None


async def test_a_redirecting_address_is_refused_in_the_flow(
    hass: HomeAssistant, provider: tuple[Case, RunningSimulator]
) -> None:
    """Setting up with an address that redirects says so, and posts the login nowhere else."""
    case, sim = provider
    if not case.http:
        pytest.skip("a serial port has no redirects")
    sim.sim.fail(Fault.REDIRECT_307)
    result = await run_flow(hass, case, case.form(sim.url))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "redirected"}
    assert [r for r in sim.sim.requests if r.path == MOVED_PATH] == []


async def test_a_timeout_queues_with_a_warning_of_a_duplicate(
    hass: HomeAssistant, provider: tuple[Case, RunningSimulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A device that takes the request and does not answer in time: queued, as it may have been taken."""
    case, sim = provider
    monkeypatch.setattr("custom_components.sms_alerts.REQUEST_TIMEOUT", 0.2)
    monkeypatch.setattr("custom_components.sms_alerts.api.wildix.SEND_TIME_BASE", 0.2)
    monkeypatch.setattr("custom_components.sms_alerts.api.wildix.SEND_TIME_PER_NUMBER", 0.0)
    monkeypatch.setattr("custom_components.sms_alerts.api.modem.SEND_TIMEOUT", 0.2)
    entry = await add_entry(hass, case, sim)
    if case.http:
        sim.sim.fail(Fault.SLOW, times=1, delay=1)
    else:
        sim.sim.inject(ModemFault.SLOW_NETWORK, delay=1)
    response = await send(hass, entry, message="Freezer warm")
    [result] = response["results"]
    assert result["status"] == "queued"
    assert "duplicate is possible" in result["error"]


async def test_the_device_says_what_it_is_and_where_its_web_page_is(
    hass: HomeAssistant, provider: tuple[Case, RunningSimulator]
) -> None:
    """A device on the user's network is a device with a link to its web page; IPEX is a service.

    A modem is described by what it answers to +CGMI, +CGMM and +CGMR (the simulator answers as a SIM900).
    """
    case, sim = provider
    entry = await add_entry(hass, case, sim)
    if not case.http:
        await wait_for_link(entry)
    device = entry_device(hass, entry.entry_id, entry.entry_id)
    assert device is not None
    described = (device.entry_type, device.manufacturer, device.model, device.sw_version, device.configuration_url)
    expected = {
        "sms_gateway": (None, "brevis.one", "SMS Gateway", None, sim.url),
        "wildix": (None, "Wildix", "PBX with GSM gateway", None, sim.url),
        "pbxware": (None, "Bicom Systems", "PBXware", None, sim.url),
        "ipex": (dr.DeviceEntryType.SERVICE, "IPEX", "SMS API", None, None),
        "modem": (None, "SIMCOM_Ltd", "SIMCOM_SIM900", "1137B03SIM900M64_ST_MMS", None),
    }
    assert described == expected[case.key]


async def wait_for_link(entry: ConfigEntry) -> None:
    """Wait until a modem entry holds its port (the device learns the modem's answers then)."""
    provider = entry.runtime_data.provider
    await wait_for(lambda: provider.connected)


@pytest.mark.parametrize(
    ("key", "config", "page"),
    [
        # The API's own path is left out; a path before it (a reverse proxy) stays, a login never does
        ("sms_gateway", {"url": "https://apiuser:pw@gw.example/sms/api.php", "username": "u", "password": "p"},
         "https://gw.example/sms"),
        ("sms_gateway", {"url": "192.0.2.10:8443", "username": "u", "password": "p"}, "https://192.0.2.10:8443"),
        ("wildix", {"url": "http://pbx.example/api/v1/", "username": "101", "password": "p"}, "http://pbx.example"),
        ("pbxware", {"url": "pbx.example/index.php", "api_key": "k", "server": "1"}, "https://pbx.example"),
    ],
)  # fmt: skip
def test_the_web_page_is_the_address_without_the_api_path_or_a_login(
    key: str, config: dict[str, str], page: str
) -> None:
    """What a device page's Visit link opens."""
    provider = PROVIDERS[ProviderKey(key)].from_config(None, config)  # type: ignore[arg-type]
    assert provider.web_page() == page
