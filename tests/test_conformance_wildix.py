"""Wildix: the vendor's examples and public clients' requests replayed against the simulator, and our own requests.

Sources (facts only):
- seed 001: Wildix "How to send SMS from Dialplan using SMS API" (curl POST form, Basic, JSON answers)
- seed 000: the change-tracked SMS API page (Dialplan CURL() with %2B, 670 characters)
- old manual: https://manuals.wildix.com/apis/POST%2B%252FOriginate%252FSMS%252F.html ("POST/GET", PHP http_build_query)
- n8n: enzpic/n8n-nodes-wildix (credentials/WildixBearerApi.credentials.ts: Bearer, test GET /api/v1/personal/info;
  nodes/Wildix/GenericFunctions.ts + Wildix.node.ts: POST originate/sms with a JSON body; test-endpoints.mjs)
- keys: docs.wildix.com/guides/2026/05/25/company-api-key-pbx-guide ("Authorization: Bearer wsk-v1-…", WMS 7.09+,
  write routes accept pbx:*)
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
import pytest
from homeassistant.config_entries import SOURCE_USER, ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError

from custom_components.sms_alerts.api import wildix as wildix_module
from custom_components.sms_alerts.api.base import OutboundSms, Outcome, Target, TargetKind, secret_digest
from custom_components.sms_alerts.api.wildix import WildixProvider
from custom_components.sms_alerts.api.wildix_auth import (
    API_KEY_SCOPE,
    BASIC_DISABLED,
    INVALID_AUTH,
    AuthKind,
    WildixAuth,
    basic_auth,
    bearer_auth,
)
from custom_components.sms_alerts.const import DOMAIN
from custom_components.sms_alerts.diagnostics import async_get_config_entry_diagnostics
from simulators.base import Fault
from simulators.wildix import (
    BASIC_DISABLED as SIM_BASIC_DISABLED,
)
from simulators.wildix import (
    DEMO_API_KEY,
    DEMO_PASSWORD,
    DEMO_USER,
    DEMO_USER_TOKEN,
    FORBIDDEN,
    INVALID_JSON,
    STRICT_FORM,
    WildixSimulator,
)

from .conftest import RunningSimulator, send, serving

SEND = "/api/v1/originate/sms"
INFO = "/api/v1/personal/info"
SUCCESS = {"type": "result", "result": "Success"}
LOGIN = basic_auth(DEMO_USER, DEMO_PASSWORD)
KEY = bearer_auth(DEMO_API_KEY)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
NUMBER = "+491701234567"


def _error(reason: str) -> dict[str, Any]:
    """Return the documented error body (seed 001)."""
    return {"type": "error", "reason": reason, "result": None}


@pytest.fixture
async def pbx(socket_enabled: None) -> AsyncGenerator[RunningSimulator]:
    """A PBX that still takes Basic logins, and keys."""
    async with serving(WildixSimulator()) as running:
        yield running


async def _call(
    client: aiohttp.ClientSession, method: str, url: str, *, auth: str | None, **kwargs: Any
) -> tuple[int, Any, str]:
    """Make one request; return status, JSON body and WWW-Authenticate."""
    headers = {**kwargs.pop("headers", {}), **({"Authorization": auth} if auth else {})}
    async with client.request(method, url, headers=headers, **kwargs) as resp:
        return resp.status, await resp.json(content_type=None), resp.headers.get("WWW-Authenticate", "")


# Requests the vendor documents or public clients send, with the answer the vendor documents
REPLAYS: list[Any] = [
    pytest.param(
        "POST",
        {"data": "number=%2B39123456789&message=This+API+is+awesome&gsm=9c7514330001", "headers": FORM},
        LOGIN,
        [("+39123456789", "This API is awesome")],
        id="seed001-curl-data-urlencode-basic",
    ),
    pytest.param(
        "POST",
        {"data": "message=the message body&number=%2B39333123456", "headers": FORM},
        LOGIN,
        [("+39333123456", "the message body")],
        id="seed000-dialplan-curl-plus-as-%2B",
    ),
    pytest.param(
        "GET",
        {"params": {"number": "+391234567890,+391234567891", "message": "Text SMS"}},
        LOGIN,
        [("+391234567890", "Text SMS"), ("+391234567891", "Text SMS")],
        id="old-manual-get-with-query",
    ),
    pytest.param(
        "POST",
        {"data": {"number": "+391234567890,+391234567891", "message": "Text SMS"}},
        LOGIN,
        [("+391234567890", "Text SMS"), ("+391234567891", "Text SMS")],
        id="old-manual-php-http-build-query",
    ),
    pytest.param(
        "POST",
        {"json": {"number": "+15551234567", "message": "Hello"}},
        KEY,
        [("+15551234567", "Hello")],
        id="n8n-json-body-bearer-company-key",
    ),
    pytest.param(
        "POST",
        {"json": {"number": "+15551234567", "message": "Hello"}},
        bearer_auth(DEMO_USER_TOKEN),
        [("+15551234567", "Hello")],
        id="n8n-json-body-bearer-user-token",
    ),
    pytest.param(
        "POST",
        {"data": {"number": "+15551234567", "message": "Hello"}},
        KEY,
        [("+15551234567", "Hello")],
        id="keys-guide-bearer-with-the-documented-form",
    ),
]


@pytest.mark.parametrize(("method", "request_kwargs", "auth", "received"), REPLAYS)
async def test_documented_requests_are_taken(
    pbx: RunningSimulator,
    client: aiohttp.ClientSession,
    method: str,
    request_kwargs: dict[str, Any],
    auth: str,
    received: list[tuple[str, str]],
) -> None:
    """Each documented or client request shape queues its SMS and gets the documented Success."""
    status, body, _ = await _call(client, method, f"{pbx.url}{SEND}", auth=auth, **request_kwargs)
    assert (status, body) == (200, SUCCESS)
    assert [(m.to, m.text) for m in pbx.sim.messages] == received


async def test_an_unencoded_plus_is_refused(pbx: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """Seed 000: "%2B" is "+" URL-encoded; a raw "+" in a form is a space, and the number is refused."""
    status, body, _ = await _call(
        client, "POST", f"{pbx.url}{SEND}", auth=LOGIN, data="number=+39333123456&message=hi", headers=FORM
    )
    assert (status, body["type"]) == (200, "error")
    assert pbx.sim.messages == []


async def test_n8n_probe_gets_the_documented_error_shape(pbx: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """n8n test-endpoints.mjs posts a dummy number; the answer is seed 001's error object, nothing is sent."""
    status, body, _ = await _call(
        client, "POST", f"{pbx.url}{SEND}", auth=KEY, json={"number": "0000000000", "message": "test"}
    )
    assert status == 200
    assert set(body) == {"type", "reason", "result"}
    assert body["type"] == "error"
    assert pbx.sim.messages == []


