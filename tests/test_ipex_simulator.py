"""The IPEX simulator enforces the vendor document (tokens, SMS Chat, instant SMS, webhook), whoever the client is."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from simulators.base import Fault
from simulators.ipex import IpexSimulator

from .conftest import RunningSimulator, serving

LOGIN = {"grant_type": "password", "client_id": "api", "username": "alerts@example.com", "password": "secret"}
SENDER = "+420777888999"


@dataclass
class FakeClock:
    """A clock the test moves by hand."""

    now: float = 500.0

    def __call__(self) -> float:
        """Return the current reading."""
        return self.now


@dataclass
class Receiver:
    """A webhook endpoint on loopback that keeps what it is sent."""

    url: str
    payloads: list[Any] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
def clock() -> FakeClock:
    """The simulator's clock."""
    return FakeClock()


@pytest.fixture
async def ipex(socket_enabled: None, clock: FakeClock) -> AsyncGenerator[RunningSimulator]:
    """The IPEX simulator on loopback."""
    async with serving(IpexSimulator(clock=clock)) as running:
        yield running


@pytest.fixture
async def receiver(socket_enabled: None) -> AsyncGenerator[Receiver]:
    """A webhook receiver answering 200."""
    app = web.Application()
    holder: list[Receiver] = []

    async def handle(request: web.Request) -> web.Response:
        holder[0].payloads.append(await request.json())
        holder[0].arrived.set()
        return web.Response(text="ok")

    app.router.add_post("/api/webhook/abc", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    holder.append(Receiver(url=f"http://127.0.0.1:{runner.addresses[0][1]}/api/webhook/abc"))
    yield holder[0]
    await runner.cleanup()


async def token(client: aiohttp.ClientSession, url: str, **form: str) -> tuple[int, dict[str, Any]]:
    """POST form fields to the token endpoint."""
    async with client.post(f"{url}/token", data=form) as resp:
        return resp.status, await resp.json()


async def login(client: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """Log in with the demo account and return the token response."""
    status, body = await token(client, url, **LOGIN)
    assert status == 200
    return body


async def call(
    client: aiohttp.ClientSession, method: str, url: str, bearer: str | None, **kwargs: Any
) -> tuple[int, Any, Any]:
    """Call an API route with a bearer token; return status, JSON body and headers."""
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    async with client.request(method, url, headers=headers, **kwargs) as resp:
        return resp.status, await resp.json(content_type=None), resp.headers


# Token endpoint


async def test_password_grant_answers_like_keycloak(ipex: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """access_token, expires_in 3000, refresh_token, refresh_expires_in 7200, token_type Bearer."""
    body = await login(client, ipex.url)
    assert (body["expires_in"], body["refresh_expires_in"], body["token_type"]) == (3000, 7200, "Bearer")
    assert body["access_token"] != body["refresh_token"]
    assert (ipex.sim.logins, ipex.sim.refreshes) == (1, 0)


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        (
            {**LOGIN, "password": "wrong"},
            401,
            {"error": "invalid_grant", "error_description": "Invalid user credentials"},
        ),
        ({**LOGIN, "username": "nobody@example.com"}, 401, {"error": "invalid_grant"}),
        ({**LOGIN, "client_id": "admin-cli"}, 401, {"error": "invalid_client"}),
        ({k: v for k, v in LOGIN.items() if k != "client_id"}, 401, {"error": "invalid_client"}),
        ({**LOGIN, "grant_type": "client_credentials"}, 400, {"error": "unsupported_grant_type"}),
        ({"grant_type": "refresh_token", "client_id": "api", "refresh_token": "nope"}, 400, {"error": "invalid_grant"}),
    ],
)
async def test_token_refusals(
    ipex: RunningSimulator, client: aiohttp.ClientSession, form: dict[str, str], status: int, error: dict[str, str]
) -> None:
    """Wrong login 401, wrong client 401, unknown grant 400, unknown refresh token 400 invalid_grant."""
    answer_status, body = await token(client, ipex.url, **form)
    assert answer_status == status
    assert error.items() <= body.items()
    assert ipex.sim.logins == 0


async def test_token_endpoint_wants_a_form(ipex: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """JSON is not a token request."""
    async with client.post(f"{ipex.url}/token", json=LOGIN) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "invalid_request"


async def test_refresh_grant_and_its_expiry(
    ipex: RunningSimulator, client: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """A refresh token gives a new pair until refresh_expires_in has passed."""
    first = await login(client, ipex.url)
    refresh = {"grant_type": "refresh_token", "client_id": "api", "refresh_token": first["refresh_token"]}
    clock.now += 7199
    status, second = await token(client, ipex.url, **refresh)
    assert status == 200
    assert second["access_token"] != first["access_token"]
    clock.now += 1
    assert (await token(client, ipex.url, **refresh))[0] == 400
    assert (ipex.sim.logins, ipex.sim.refreshes) == (1, 1)


# Bearer check


async def test_bearer_is_checked_on_every_route(
    ipex: RunningSimulator, client: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """Missing, unknown, expired and revoked tokens all get 401; restapi.ipex.cz answers in its own error shape."""
    access = (await login(client, ipex.url))["access_token"]
    routes = [
        ("GET", f"{ipex.url}/SMS/allowed-numbers", {}),
        ("POST", f"{ipex.url}/SMS", {"json": {"from": SENDER, "to": "+420607608609", "text": "x"}}),
        ("POST", f"{ipex.url}/v1/sms", {"json": {"from": "222333444", "to": "607608609", "message": "x"}}),
        (
            "GET",
            f"{ipex.url}/SMS",
            {"params": {"startTime": "2020-01-01T00:00:00+00:00", "endTime": "2999-01-01T00:00:00Z"}},
        ),
    ]
    for method, url, kwargs in routes:
        refused = (
            {"statusCode": 401, "error": "Unauthorized", "message": "Missing authentication"}
            if url.endswith("/v1/sms")
            else {"message": "Unauthorized"}
        )
        assert (await call(client, method, url, None, **kwargs))[:2] == (401, refused)
        assert (await call(client, method, url, "forged", **kwargs))[0] == 401
        assert (await call(client, method, url, access, **kwargs))[0] in (200, 201)
    clock.now += 3000
    assert (await call(client, *routes[0][:2], access))[0] == 401
    fresh = (await login(client, ipex.url))["access_token"]
    ipex.sim.revoke_tokens()
    assert (await call(client, *routes[0][:2], fresh))[0] == 401


async def test_api_can_refuse_every_token(ipex: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """The switch makes even a fresh token fail, while the login itself works."""
    ipex.sim.api_refuses_tokens = True
    access = (await login(client, ipex.url))["access_token"]
    assert (await call(client, "GET", f"{ipex.url}/SMS/allowed-numbers", access))[0] == 401


# SMS Chat API


@pytest.mark.parametrize(
    ("shape", "body"),
    [
        ("strings", [SENDER]),
        ("objects", [{"number": SENDER}]),
        ("wrapped", {"items": [SENDER], "count": 1}),
    ],
)
async def test_allowed_numbers_shapes(
    ipex: RunningSimulator, client: aiohttp.ClientSession, shape: str, body: object
) -> None:
    """The demo account's number in each shape the switch offers."""
    ipex.sim.allowed_numbers_shape = shape
    access = (await login(client, ipex.url))["access_token"]
    assert (await call(client, "GET", f"{ipex.url}/SMS/allowed-numbers", access))[:2] == (200, body)


async def test_account_without_sms_chat(ipex: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """Without SMS Chat, allowed-numbers is 404 and sending is forbidden."""
    ipex.sim.sms_chat = False
    access = (await login(client, ipex.url))["access_token"]
    assert (await call(client, "GET", f"{ipex.url}/SMS/allowed-numbers", access))[0] == 404
    send = {"from": SENDER, "to": "+420607608609", "text": "x"}
    assert (await call(client, "POST", f"{ipex.url}/SMS", access, json=send))[0] == 403


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({"from": "+420777000000", "to": "+420607608609", "text": "x"}, 403, "Number not allowed"),
        ({"to": "+420607608609", "text": "x"}, 403, "Number not allowed"),
        ({"from": SENDER, "to": "607608609", "text": "x"}, 400, "Invalid recipient"),
        ({"from": SENDER, "to": "00420607608609", "text": "x"}, 400, "Invalid recipient"),
        ({"from": SENDER, "to": 420607608609, "text": "x"}, 400, "Invalid recipient"),
        ({"from": SENDER, "to": "+420607608609", "text": ""}, 400, "Text is empty"),
        ({"from": SENDER, "to": "+420607608609"}, 400, "Text is empty"),
        (["from", SENDER], 400, "Invalid JSON"),
    ],
)
async def test_chat_send_refusals(
    ipex: RunningSimulator, client: aiohttp.ClientSession, payload: object, status: int, message: str
) -> None:
    """The sender must be allowed (403), the recipient +E.164 (400), the text non-empty (400)."""
    access = (await login(client, ipex.url))["access_token"]
    assert (await call(client, "POST", f"{ipex.url}/SMS", access, json=payload))[:2] == (status, {"message": message})
    assert ipex.sim.messages == []


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [({"data": {"from": SENDER}}, 415), ({"data": "{not json", "headers": {"Content-Type": "application/json"}}, 400)],
)
@pytest.mark.parametrize("path", ["/SMS", "/v1/sms"])
async def test_sends_want_json(
    ipex: RunningSimulator, client: aiohttp.ClientSession, kwargs: dict[str, Any], status: int, path: str
) -> None:
    """A form body is not accepted, nor broken JSON."""
    access = (await login(client, ipex.url))["access_token"]
    body = {key: value for key, value in kwargs.items() if key != "headers"}
    headers = {"Authorization": f"Bearer {access}", **kwargs.get("headers", {})}
    async with client.post(f"{ipex.url}{path}", headers=headers, **body) as resp:
        assert resp.status == status


async def test_chat_send_and_history(ipex: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """201 with a uuid id; the message is recorded and listed in the history for a zoned time range."""
    access = (await login(client, ipex.url))["access_token"]
    send = {"from": SENDER, "to": "+420607608609", "text": "Hello world!"}
    status, body, _ = await call(client, "POST", f"{ipex.url}/SMS", access, json=send)
    assert status == 201
    uuid.UUID(body["id"])
    message = ipex.sim.messages[-1]
    assert (message.provider, message.to, message.text) == ("ipex", "+420607608609", "Hello world!")
    assert message.options == {"from": SENDER, "mode": "chat", "id": body["id"]}
    now = dt.datetime.now(dt.UTC)
    period = {
        "startTime": (now - dt.timedelta(hours=1)).isoformat(),
        "endTime": (now + dt.timedelta(hours=1)).isoformat(),
    }
    status, history, _ = await call(client, "GET", f"{ipex.url}/SMS", access, params=period)
    assert status == 200
    assert [(h["id"], h["from"], h["to"], h["text"], h["direction"]) for h in history] == [
        (body["id"], SENDER, "+420607608609", "Hello world!", "OUT")
    ]
    naive = {"startTime": "2021-09-01T00:00:00", "endTime": "2021-10-01T00:00:00"}
    assert (await call(client, "GET", f"{ipex.url}/SMS", access, params=naive))[0] == 400
    assert (await call(client, "GET", f"{ipex.url}/SMS", access, params={"startTime": "yesterday"}))[0] == 400


# Instant SMS


@pytest.mark.parametrize(
    ("extra", "to", "sender"),
    [({}, "777888999", "60030"), ({"shortname": "ALERTS", "email": "delivery@example.com"}, "+491701234567", "ALERTS")],
)
async def test_instant_send(
    ipex: RunningSimulator, client: aiohttp.ClientSession, extra: dict[str, str], to: str, sender: str
) -> None:
    """The vendor example (trunk 222333444 to 777888999) works; a shortname replaces sender 60030."""
    access = (await login(client, ipex.url))["access_token"]
    payload = {"from": "222333444", "to": to, "message": "Message text", **extra}
    status, body, _ = await call(client, "POST", f"{ipex.url}/v1/sms", access, json=payload)
    assert status == 200
    message = ipex.sim.messages[-1]
    assert (message.to, message.text) == (to, "Message text")
    assert message.options == {"mode": "instant", "sender": sender, "from": "222333444", "id": body["id"]}


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"from": "+420777888999"}, 403, "Number not allowed"),
        ({"to": "0777888999"}, 400, "Invalid recipient"),
        ({"to": "00420777888999"}, 400, "Invalid recipient"),
        ({"message": " "}, 400, "Message is empty"),
        ({"text": "x", "message": None}, 400, "Message is empty"),
        ({"shortname": "BANK"}, 400, "Unknown sender name"),
        ({"email": "nobody"}, 400, "Invalid email"),
    ],
)
async def test_instant_refusals(
    ipex: RunningSimulator, client: aiohttp.ClientSession, change: dict[str, Any], status: int, message: str
) -> None:
    """Trunk of the account (403), national or +E.164 recipient, message, registered shortname, e-mail."""
    access = (await login(client, ipex.url))["access_token"]
    payload = {"from": "222333444", "to": "777888999", "message": "x", **change}
    error = "Forbidden" if status == 403 else "Bad Request"
    assert (await call(client, "POST", f"{ipex.url}/v1/sms", access, json=payload))[:2] == (
        status,
        {"statusCode": status, "error": error, "message": message},
    )


