"""IPEX / Voipex as its vendor documents it and its public clients use it: requests replayed against the simulator.

Sources, named in each case:
- seed 002: the vendor's SMS API page (ipexas Confluence 3210936343), curl examples for SMS Chat and instant SMS.
- voipex-docs: IpexCloud/voipex-docs, docs/auth.md (Keycloak token) and docs/api/sms-api/*.md.
- confluence-626720808: the vendor's "Getting Started with the API PBX" page (token table with scope, refresh curl).
- ipex-b2b: Spoje-NET/ipex-b2b, the public PHP client of restapi.ipex.cz (src/IPEXB2B/Token.php, ApiClient.php,
  Sms.php): POST /v1/token with JSON {username, password}, answer {accessToken, expire}, token sent bare.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER, ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError

from custom_components.sms_alerts.api.base import AuthError, OutboundSms, Outcome, Target, TargetKind, TransientError
from custom_components.sms_alerts.api.ipex import IpexProvider
from custom_components.sms_alerts.api.ipex_tokens import TokenSource, restapi_grant_from, restapi_token_url
from custom_components.sms_alerts.const import DOMAIN
from simulators.base import MOVED_PATH, Fault
from simulators.ipex import DEMO_API_PASSWORD, DEMO_API_USER, IpexSimulator

from .conftest import RunningSimulator, send, serving

EMAIL = "alerts@example.com"
PASSWORD = "secret"
SENDER = "+420777888999"
TRUNK = "222333444"
RECIPIENT = "+491701234567"
CZ = Target(kind=TargetKind.NUMBER, value="+420607608609")


@pytest.fixture
async def ipex(socket_enabled: None) -> AsyncGenerator[RunningSimulator]:
    """The IPEX simulator (Keycloak, SMS Chat and restapi.ipex.cz in one app) on loopback."""
    async with serving(IpexSimulator()) as running:
        yield running


async def answer(client: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    """Make one request and return the status and the JSON body (None if it is not JSON)."""
    async with client.request(method, url, **kwargs) as resp:
        text = await resp.text()
    try:
        return resp.status, json.loads(text)
    except ValueError:
        return resp.status, None


async def keycloak_token(client: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """voipex-docs auth.md: the documented password grant."""
    form = {"client_id": "api", "username": EMAIL, "password": PASSWORD, "grant_type": "password"}
    status, body = await answer(client, "POST", f"{url}/token", data=form)
    assert status == 200
    return dict(body)


async def restapi_token(client: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """ipex-b2b Token.php: POST /v1/token with a JSON body, JSON accepted."""
    status, body = await answer(
        client,
        "POST",
        f"{url}/v1/token",
        json={"username": DEMO_API_USER, "password": DEMO_API_PASSWORD},
        headers={"Accept": "application/json"},
    )
    assert status == 200
    return dict(body)


# Keycloak token endpoint (auth.voipex.io)


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({}, id="voipex-docs auth.md curl"),
        pytest.param({"scope": "openid profile"}, id="confluence-626720808 table with scope"),
    ],
)
async def test_documented_password_grant(ipex: RunningSimulator, client: aiohttp.ClientSession, extra: dict) -> None:
    """The form of the vendor's examples answers with the documented fields."""
    form = {"client_id": "api", "username": EMAIL, "password": PASSWORD, "grant_type": "password", **extra}
    status, body = await answer(client, "POST", f"{ipex.url}/token", data=form)
    assert status == 200
    documented = {"access_token", "expires_in", "refresh_expires_in", "refresh_token", "token_type", "scope"}
    assert documented <= body.keys()
    assert (body["expires_in"], body["refresh_expires_in"], body["token_type"]) == (3000, 7200, "Bearer")