async def test_seed_answers_without_a_number_and_when_the_queue_is_full(
    pbx: RunningSimulator, client: aiohttp.ClientSession
) -> None:
    """Seed 001's Error ("Number should not be empty") and Warning examples, word for word."""
    status, body, _ = await _call(client, "POST", f"{pbx.url}{SEND}", auth=LOGIN, data={"message": "hi"})
    assert (status, body) == (200, _error("Number should not be empty"))
    pbx.sim.queue_full = True
    status, body, _ = await _call(client, "POST", f"{pbx.url}{SEND}", auth=KEY, data={"number": NUMBER, "message": "x"})
    assert (status, body) == (200, {"type": "warning", "reason": "Unable to add a SMS to the queue", "result": ["111"]})


async def test_n8n_credential_test_reads_the_users_record(pbx: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """n8n's Bearer credential is tested with GET personal/info: a user's token reads that user's record."""
    status, body, _ = await _call(client, "GET", f"{pbx.url}{INFO}", auth=bearer_auth(DEMO_USER_TOKEN))
    assert status == 200
    assert body["result"]["extension"] == DEMO_USER


async def test_a_company_key_has_no_personal_record(pbx: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """A Company API key belongs to no user [assumed]: personal/info is refused with 403."""
    status, body, _ = await _call(client, "GET", f"{pbx.url}{INFO}", auth=KEY)
    assert (status, body) == (403, _error(FORBIDDEN))


async def test_a_key_only_pbx_refuses_the_vendors_basic_example(
    pbx: RunningSimulator, client: aiohttp.ClientSession
) -> None:
    """WMS 5 API pages: Basic is off for the API; the seed's curl gets 401 offering Bearer [assumed wording]."""
    pbx.sim.basic_enabled = False
    status, body, offered = await _call(
        client, "POST", f"{pbx.url}{SEND}", auth=LOGIN, data={"number": NUMBER, "message": "hi"}
    )
    assert (status, body, offered) == (401, _error(SIM_BASIC_DISABLED), "Bearer")
    status, body, _ = await _call(
        client, "POST", f"{pbx.url}{SEND}", auth=KEY, data={"number": NUMBER, "message": "hi"}
    )
    assert (status, body) == (200, SUCCESS)
    assert [m.to for m in pbx.sim.messages] == [NUMBER]


@pytest.mark.parametrize(
    ("auth", "status", "body"),
    [
        pytest.param(bearer_auth("wsk-v1-" + "0" * 93), 401, _error("Unauthorized"), id="unknown-key"),
        pytest.param("Bearer", 401, _error("Unauthorized"), id="empty-bearer"),
    ],
)
async def test_a_refused_key_is_unauthorized(
    pbx: RunningSimulator, client: aiohttp.ClientSession, auth: str, status: int, body: dict[str, Any]
) -> None:
    """A key the PBX does not know gets the old manual's Unauthorized body."""
    answer = await _call(client, "POST", f"{pbx.url}{SEND}", auth=auth, data={"number": NUMBER, "message": "hi"})
    assert answer[:2] == (status, body)


async def test_a_key_without_a_send_scope_is_forbidden(pbx: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """Keys guide: write routes need pbx:* (or the route's own scope); a read-only key gets 403 [assumed]."""
    pbx.sim.api_keys[DEMO_API_KEY] = frozenset({"pbx:read"})
    status, body, _ = await _call(client, "POST", f"{pbx.url}{SEND}", auth=KEY, data={"number": NUMBER, "message": "x"})
    assert (status, body) == (403, _error(FORBIDDEN))
    assert pbx.sim.messages == []


async def test_a_body_that_is_not_json_is_refused(pbx: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """A JSON content type with a broken body is a 400, not a crash [assumed wording]."""
    status, body, _ = await _call(
        client, "POST", f"{pbx.url}{SEND}", auth=KEY, data="{number:", headers={"Content-Type": "application/json"}
    )
    assert (status, body) == (400, _error(INVALID_JSON))


@pytest.mark.parametrize(
    ("method", "request_kwargs", "accepted"),
    [
        pytest.param("POST", {"data": {"number": NUMBER, "message": "x"}}, True, id="form-post"),
        pytest.param("GET", {"params": {"number": NUMBER, "message": "x"}}, False, id="get-query"),
        pytest.param("POST", {"json": {"number": NUMBER, "message": "x"}}, False, id="json"),
        pytest.param("POST", {"params": {"number": NUMBER}, "data": {"message": "x"}}, False, id="query-and-form"),
    ],
)
async def test_strict_mode_takes_only_the_documented_form(
    pbx: RunningSimulator, client: aiohttp.ClientSession, method: str, request_kwargs: dict[str, Any], accepted: bool
) -> None:
    """Strict: a form POST (seed 001's curl) is taken; anything else gets 400."""
    pbx.sim.strict = True
    status, body, _ = await _call(client, method, f"{pbx.url}{SEND}", auth=LOGIN, **request_kwargs)
    assert (status, body) == ((200, SUCCESS) if accepted else (400, _error(STRICT_FORM)))


async def test_the_basic_switch_is_a_control_route(pbx: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """scripts/develop can turn Basic off and on again."""
    async with client.post(f"{pbx.url}/_sim/basic", params={"enabled": "0"}) as resp:
        assert resp.status == 200
    assert pbx.sim.basic_enabled is False
    async with client.post(f"{pbx.url}/_sim/basic", params={"enabled": "1"}) as resp:
        assert resp.status == 200
    assert pbx.sim.basic_enabled is True


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"username": DEMO_USER, "password": DEMO_PASSWORD}, id="login"),
        pytest.param({"api_key": DEMO_API_KEY}, id="api-key"),
    ],
)
async def test_our_requests_have_the_documented_form(
    pbx: RunningSimulator, client: aiohttp.ClientSession, config: dict[str, str]
) -> None:
    """Against the strict simulator our client checks and sends: a form POST, fields in the body, + as %2B."""
    pbx.sim.strict = True
    provider = WildixProvider.from_config(client, {"url": pbx.url, **config})
    await provider.async_validate()
    target = Target(kind=TargetKind.NUMBER, value=NUMBER)
    receipts = await provider.async_send(OutboundSms(text="Disk full"), [target])
    assert [r.error for r in receipts] == [None]
    assert [(m.to, m.text) for m in pbx.sim.messages] == [(NUMBER, "Disk full")]
    scheme = "Bearer" if "api_key" in config else "Basic"
    for request in [r for r in pbx.sim.requests if r.path == SEND]:
        assert (request.method, request.query, request.status) == ("POST", {}, 200)
        assert request.headers["Content-Type"] == FORM["Content-Type"]
        assert request.headers["Authorization"].split(" ")[0] == scheme


@pytest.mark.parametrize(
    ("kind", "status", "headers", "reason", "key"),
    [
        pytest.param(AuthKind.LOGIN, 401, {"WWW-Authenticate": "Bearer"}, "Unauthorized", BASIC_DISABLED, id="bearer"),
        pytest.param(AuthKind.LOGIN, 401, {}, "Basic authentication is disabled", BASIC_DISABLED, id="reason"),
        pytest.param(AuthKind.LOGIN, 200, {}, "Use an API key", BASIC_DISABLED, id="reason-200"),
        pytest.param(
            AuthKind.LOGIN, 401, {"WWW-Authenticate": 'Basic realm="WMS", Bearer'}, "x", INVALID_AUTH, id="both"
        ),
        pytest.param(AuthKind.LOGIN, 401, {}, "Unauthorized", INVALID_AUTH, id="wrong-password"),
        pytest.param(AuthKind.LOGIN, 403, {}, "User is disabled", INVALID_AUTH, id="user-disabled"),
        pytest.param(AuthKind.API_KEY, 401, {"WWW-Authenticate": "Bearer"}, "Unauthorized", INVALID_AUTH, id="key"),
        pytest.param(AuthKind.API_KEY, 403, {}, "Forbidden", API_KEY_SCOPE, id="key-scope"),
    ],
)
def test_what_a_refusal_means(kind: AuthKind, status: int, headers: dict[str, str], reason: str, key: str) -> None:
    """A key-only PBX is told by Bearer alone in WWW-Authenticate or by its reason; a 403 to a key is its scope."""
    config = {"api_key": DEMO_API_KEY} if kind is AuthKind.API_KEY else {"username": "101", "password": "p"}
    assert WildixAuth.from_config(config).refusal(status, headers, reason) == key


def test_the_secret_is_not_in_the_repr() -> None:
    """A logged or failed-assert WildixAuth shows no key."""
    assert DEMO_API_KEY not in repr(WildixAuth.from_config({"api_key": DEMO_API_KEY}))


# Through Home Assistant: flow, send, refusals, timeouts, reauth


async def _flow(hass: HomeAssistant, form: dict[str, Any]) -> dict[str, Any]:
    """Open the flow at the Wildix step and submit the form."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "wildix"})
    return dict(await hass.config_entries.flow.async_configure(result["flow_id"], form))


async def _entry(hass: HomeAssistant, pbx: RunningSimulator, credentials: dict[str, str]) -> ConfigEntry:
    """Create an entry through the flow, with one recipient."""
    hass.config.country = "DE"
    result = await _flow(hass, {"url": pbx.url, **credentials})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    entry: ConfigEntry = result["result"]
    await hass.async_block_till_done(wait_background_tasks=True)
    sub = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "recipient"), context={"source": SOURCE_USER}
    )
    await hass.config_entries.subentries.async_configure(sub["flow_id"], {"name": "On call", "target": NUMBER})
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


async def _start(hass: HomeAssistant, entry: ConfigEntry, source: str) -> dict[str, Any]:
    """Open a reauth or reconfigure flow on the entry."""
    context = {"source": source, "entry_id": entry.entry_id}
    data = dict(entry.data) if source == "reauth" else None
    return dict(await hass.config_entries.flow.async_init(DOMAIN, context=context, data=data))


CREDENTIALS = [
    pytest.param({"username": DEMO_USER, "password": DEMO_PASSWORD}, id="login"),
    pytest.param({"api_key": DEMO_API_KEY}, id="api-key"),
]


@pytest.mark.parametrize(
    ("form", "error"),
    [
        pytest.param({}, "wildix_credentials", id="neither"),
        pytest.param({"username": DEMO_USER}, "wildix_credentials", id="username-only"),
        pytest.param(
            {"username": DEMO_USER, "password": DEMO_PASSWORD, "api_key": DEMO_API_KEY}, "wildix_credentials", id="both"
        ),
    ],
)
async def test_the_form_wants_a_login_or_a_key(
    hass: HomeAssistant, pbx: RunningSimulator, form: dict[str, str], error: str
) -> None:
    """Neither or both is a clear form error, and nothing reaches the PBX; then a key alone works."""
    result = await _flow(hass, {"url": pbx.url, **form})
    assert result["errors"] == {"base": error}
    assert pbx.sim.requests == []
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": pbx.url, "api_key": DEMO_API_KEY}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Wildix API key"
    assert set(result["data"]) >= {"api_key"}
    assert "password" not in result["data"]
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_a_key_only_pbx_says_so_for_a_login_then_takes_a_key(hass: HomeAssistant, pbx: RunningSimulator) -> None:
    """Basic refused by a key-only PBX is basic_disabled (not invalid_auth); the key then creates the entry."""
    pbx.sim.basic_enabled = False
    result = await _flow(hass, {"url": pbx.url, "username": DEMO_USER, "password": DEMO_PASSWORD})
    assert result["errors"] == {"base": "basic_disabled"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": pbx.url, "username": DEMO_USER, "api_key": DEMO_API_KEY}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert "username" not in result["data"]
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_a_key_without_scope_is_its_own_error(hass: HomeAssistant, pbx: RunningSimulator) -> None:
    """A key the PBX knows but may not send with is api_key_scope."""
    pbx.sim.api_keys[DEMO_API_KEY] = frozenset({"pbx:read"})
    result = await _flow(hass, {"url": pbx.url, "api_key": DEMO_API_KEY})
    assert result["errors"] == {"base": "api_key_scope"}


@pytest.mark.parametrize("credentials", CREDENTIALS)
async def test_a_refusal_at_send_starts_reauth(
    hass: HomeAssistant, pbx: RunningSimulator, credentials: dict[str, str]
) -> None:
    """A password changed or a key revoked on the PBX: the send fails and reauthentication starts."""
    entry = await _entry(hass, pbx, credentials)
    pbx.sim.users.clear()
    pbx.sim.api_keys.clear()
    with pytest.raises(HomeAssistantError, match="Unauthorized"):
        await send(hass, entry, message="UPS on battery")
    await hass.async_block_till_done(wait_background_tasks=True)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


@pytest.mark.parametrize("credentials", CREDENTIALS)
async def test_a_timeout_is_transient(
    pbx: RunningSimulator, client: aiohttp.ClientSession, credentials: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No answer in time is a transient timeout (queued and retried, a duplicate possible) for both kinds."""
    monkeypatch.setattr(wildix_module, "SEND_TIME_BASE", 0.2)
    monkeypatch.setattr(wildix_module, "SEND_TIME_PER_NUMBER", 0.001)
    provider = WildixProvider.from_config(client, {"url": pbx.url, **credentials})
    pbx.sim.fail(Fault.SLOW, times=1, delay=1.0)
    receipts = await provider.async_send(OutboundSms(text="x"), [Target(kind=TargetKind.NUMBER, value=NUMBER)])
    assert [(r.outcome, r.error_key) for r in receipts] == [(Outcome.TRANSIENT, "timeout")]


async def test_reauth_switches_from_the_login_to_a_key(hass: HomeAssistant, pbx: RunningSimulator) -> None:
    """The PBX was upgraded to keys only: reauth says so at once, takes a key, and the entry sends with it."""
    entry = await _entry(hass, pbx, {"username": DEMO_USER, "password": DEMO_PASSWORD})
    pbx.sim.basic_enabled = False
    result = await _start(hass, entry, "reauth")
    assert (result["step_id"], result["errors"]) == ("reauth_confirm", {"base": "basic_disabled"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"username": DEMO_USER, "api_key": DEMO_API_KEY}
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert {k: v for k, v in entry.data.items() if k in ("username", "password", "api_key")} == {
        "api_key": DEMO_API_KEY
    }
    assert entry.unique_id == f"wildix:key:{secret_digest(DEMO_API_KEY)}"
    response = await send(hass, entry, message="Back on keys")
    assert response["results"][0]["status"] == "sent"
    assert pbx.sim.requests[-1].headers["Authorization"] == KEY


async def test_reconfigure_switches_from_a_key_to_the_login(hass: HomeAssistant, pbx: RunningSimulator) -> None:
    """The same PBX, now by the sender's login: the entry takes the login's unique id."""
    entry = await _entry(hass, pbx, {"api_key": DEMO_API_KEY})
    result = await _start(hass, entry, "reconfigure")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": pbx.url, "username": DEMO_USER, "password": DEMO_PASSWORD}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert "api_key" not in entry.data
    assert entry.unique_id == f"wildix:{DEMO_USER}"


async def test_reauth_as_another_user_is_refused(hass: HomeAssistant, pbx: RunningSimulator) -> None:
    """Switching between login and key is allowed; another user's login is another account."""
    entry = await _entry(hass, pbx, {"username": DEMO_USER, "password": DEMO_PASSWORD})
    pbx.sim.users["102"] = "other"
    result = await _start(hass, entry, "reauth")
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"username": "102", "password": "other"})
    assert result["reason"] == "wrong_account"


@pytest.mark.parametrize("credentials", CREDENTIALS)
async def test_no_secret_in_any_log_error_or_diagnostics(
    hass: HomeAssistant, pbx: RunningSimulator, credentials: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Through setup, a send, a refusal and the reauth it starts, neither key nor password shows up anywhere."""
    caplog.set_level(logging.DEBUG)
    entry = await _entry(hass, pbx, credentials)
    await send(hass, entry, message="one")
    pbx.sim.basic_enabled = False
    pbx.sim.api_keys.clear()
    with pytest.raises(HomeAssistantError) as refused:
        await send(hass, entry, message="three")
    await hass.async_block_till_done(wait_background_tasks=True)
    secrets = (DEMO_PASSWORD, DEMO_API_KEY, LOGIN.split(" ")[1])
    texts = [record.getMessage() for record in caplog.records]
    texts += [record.exc_text or "" for record in caplog.records]
    texts.append(str(refused.value))
    texts.append(json.dumps(await async_get_config_entry_diagnostics(hass, entry)))
    for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN):
        texts.append(json.dumps(flow, default=str))
    for secret in secrets:
        assert not [text for text in texts if secret in text]