# Rate limit and faults


async def test_rate_limit_answers_429_with_retry_after(ipex: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """rate_limit_next API requests get 429 and Retry-After: 7; then the API works again."""
    access = (await login(client, ipex.url))["access_token"]
    ipex.sim.rate_limit_next = 2
    url = f"{ipex.url}/SMS/allowed-numbers"
    for _ in range(2):
        status, _, headers = await call(client, "GET", url, access)
        assert (status, headers["Retry-After"]) == (429, "7")
    assert (await call(client, "GET", url, access))[0] == 200


async def test_faults_apply_to_the_token_endpoint_too(ipex: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """The base class's faults cover every route and count down."""
    ipex.sim.fail(Fault.HTTP_503, times=1)
    async with client.post(f"{ipex.url}/token", data=LOGIN) as resp:
        assert resp.status == 503
    assert (await token(client, ipex.url, **LOGIN))[0] == 200


# Webhook


async def test_push_inbound_and_delivery(
    ipex: RunningSimulator, client: aiohttp.ClientSession, receiver: Receiver
) -> None:
    """The documented fields: id, from, to, text, direction, state, createdAt."""
    ipex.sim.webhook_url = receiver.url
    assert await ipex.sim.push_inbound("+420602111222", SENDER, "Ahoj") == 200
    inbound = receiver.payloads[-1]
    assert {k: inbound[k] for k in ("from", "to", "text", "direction")} == {
        "from": "+420602111222",
        "to": SENDER,
        "text": "Ahoj",
        "direction": "IN",
    }
    assert inbound["createdAt"].endswith("Z")
    assert all(isinstance(value, str) for value in inbound.values())
    await ipex.sim.push_delivery("m1", "+420607608609", "FAILED")
    assert receiver.payloads[-1]["state"] == "FAILED"
    assert receiver.payloads[-1]["id"] == "m1"


async def test_push_needs_a_webhook_address(ipex: RunningSimulator) -> None:
    """Without webhook_url there is nowhere to push."""
    with pytest.raises(RuntimeError, match="webhook_url"):
        await ipex.sim.push_inbound("+420602111222", SENDER, "x")


async def test_auto_delivery_report_after_a_chat_send(
    ipex: RunningSimulator, client: aiohttp.ClientSession, receiver: Receiver
) -> None:
    """With the switch on, a chat send is followed by a DELIVERED report carrying its id."""
    ipex.sim.webhook_url = receiver.url
    ipex.sim.auto_delivery_reports = True
    access = (await login(client, ipex.url))["access_token"]
    send = {"from": SENDER, "to": "+420607608609", "text": "x"}
    _, body, _ = await call(client, "POST", f"{ipex.url}/SMS", access, json=send)
    async with asyncio.timeout(2):
        await receiver.arrived.wait()
    report = receiver.payloads[-1]
    assert {k: report[k] for k in ("id", "from", "to", "direction", "state")} == {
        "id": body["id"],
        "from": SENDER,
        "to": "+420607608609",
        "direction": "OUT",
        "state": "DELIVERED",
    }


async def test_control_routes(ipex: RunningSimulator, client: aiohttp.ClientSession, receiver: Receiver) -> None:
    """By hand: an inbound SMS needs a webhook address; /_sim/revoke ends the tokens."""
    async with client.post(f"{ipex.url}/_sim/inbound", params={"text": "hi"}) as resp:
        assert resp.status == 409
    async with client.post(f"{ipex.url}/_sim/webhook", params={"url": receiver.url}) as resp:
        assert resp.status == 200
    async with client.post(f"{ipex.url}/_sim/inbound", params={"from": "+420602111222", "text": "hi"}) as resp:
        assert "200" in await resp.text()
    assert receiver.payloads[-1]["to"] == SENDER
    access = (await login(client, ipex.url))["access_token"]
    async with client.post(f"{ipex.url}/_sim/revoke") as resp:
        assert resp.status == 200
    assert (await call(client, "GET", f"{ipex.url}/SMS/allowed-numbers", access))[0] == 401
    assert all(not r.path.startswith("/_sim/") for r in ipex.sim.requests)