async def test_documented_refresh_grant(ipex: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """confluence-626720808: grant_type=refresh_token with client_id=api renews the pair."""
    first = await keycloak_token(client, ipex.url)
    form = {"client_id": "api", "grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    status, body = await answer(client, "POST", f"{ipex.url}/token", data=form)
    assert status == 200
    assert body["access_token"] != first["access_token"]


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        pytest.param(
            {"data": {"client_id": "api", "username": EMAIL, "password": "x", "grant_type": "password"}},
            401,
            "invalid_grant",
            id="wrong password",
        ),
        pytest.param(
            {"json": {"client_id": "api", "username": EMAIL, "password": PASSWORD, "grant_type": "password"}},
            400,
            "invalid_request",
            id="JSON instead of the documented form",
        ),
        pytest.param(
            {"data": {"client_id": "api", "password": PASSWORD, "grant_type": "password"}},
            400,
            "invalid_request",
            id="no username",
        ),
        pytest.param(
            {
                "data": {
                    "client_id": "api",
                    "username": EMAIL,
                    "password": PASSWORD,
                    "grant_type": "password",
                    "scope": "admin",
                }
            },
            400,
            "invalid_scope",
            id="unknown scope",
        ),
    ],
)
async def test_keycloak_refusals(
    ipex: RunningSimulator, client: aiohttp.ClientSession, kwargs: dict[str, Any], status: int, error: str
) -> None:
    """What Keycloak refuses, in its OAuth error shape."""
    answer_status, body = await answer(client, "POST", f"{ipex.url}/token", **kwargs)
    assert (answer_status, body["error"]) == (status, error)
    assert "error_description" in body


# SMS Chat API (sms-api.voipex.io)


async def test_seed_002_allowed_numbers(ipex: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """Seed 002 / voipex-docs sms-api/intro.md: GET /SMS/allowed-numbers with accept and Bearer."""
    token = (await keycloak_token(client, ipex.url))["access_token"]
    headers = {"accept": "application/json", "Authorization": f"Bearer {token}"}
    assert await answer(client, "GET", f"{ipex.url}/SMS/allowed-numbers", headers=headers) == (200, [SENDER])


async def test_seed_002_chat_send_and_history(ipex: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """Seed 002 / voipex-docs send.md and history.md: the curl bodies and query strings as published."""
    token = (await keycloak_token(client, ipex.url))["access_token"]
    headers = {"accept": "application/json", "Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = '{"from":"+420777888999","to":"+420607608609","text":"Hello world!"}'
    status, sent = await answer(client, "POST", f"{ipex.url}/SMS", data=body, headers=headers)
    assert status in (200, 201)
    assert (ipex.sim.messages[-1].to, ipex.sim.messages[-1].text) == ("+420607608609", "Hello world!")
    history = (
        f"{ipex.url}/SMS?startTime=2021-09-01T00%3A00%3A00.000%2B02%3A00&endTime=2999-10-01T00%3A00%3A00.000%2B02%3A00"
    )
    status, listed = await answer(client, "GET", history, headers=headers)
    assert status == 200
    assert [item["id"] for item in listed] == [sent["id"]]


async def test_sms_api_refuses_a_rest_api_token(ipex: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """SMS Chat documents the Keycloak bearer only: a restapi.ipex.cz token is the wrong kind of token there."""
    token = (await restapi_token(client, ipex.url))["accessToken"]
    status, _ = await answer(
        client, "GET", f"{ipex.url}/SMS/allowed-numbers", headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 401


async def test_seed_002_webhook_payload_fields(ipex: RunningSimulator) -> None:
    """Seed 002 / voipex-docs receive.md: pushes carry only the documented fields, all strings."""
    received: list[dict[str, Any]] = []

    async def capture(payload: dict[str, Any]) -> int:
        received.append(payload)
        return 200

    ipex.sim.webhook_url = "http://127.0.0.1:9/unused"
    ipex.sim._push = capture  # type: ignore[method-assign]
    await ipex.sim.push_inbound("+420602111222", SENDER, "ACK")
    await ipex.sim.push_delivery("id-1", "+420607608609", "DELIVERED")
    documented = {"id", "from", "to", "text", "direction", "state", "createdAt"}
    for payload in received:
        assert payload.keys() <= documented
        assert all(isinstance(value, str) for value in payload.values() if value is not None)
    assert (received[0]["direction"], received[1]["state"]) == ("IN", "DELIVERED")


# Central REST API (restapi.ipex.cz): login and instant SMS


@pytest.mark.parametrize(
    ("extra", "shown_sender"),
    [
        pytest.param({"email": "delivery@yourdomain.com"}, "60030", id="seed 002 curl"),
        pytest.param({"shortname": "ALERTS"}, "ALERTS", id="seed 002 shortname"),
    ],
)
async def test_seed_002_instant_sms_with_the_keycloak_token(
    ipex: RunningSimulator, client: aiohttp.ClientSession, extra: dict[str, str], shown_sender: str
) -> None:
    """Seed 002 / voipex-docs send.md: the token of the auth page, as Bearer, and the example body."""
    token = (await keycloak_token(client, ipex.url))["access_token"]
    headers = {"accept": "application/json", "Authorization": f"Bearer {token}"}
    payload = {"from": TRUNK, "to": "777888999", "message": "Message text", **extra}
    status, _ = await answer(client, "POST", f"{ipex.url}/v1/sms", json=payload, headers=headers)
    assert status == 200
    message = ipex.sim.messages[-1]
    assert (message.to, message.text, message.options["sender"]) == ("777888999", "Message text", shown_sender)


async def test_ipex_b2b_login_answer(ipex: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """ipex-b2b Token.php reads accessToken and expire (an ISO time in UTC, parsed after removing T and Z)."""
    body = await restapi_token(client, ipex.url)
    assert isinstance(body["accessToken"], str)
    assert body["accessToken"]
    expire = dt.datetime.fromisoformat(body["expire"])
    assert body["expire"].endswith("Z")
    assert dt.timedelta(minutes=59) < expire - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=1)


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("{token}", id="ipex-b2b ApiClient.php: the bare token"),
        pytest.param("Bearer {token}", id="seed 002: Bearer"),
    ],
)
async def test_ipex_b2b_instant_sms(ipex: RunningSimulator, client: aiohttp.ClientSession, authorization: str) -> None:
    """ipex-b2b Sms.php: POST v1/sms with a JSON body and the token of /v1/token."""
    token = (await restapi_token(client, ipex.url))["accessToken"]
    headers = {"Authorization": authorization.format(token=token), "Accept": "application/json"}
    payload = {"from": TRUNK, "to": "777888999", "message": "Message text"}
    status, body = await answer(client, "POST", f"{ipex.url}/v1/sms", json=payload, headers=headers)
    assert status == 200
    assert body["id"] == ipex.sim.messages[-1].options["id"]


@pytest.mark.parametrize(
    ("method", "kwargs", "status", "message"),
    [
        pytest.param("GET", {}, 404, "Not Found", id="GET: the login is a POST"),
        pytest.param(
            "POST",
            {"data": {"username": DEMO_API_USER, "password": DEMO_API_PASSWORD}},
            415,
            "Unsupported Media Type",
            id="a form: ipex-b2b posts JSON",
        ),
        pytest.param(
            "POST",
            {"data": "{", "headers": {"Content-Type": "application/json"}},
            400,
            "Invalid request payload JSON format",
            id="broken JSON",
        ),
        pytest.param(
            "POST", {"json": {"username": DEMO_API_USER}}, 400, "Invalid request payload input", id="no password"
        ),
        pytest.param(
            "POST",
            {"json": {"email": DEMO_API_USER, "password": DEMO_API_PASSWORD}},
            400,
            "Invalid request payload input",
            id="the superseded sso/login field email",
        ),
        pytest.param(
            "POST",
            {"json": {"username": EMAIL, "password": PASSWORD}},
            401,
            "Invalid username or password",
            id="a Keycloak login is not a REST API login",
        ),
    ],
)
async def test_rest_api_login_refusals(
    ipex: RunningSimulator,
    client: aiohttp.ClientSession,
    method: str,
    kwargs: dict[str, Any],
    status: int,
    message: str,
) -> None:
    """Refusals in the shape ipex-b2b ApiClient::parseError reads: {statusCode, error, message}."""
    answer_status, body = await answer(client, method, f"{ipex.url}/v1/token", **kwargs)
    assert answer_status == status
    assert body["statusCode"] == status
    assert body["message"] == message
    assert isinstance(body["error"], str)
    assert ipex.sim.restapi_logins == 0


async def test_instant_sms_without_a_token_or_by_get(ipex: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """restapi.ipex.cz refuses an instant SMS without authentication (401) and by GET (404), in its error shape."""
    payload = {"from": TRUNK, "to": "777888999", "message": "x"}
    status, body = await answer(client, "POST", f"{ipex.url}/v1/sms", json=payload)
    assert (status, body["statusCode"], body["error"]) == (401, 401, "Unauthorized")
    token = (await restapi_token(client, ipex.url))["accessToken"]
    status, body = await answer(client, "GET", f"{ipex.url}/v1/sms", headers={"Authorization": token})
    assert (status, body["statusCode"]) == (404, 404)
    assert ipex.sim.messages == []


# Our client's requests, against the strict simulator


def provider(session: aiohttp.ClientSession, url: str, **overrides: Any) -> IpexProvider:
    """Our client pointed at the simulator."""
    config: dict[str, Any] = {
        "url": url,
        "auth_url": f"{url}/token",
        "instant_url": f"{url}/v1/sms",
        "username": EMAIL,
        "password": PASSWORD,
        "sender": SENDER,
        **overrides,
    }
    return IpexProvider(session, **config, timeout=5)


async def test_our_login_and_chat_send_have_the_documented_form(
    ipex: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """voipex-docs auth.md form (no scope, as its curl), then seed 002's GET and POST with Bearer and JSON."""
    client = provider(session, ipex.url)
    await client.async_validate()
    await client.async_send_one(OutboundSms(text="Hello world!"), CZ)
    login, numbers, send = ipex.sim.requests
    assert (login.method, login.path, login.headers["Content-Type"]) == (
        "POST",
        "/token",
        "application/x-www-form-urlencoded",
    )
    assert login.form == {"client_id": "api", "grant_type": "password", "username": EMAIL, "password": PASSWORD}
    for request in (numbers, send):
        assert request.headers["Authorization"].startswith("Bearer ")
        assert request.headers["Accept"] == "application/json"
    assert (numbers.method, numbers.path, send.method, send.path) == ("GET", "/SMS/allowed-numbers", "POST", "/SMS")
    assert send.headers["Content-Type"].startswith("application/json")
    assert ipex.sim.messages[-1].options["from"] == SENDER


async def test_our_instant_send_has_the_documented_form(ipex: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """Seed 002: the Keycloak token as Bearer at /v1/sms, JSON with from (trunk), to and message."""
    client = provider(session, ipex.url, mode="instant", sender=TRUNK, shortname="ALERTS")
    receipt = await client.async_send_one(OutboundSms(text="Teplota 30 °C"), CZ)
    assert receipt.outcome is Outcome.SENT
    assert [(r.method, r.path) for r in ipex.sim.requests] == [("POST", "/token"), ("POST", "/v1/sms")]
    message = ipex.sim.messages[-1]
    assert (message.to, message.text, message.options["from"], message.options["sender"]) == (
        "607608609",
        "Teplota 30 °C",
        TRUNK,
        "ALERTS",
    )
    assert client.redacted_view()["token_source"] == "keycloak"


async def test_a_rest_api_login_sends_instant_sms(ipex: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """A login Keycloak refuses is tried at /v1/token with ipex-b2b's JSON body; its token sends the SMS."""
    client = provider(
        session, ipex.url, username=DEMO_API_USER, password=DEMO_API_PASSWORD, mode="instant", sender=TRUNK
    )
    assert (await client.async_send_one(OutboundSms(text="x"), CZ)).outcome is Outcome.SENT
    assert [(r.method, r.path, r.status) for r in ipex.sim.requests] == [
        ("POST", "/token", 401),
        ("POST", "/v1/token", 200),
        ("POST", "/v1/sms", 200),
    ]
    login = ipex.sim.requests[1]
    assert login.headers["Content-Type"].startswith("application/json")
    assert login.form == {}
    assert ipex.sim.messages[-1].options["from"] == TRUNK
    # The login that worked goes first from now on
    ipex.sim.revoke_tokens()
    assert (await client.async_send_one(OutboundSms(text="y"), CZ)).outcome is Outcome.SENT
    assert [r.path for r in ipex.sim.requests[3:]] == ["/v1/sms", "/v1/token", "/v1/sms"]
    assert client.redacted_view()["token_source"] == "restapi"


async def test_rest_api_refusing_keycloak_tokens_falls_back_to_its_own_login(
    ipex: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """If restapi.ipex.cz took only its own tokens (undocumented), a login valid there still sends."""
    ipex.sim.restapi_takes_keycloak_tokens = False
    ipex.sim.restapi_accounts[EMAIL] = PASSWORD
    ipex.sim.trunks[EMAIL] = [TRUNK]
    client = provider(session, ipex.url, mode="instant", sender=TRUNK)
    assert (await client.async_send_one(OutboundSms(text="x"), CZ)).outcome is Outcome.SENT
    assert [(r.path, r.status) for r in ipex.sim.requests] == [
        ("/token", 200),
        ("/v1/sms", 401),
        ("/token", 200),  # refresh
        ("/v1/sms", 401),
        ("/v1/token", 200),  # the other login
        ("/v1/sms", 200),
    ]


async def test_chat_entry_never_logs_in_at_the_rest_api(ipex: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """An SMS Chat entry whose password is refused is an auth error after Keycloak alone."""
    client = provider(session, ipex.url, password="Wr0ngPa55")
    with pytest.raises(AuthError):
        await client.async_send_one(OutboundSms(text="x"), CZ)
    assert [r.path for r in ipex.sim.requests] == ["/token"]


async def test_keycloak_down_and_rest_api_refusing_is_transient(
    ipex: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """An outage of one token endpoint is never taken for a wrong password because the other refuses."""
    ipex.sim.fail(Fault.HTTP_503, times=1)
    client = provider(session, ipex.url, mode="instant", sender=TRUNK)
    with pytest.raises(TransientError):
        await client.async_send_one(OutboundSms(text="x"), CZ)
    assert [(r.path, r.status) for r in ipex.sim.requests] == [("/token", 503), ("/v1/token", 401)]


def test_rest_api_login_url_and_answer_forms() -> None:
    """/v1/token sits next to /v1/sms; expire or expiresIn sets the lifetime; a token is needed."""
    assert restapi_token_url("https://restapi.ipex.cz/v1/sms") == "https://restapi.ipex.cz/v1/token"
    assert restapi_token_url("http://127.0.0.1:8304/v1/sms/") == "http://127.0.0.1:8304/v1/token"
    now = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    grant = restapi_grant_from({"accessToken": "T", "expire": "2026-01-01T13:00:00.000Z"}, 100.0, now)
    assert (grant.expires_at, grant.refresh_due, grant.refresh_token, grant.source) == (
        3700.0,
        2980.0,
        None,
        TokenSource.RESTAPI,
    )
    assert restapi_grant_from({"access_token": "T", "expiresIn": 600}, 0.0, now).expires_at == 600.0
    assert restapi_grant_from({"accessToken": "T", "expire": "soon"}, 0.0, now).expires_at == 300.0
    with pytest.raises(TransientError):
        restapi_grant_from({"expire": "2026-01-01T13:00:00Z"}, 0.0, now)


# Through Home Assistant: each auth kind and mode through the flow, a send, a 401, a timeout and a redirect


@dataclass(frozen=True, kw_only=True)
class Kind:
    """One way to set up an IPEX entry."""

    login: str  # password | api_token | restapi
    chat: bool
    sender: str
    secrets: list[str] = field(default_factory=list)


KINDS = {
    "password chat": Kind(login="password", chat=True, sender=SENDER),
    "password instant": Kind(login="password", chat=False, sender=TRUNK),
    "api_token chat": Kind(login="api_token", chat=True, sender=SENDER),
    "api_token instant": Kind(login="api_token", chat=False, sender=TRUNK),
    "rest api login instant": Kind(login="restapi", chat=False, sender=TRUNK),
}


def form(kind: Kind, sim: RunningSimulator) -> dict[str, Any]:
    """The IPEX form for a kind, every host pointing at the simulator."""
    hosts = {"url": sim.url, "auth_url": f"{sim.url}/token", "instant_url": f"{sim.url}/v1/sms"}
    if kind.login == "api_token":
        return {**hosts, "api_token": sim.sim.issue_token()}
    if kind.login == "restapi":
        return {**hosts, "username": DEMO_API_USER, "password": DEMO_API_PASSWORD}
    return {**hosts, "username": EMAIL, "password": PASSWORD}


async def add_entry(hass: HomeAssistant, kind: Kind, sim: RunningSimulator) -> ConfigEntry:
    """Make the entry through the flow (sender step included) and give it one recipient."""
    hass.config.country = "DE"
    sim.sim.sms_chat = kind.chat
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "ipex"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], form(kind, sim))
    assert result.get("step_id") == "sender", result
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"sender": kind.sender})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    entry: ConfigEntry = result["result"]
    assert entry.data["mode"] == ("chat" if kind.chat else "instant")
    await hass.async_block_till_done(wait_background_tasks=True)
    sub = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "recipient"), context={"source": SOURCE_USER}
    )
    await hass.config_entries.subentries.async_configure(sub["flow_id"], {"name": "On call", "target": RECIPIENT})
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


@pytest.fixture(params=list(KINDS))
def kind(request: pytest.FixtureRequest) -> Kind:
    """Each auth kind and mode."""
    return KINDS[request.param]


async def test_flow_and_send(hass: HomeAssistant, ipex: RunningSimulator, kind: Kind) -> None:
    """The flow makes the entry without sending; a send arrives through the documented route."""
    entry = await add_entry(hass, kind, ipex)
    assert ipex.sim.messages == []
    response = await send(hass, entry, message="Disk full")
    assert [r["status"] for r in response["results"]] == ["sent"]
    message = ipex.sim.messages[-1]
    assert (message.to, message.text, message.options["mode"]) == (
        RECIPIENT,
        "Disk full",
        "chat" if kind.chat else "instant",
    )
    assert ipex.sim.requests[-1].path == ("/SMS" if kind.chat else "/v1/sms")


async def test_401_is_failed_and_starts_reauth(
    hass: HomeAssistant, ipex: RunningSimulator, kind: Kind, caplog: pytest.LogCaptureFixture
) -> None:
    """A token the API refuses (after refresh and a new login, for a password) fails the alert and asks for a login."""
    entry = await add_entry(hass, kind, ipex)
    ipex.sim.api_refuses_tokens = True
    with pytest.raises(HomeAssistantError):
        await send(hass, entry, message="Disk full")
    await hass.async_block_till_done(wait_background_tasks=True)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["entry_id"] for f in flows if f["context"]["source"] == SOURCE_REAUTH] == [entry.entry_id]
    assert ipex.sim.messages == []
    for secret in (PASSWORD, DEMO_API_PASSWORD, entry.data.get("api_token", PASSWORD)):
        assert secret not in caplog.text


async def test_timeout_is_queued(
    hass: HomeAssistant, ipex: RunningSimulator, kind: Kind, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No answer in time: the alert is queued with the duplicate warning, not failed."""
    entry = await add_entry(hass, kind, ipex)
    monkeypatch.setattr(entry.runtime_data.provider, "_timeout", 0.2)
    ipex.sim.fail(Fault.SLOW, times=1, delay=1)
    response = await send(hass, entry, message="Disk full")
    assert response["results"][0]["status"] == "queued"
    assert "duplicate is possible" in response["results"][0]["error"]


async def test_redirect_is_not_followed(hass: HomeAssistant, ipex: RunningSimulator, kind: Kind) -> None:
    """A send answered by a redirect is not taken for sent and posts nothing elsewhere."""
    entry = await add_entry(hass, kind, ipex)
    ipex.sim.fail(Fault.REDIRECT_307)
    with pytest.raises(HomeAssistantError, match="redirects"):
        await send(hass, entry, message="Disk full")
    assert ipex.sim.messages == []
    assert [r for r in ipex.sim.requests if r.path == MOVED_PATH] == []


async def test_rest_api_login_in_the_flow_skips_sms_chat(hass: HomeAssistant, ipex: RunningSimulator) -> None:
    """A REST API login goes straight to the instant step: SMS Chat is never asked with its token."""
    await add_entry(hass, KINDS["rest api login instant"], ipex)
    assert "/SMS/allowed-numbers" not in [r.path for r in ipex.sim.requests]
    ipex.sim.requests.clear()
    ipex.sim.restapi_accounts.clear()
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "ipex"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form(KINDS["rest api login instant"], ipex)
    )
    assert result["errors"] == {"base": "invalid_auth"}
