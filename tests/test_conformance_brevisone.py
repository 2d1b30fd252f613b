"""brevis.one SMS Gateway conformance: public clients' requests against the simulator, and ours in strict mode.

Each replayed case names the public source its request shape comes from. Sources:
- vendor HTTP API page: https://docs.brevis.one/current/en/Content/Functionality/Sending%20Messages/HTTP%20API.htm
  (seed 003): api.php, GET or POST, the error table, examples with to=00491701234567 and to=01701234567
- vendor messages-API page: https://support.brevis.one/hc/de/articles/20060014175132--Nachrichten-Management-messages-API
  (POST /messages, Bearer or HTTP Basic, recipients[{to, target: user|group}], provider sms|telegram, type, 201)
- NETWAYS/notify-brevisone api.go, config.go, api_test.go (REST by default: POST /api/signin, POST /api/messages
  with target number|contact|contactgroup; legacy: GET api.php with all fields in the query string)
- zabbix/zabbix templates/media/brevis.one/media_brevis.one.yaml and README.md
- Checkmk/checkmk doc/treasures/notifications/brevis.one; comnetgmbh/braintower_notifications braintower.py
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import socket
import ssl
import threading
import warnings
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util.ssl import SSLCipherList, client_context

from custom_components.sms_alerts.api import PROVIDERS
from custom_components.sms_alerts.api.base import (
    AuthError,
    EntryRejectedError,
    OutboundSms,
    Outcome,
    Target,
    TargetKind,
    TargetRejectedError,
    TransientError,
)
from custom_components.sms_alerts.api.brevisone import BrevisOneProvider
from custom_components.sms_alerts.api.brevisone_rest import (
    DEFAULT_TOKEN_LIFETIME,
    ApiMissingError,
    classify_message,
    classify_signin,
    renew_time,
    token_expiry,
)
from custom_components.sms_alerts.api.tls import is_weak_tls
from custom_components.sms_alerts.const import DOMAIN
from simulators.base import MOVED_PATH, Fault
from simulators.brevisone import BrevisOneSimulator

from .conftest import RunningSimulator, gateway_entry_for, send, serving

NUMBER = Target(kind=TargetKind.NUMBER, value="+491701234567")
LOGIN = {"username": "apiuser", "password": "secret"}
JSON = {"Accept": "application/json", "Content-Type": "application/json"}


@contextlib.asynccontextmanager
async def gateway_with(**switches: Any) -> AsyncGenerator[RunningSimulator]:
    """Serve a gateway simulator with some switches set."""
    async with serving(BrevisOneSimulator(**switches)) as running:
        yield running


def provider(session: aiohttp.ClientSession, url: str, **config: Any) -> BrevisOneProvider:
    """Our client for a simulator (api given: an entry; none: a flow that finds it)."""
    return BrevisOneProvider.from_config(session, {"url": url, **LOGIN, **config}, timeout=float(config.get("t", 5)))


# Replays of public clients against the lenient simulator


@pytest.mark.parametrize(
    ("source", "query", "expected_to", "channel"),
    [
        (
            "zabbix media_brevis.one.yaml: POST api.php?username&password&text&to, empty multipart body, no boundary",
            {"text": "Problem", "to": "37167784742"},
            "37167784742",
            "sms",
        ),
        (
            "zabbix media_brevis.one.yaml: send_to 'telnumber:37167784742' gives mode and to; telauto=false",
            {"text": "Problem", "mode": "telnumber", "to": "37167784742", "telauto": "false"},
            "37167784742",
            "telegram",
        ),
        (
            "zabbix media_brevis.one.yaml: send_to 'group:1' with ring=true and flash=true",
            {"text": "Problem", "mode": "group", "to": "1", "ring": "true", "flash": "true"},
            "group:Oncall",
            "sms",
        ),
    ],
)
async def test_zabbix_webhook_is_taken(
    gateway: RunningSimulator,
    client: aiohttp.ClientSession,
    source: str,
    query: dict[str, str],
    expected_to: str,
    channel: str,
) -> None:
    """Zabbix posts every field in the query string with an empty body typed multipart/form-data, no boundary."""
    headers = {"Content-Type": "multipart/form-data"}
    async with client.post(f"{gateway.url}/api.php", params={**LOGIN, **query}, data=b"", headers=headers) as resp:
        assert resp.status == 200, source
    message = gateway.sim.messages[-1]
    assert (message.to, message.text, message.options["channel"]) == (expected_to, "Problem", channel)


@pytest.mark.parametrize(
    ("source", "method", "fields", "expected_to"),
    [
        ("vendor page, curl GET example", "GET", {"mode": "number", "to": "00491701234567"}, "00491701234567"),
        ("vendor page, curl POST -d example", "POST", {"mode": "number", "to": "00491701234567"}, "00491701234567"),
        ("vendor page, PowerShell POST example (national number)", "POST", {"to": "01701234567"}, "01701234567"),
        (
            "NETWAYS api.go DoLegacyRequest: GET, mode=number",
            "GET",
            {"mode": "number", "to": "01701234567"},
            "01701234567",
        ),
        (
            "NETWAYS api.go DoLegacyRequest: contactgroup is mode=group",
            "GET",
            {"mode": "group", "to": "2"},
            "group:Facility",
        ),
        ("NETWAYS api.go DoLegacyRequest: contact is mode=user", "GET", {"mode": "user", "to": "Alice"}, "user:Alice"),
        ("Checkmk treasures brevis.one: GET, no mode", "GET", {"to": "00491701234567"}, "00491701234567"),
        ("comNET braintower.py: GET, no mode, http", "GET", {"to": "491701234567"}, "491701234567"),
    ],
)
async def test_public_api_php_requests_are_taken(
    gateway: RunningSimulator,
    client: aiohttp.ClientSession,
    source: str,
    method: str,
    fields: dict[str, str],
    expected_to: str,
) -> None:
    """GET with the query string, or POST with a form body: both reach the gateway."""
    form = {**LOGIN, "text": "Test", **fields}
    if method == "GET":
        request = client.get(f"{gateway.url}/api.php", params=form)
    else:
        request = client.post(f"{gateway.url}/api.php", data=form)
    async with request as resp:
        assert resp.status == 200, source
    assert gateway.sim.messages[-1].to == expected_to


async def test_vendor_hexmode_example(gateway: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """Vendor page, hexmode example: the hex of plain ASCII arrives as the text."""
    text = "48616c6c6f2064696573206973742065696e65205465737420534d53"
    params = {**LOGIN, "text": text, "to": "00491701234567", "hexmode": "true"}
    async with client.get(f"{gateway.url}/api.php", params=params) as resp:
        assert resp.status == 200
    assert gateway.sim.messages[-1].text == "Hallo dies ist eine Test SMS"


@pytest.mark.parametrize(
    ("fields", "status", "body"),
    [
        (
            {"password": "wrong", "text": "x", "to": "00491701234567"},
            401,
            "401 Unauthorized - Username or Password wrong",
        ),
        (
            {"username": "webuser", "text": "x", "to": "00491701234567"},
            403,
            "403 Forbidden - Your User has no right to send SMS over API",
        ),
        ({"text": "x"}, 400, "Error: Parameter miss"),
        ({"text": "x", "to": "12"}, 400, "Error. See Gateway logs for more information."),
        ({"text": "x", "to": "+491701234567"}, 400, "Error. See Gateway logs for more information."),
        ({"text": "x", "mode": "group", "to": "99"}, 400, "Error. See Gateway logs for more information."),
    ],
)
async def test_vendor_error_table(
    gateway: RunningSimulator, client: aiohttp.ClientSession, fields: dict[str, str], status: int, body: str
) -> None:
    """Vendor page, "Error return codes": the HTTP status equals the code and the body is its text."""
    async with client.get(f"{gateway.url}/api.php", params={**LOGIN, **fields}) as resp:
        assert (resp.status, await resp.text()) == (status, body)
    assert gateway.sim.messages == []


async def _signin(client: aiohttp.ClientSession, url: str, login: dict[str, str] = LOGIN) -> tuple[int, Any]:
    """NETWAYS api.go Login: POST /api/signin with JSON and Accept/Content-Type application/json."""
    async with client.post(f"{url}/api/signin", data=json.dumps(login), headers=JSON) as resp:
        return resp.status, await resp.json(content_type=None)


@pytest.mark.parametrize(
    ("source", "recipient", "kind", "expected_to"),
    [
        (
            "NETWAYS config.go: target-type number (default)",
            {"to": "01701234567", "target": "number"},
            "default",
            "01701234567",
        ),
        ("NETWAYS config.go: target-type contact", {"to": "Alice", "target": "contact"}, "default", "user:Alice"),
        (
            "NETWAYS config.go: target-type contactgroup",
            {"to": "Oncall", "target": "contactgroup"},
            "default",
            "group:Oncall",
        ),
        (
            "NETWAYS config.go Run: the ring request after the SMS",
            {"to": "01701234567", "target": "number"},
            "ring",
            "01701234567",
        ),
        ("vendor messages-API page: target group", {"to": "1", "target": "group"}, "flash", "group:Oncall"),
        ("vendor messages-API page: target user", {"to": "8", "target": "user"}, "default", "user:Bob"),
    ],
)
async def test_public_rest_requests_are_taken(
    gateway: RunningSimulator,
    client: aiohttp.ClientSession,
    source: str,
    recipient: dict[str, str],
    kind: str,
    expected_to: str,
) -> None:
    """Sign in for {jwt, expireAt}, then POST /api/messages with the bearer token: 201 (vendor page)."""
    status, answer = await _signin(client, gateway.url)
    assert status == 200
    assert isinstance(answer["jwt"], str)
    assert isinstance(answer["expireAt"], int)  # NETWAYS reads it as uint
    body = {"recipients": [recipient], "text": "Host down", "provider": "sms", "type": kind}
    headers = {**JSON, "Authorization": f"Bearer {answer['jwt']}"}
    async with client.post(f"{gateway.url}/api/messages", data=json.dumps(body), headers=headers) as resp:
        assert resp.status == 201, source
    message = gateway.sim.messages[-1]
    assert (message.to, message.options["ring"], message.options["flash"]) == (
        expected_to,
        kind == "ring",
        kind == "flash",
    )


async def test_rest_basic_auth_and_refusals(gateway: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """Vendor messages-API page: Basic works as well as Bearer; NETWAYS api_test.go: a refused sign-in is 401."""
    assert (await _signin(client, gateway.url, {"username": "apiuser", "password": "wrong"}))[0] == 401
    body = {"recipients": [{"to": "00491701234567", "target": "number"}], "text": "x", "provider": "sms"}
    basic = base64.b64encode(b"apiuser:secret").decode()
    async with client.post(
        f"{gateway.url}/api/messages", json=body, headers={"Authorization": f"Basic {basic}"}
    ) as resp:
        assert resp.status == 201
    async with client.post(f"{gateway.url}/api/messages", json=body, headers={"Authorization": "Bearer x"}) as resp:
        assert resp.status == 401


@pytest.mark.parametrize("missing_status", [404, 200])
async def test_firmware_3_has_no_rest_api(client: aiohttp.ClientSession, missing_status: int) -> None:
    """A firmware-3 unit answers /api/signin with its 404 page or its web interface: no token, so api.php is used."""
    async with gateway_with(rest_api=False, missing_status=missing_status) as gateway:
        async with client.post(f"{gateway.url}/api/signin", json=LOGIN) as resp:
            assert resp.status == missing_status
            assert "jwt" not in await resp.text()
        info = await provider(client, gateway.url).async_validate()
        assert info.data == {"api": "legacy"}


async def test_a_web_server_failing_on_api_signin_falls_back_to_api_php(client: aiohttp.ClientSession) -> None:
    """An old unit whose web server answers /api/signin with a 500 page: api.php is checked and used [assumed]."""
    async with gateway_with() as gateway:
        gateway.sim.fail(Fault.HTML_500, times=1)
        info = await provider(client, gateway.url).async_validate()
        assert info.data == {"api": "legacy"}
        assert [(r.path, r.status) for r in gateway.sim.requests] == [("/api/signin", 500), ("/api.php", 400)]


# Our requests in the documented form: the strict simulator refuses anything else


async def test_our_requests_pass_the_strict_gateway(client: aiohttp.ClientSession) -> None:
    """REST: JSON with Accept, bearer token, number as 00 + digits; api.php: a form POST, nothing in the URL."""
    async with gateway_with(strict=True) as gateway:
        rest = provider(client, gateway.url)
        assert (await rest.async_validate()).data == {"api": "rest"}
        receipts = await rest.async_send(
            OutboundSms(text="Grüße 🚨"),
            [NUMBER, Target(kind=TargetKind.GROUP, value="1"), Target(kind=TargetKind.CONTACT, value="Alice")],
        )
        assert [r.outcome for r in receipts] == [Outcome.SENT] * 3
        assert gateway.sim.rest_bodies[0] == {
            "recipients": [{"to": "00491701234567", "target": "number"}],
            "text": "Grüße 🚨",
            "provider": "sms",
            "type": "default",
        }
        legacy = provider(client, gateway.url, api="legacy")
        await legacy.async_validate()
        receipt = await legacy.async_send_one(OutboundSms(text="Grüße"), NUMBER)
        assert receipt.outcome is Outcome.SENT
        assert [m.to for m in gateway.sim.messages] == [
            "00491701234567",
            "group:Oncall",
            "user:Alice",
            "00491701234567",
        ]
        for request in gateway.sim.requests:
            assert request.query == {}
            assert "secret" not in json.dumps(request.headers)


@pytest.mark.parametrize(
    ("sms", "expected"),
    [
        (OutboundSms(text="x", ring=True), {"provider": "sms", "type": "ring"}),
        (OutboundSms(text="x", flash=True), {"provider": "sms", "type": "flash"}),
        (OutboundSms(text="x", telegram_only=True), {"provider": "telegram", "type": "default"}),
    ],
)
async def test_rest_options(client: aiohttp.ClientSession, sms: OutboundSms, expected: dict[str, str]) -> None:
    """Ring and flash are the message type; Telegram only is the provider (vendor messages-API page)."""
    async with gateway_with(strict=True) as gateway:
        await provider(client, gateway.url, api="rest").async_send_one(sms, NUMBER)
        body = gateway.sim.rest_bodies[-1]
        assert {"provider": body["provider"], "type": body["type"]} == expected


async def test_telegram_first_goes_through_api_php_on_a_rest_gateway(client: aiohttp.ClientSession) -> None:
    """Telegram with SMS fallback is documented for api.php only (mode telnumber): a REST entry uses it for that."""
    async with gateway_with() as gateway:
        rest = provider(client, gateway.url, api="rest", telegram=True)
        await rest.async_send_one(OutboundSms(text="x"), NUMBER)
        assert gateway.sim.messages[-1].options["channel"] == "telegram, sms fallback"
        assert [r.path for r in gateway.sim.requests] == ["/api.php"]
        gateway.sim.legacy_api = False  # no api.php: SMS through REST rather than nothing
        await rest.async_send_one(OutboundSms(text="y"), NUMBER)
        assert (gateway.sim.messages[-1].text, gateway.sim.messages[-1].options["api"]) == ("y", "rest")
        assert rest.api == "rest"


async def test_telegram_first_refused_by_api_php_goes_as_sms_through_rest(client: aiohttp.ClientSession) -> None:
    """A REST user whom api.php refuses (403): the Telegram-first alert still goes out, as SMS through REST."""
    async with gateway_with() as gateway:
        gateway.sim.users["apiuser"].http_api = False
        rest = provider(client, gateway.url, api="rest", telegram=True)
        assert (await rest.async_send_one(OutboundSms(text="x"), NUMBER)).outcome is Outcome.SENT
        assert [(r.path, r.status) for r in gateway.sim.requests] == [
            ("/api.php", 403),
            ("/api/signin", 200),
            ("/api/messages", 201),
        ]
        assert gateway.sim.messages[-1].options["channel"] == "sms"


async def test_a_contact_refused_in_one_spelling_goes_in_the_other(client: aiohttp.ClientSession) -> None:
    """A unit that knows only the vendor page's user/group: contact and contactgroup get a 400, then pass."""
    async with gateway_with(rest_targets=("number", "user", "group")) as gateway:
        rest = provider(client, gateway.url, api="rest")
        alice = Target(kind=TargetKind.CONTACT, value="Alice")
        assert (await rest.async_send_one(OutboundSms(text="a"), alice)).outcome is Outcome.SENT
        assert (await rest.async_send_one(OutboundSms(text="b"), alice)).outcome is Outcome.SENT
        assert [b["recipients"][0]["target"] for b in gateway.sim.rest_bodies] == ["contact", "user", "user"]
        assert [m.to for m in gateway.sim.messages] == ["user:Alice", "user:Alice"]
        with pytest.raises(TargetRejectedError):
            await rest.async_send_one(OutboundSms(text="c"), Target(kind=TargetKind.GROUP, value="Nobody"))


# Tokens


async def test_expired_token_is_renewed_before_the_next_send(
    client: aiohttp.ClientSession, freezer: FrozenDateTimeFactory
) -> None:
    """The lifetime passes between two sends: the second still goes, after exactly one new sign-in, no 401."""
    async with gateway_with(token_lifetime=600) as gateway:
        rest = provider(client, gateway.url, api="rest")
        await rest.async_send_one(OutboundSms(text="first"), NUMBER)
        freezer.tick(dt.timedelta(seconds=601))
        await rest.async_send_one(OutboundSms(text="second"), NUMBER)
        assert gateway.sim.signins == 2
        assert [m.text for m in gateway.sim.messages] == ["first", "second"]
        assert [r.status for r in gateway.sim.requests if r.path == "/api/messages"] == [201, 201]
        freezer.tick(dt.timedelta(seconds=490))  # past 80 % of the lifetime: renewed before the gateway refuses
        await rest.async_send_one(OutboundSms(text="third"), NUMBER)
        assert gateway.sim.signins == 3


async def test_a_refused_token_signs_in_once_and_retries(client: aiohttp.ClientSession) -> None:
    """The gateway forgot the token (a restart): 401, one sign-in, the same message again, sent once."""
    async with gateway_with() as gateway:
        rest = provider(client, gateway.url, api="rest")
        await rest.async_send_one(OutboundSms(text="first"), NUMBER)
        gateway.sim.tokens.clear()
        receipt = await rest.async_send_one(OutboundSms(text="second"), NUMBER)
        assert receipt.outcome is Outcome.SENT
        assert gateway.sim.signins == 2
        assert [m.text for m in gateway.sim.messages] == ["first", "second"]


async def test_parallel_sends_share_one_sign_in(client: aiohttp.ClientSession) -> None:
    """Several requests at once with no token yet: one sign-in (one at a time), every message sent."""
    async with gateway_with() as gateway:
        rest = provider(client, gateway.url, api="rest", parallel_requests=4)
        targets = [Target(kind=TargetKind.NUMBER, value=f"+49170123456{i}") for i in range(6)]
        receipts = await rest.async_send(OutboundSms(text="x"), targets)
        assert {r.outcome for r in receipts} == {Outcome.SENT}
        assert gateway.sim.signins == 1


async def test_a_password_changed_on_the_gateway_is_an_auth_error(client: aiohttp.ClientSession) -> None:
    """401 on the message, and the new sign-in is refused too: AuthError (reauth), nothing sent."""
    async with gateway_with() as gateway:
        rest = provider(client, gateway.url, api="rest")
        await rest.async_validate()
        gateway.sim.tokens.clear()
        gateway.sim.users["apiuser"].password = "changed"
        with pytest.raises(AuthError):
            await rest.async_send_one(OutboundSms(text="x"), NUMBER)
        assert gateway.sim.messages == []


@pytest.mark.parametrize(
    ("token", "expire_at", "lifetime"),
    [
        ("a.b.c", 1_800_000_600, 600.0),  # Unix seconds
        ("a.b.c", 1_800_000_600_000, 600.0),  # milliseconds
        ("a.b.c", "2027-01-15T08:10:00+00:00", 600.0),  # ISO 8601
        ("a.b.c", 0, DEFAULT_TOKEN_LIFETIME),  # NETWAYS api_test.go sample: unknown, the default
        ("a.b.c", None, DEFAULT_TOKEN_LIFETIME),
        ("h.eyJleHAiOiAxODAwMDAwOTAwfQ.s", 1_800_000_600, 900.0),  # the JWT's exp claim wins
        # Answers no reader should break on: a default, never an error
        ("a.b.c", 9 * 10**400, DEFAULT_TOKEN_LIFETIME),  # an integer past float's range
        ("a.b.c", "9" * 400, DEFAULT_TOKEN_LIFETIME),
        ("a.b.c", "\u00b2\u00b3", DEFAULT_TOKEN_LIFETIME),  # digits to str.isdigit, not to int()
        (
            "h.eyJleHAiOiA5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5fQ.s",
            1_800_000_600,
            600.0,
        ),  # an exp claim past float's range
        (
            "h.W1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tb.s",
            1_800_000_600,
            600.0,
        ),  # a claim nested past the parser's stack
    ],
)
def test_token_lifetime(token: str, expire_at: Any, lifetime: float) -> None:
    """The JWT's own exp claim first, then expireAt in seconds, milliseconds or ISO 8601, else a default."""
    assert token_expiry(token, expire_at, 1_800_000_000.0) - 1_800_000_000.0 == lifetime
    assert renew_time(0.0, 600.0) == 480.0
    assert renew_time(0.0, 120.0) == 60.0


# Classification of REST answers (PROVIDERS.md §0)


@pytest.mark.parametrize(
    ("status", "body", "error", "key"),
    [
        (201, '{"id": 1}', None, None),
        (200, "", None, None),
        (400, '{"message": "recipient not found"}', TargetRejectedError, "target_rejected"),
        (422, "{}", TargetRejectedError, "target_rejected"),
        (404, '{"message": "contact not found"}', TargetRejectedError, "target_rejected"),
        (404, "<html>Not Found</html>", ApiMissingError, "api_missing"),
        (405, "", ApiMissingError, "api_missing"),
        (401, "{}", AuthError, "invalid_auth"),
        (403, "{}", EntryRejectedError, "no_api_permission"),
        (408, "", TransientError, "gateway_timeout"),
        (429, "", TransientError, "server_error"),
        (503, "<html/>", TransientError, "server_error"),
        (302, "", TransientError, "unexpected_response"),
    ],
)
def test_rest_message_classification(status: int, body: str, error: type | None, key: str | None) -> None:
    """Every answer maps onto one class; an unknown one is retried, never dropped."""
    result = classify_message(status, body)
    assert (type(result) if result else None, result.key if result else None) == (error, key)


@pytest.mark.parametrize(
    ("status", "body", "error", "key"),
    [
        (200, "<html>login</html>", ApiMissingError, "api_missing"),
        (200, '{"token": "x"}', ApiMissingError, "api_missing"),
        (302, "", ApiMissingError, "api_missing"),
        (404, "", ApiMissingError, "api_missing"),
        (401, "{}", AuthError, "invalid_auth"),
        (403, "{}", EntryRejectedError, "no_api_permission"),
        (500, "", TransientError, "server_error"),
        (503, "", TransientError, "unavailable"),
    ],
)
def test_rest_signin_classification(status: int, body: str, error: type, key: str) -> None:
    """A sign-in without a token is no REST API; 401/403 are the login's; 5xx transient."""
    with pytest.raises(error) as err:
        classify_signin(status, body)
    assert err.value.key == key  # type: ignore[attr-defined]


# Both APIs through the flow, a send, a 401, a timeout and a redirect


async def _flow(hass: HomeAssistant, url: str, **extra: Any) -> dict[str, Any]:
    """Run the SMS Gateway step of the config flow."""
    hass.config.country = "DE"
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "sms_gateway"})
    form = {"url": url, **LOGIN, "verify_ssl": True, "telegram": False, **extra}
    return dict(await hass.config_entries.flow.async_configure(result["flow_id"], form))


@pytest.mark.parametrize(("rest", "api"), [(True, "rest"), (False, "legacy")])
async def test_flow_send_and_auth_failure_on_each_api(
    hass: HomeAssistant, socket_enabled: None, rest: bool, api: str
) -> None:
    """The flow stores the API found; a send goes through it; a changed password starts reauthentication."""
    async with gateway_with(rest_api=rest) as gateway:
        result = await _flow(hass, gateway.url)
        assert result["type"] is FlowResultType.CREATE_ENTRY
        entry = result["result"]
        assert entry.data["api"] == api
        assert gateway.sim.messages == []
        await hass.async_block_till_done(wait_background_tasks=True)
        response = await send(hass, entry, message="Disk full", target=["+491701234567"])
        assert response["results"][0]["status"] == "sent"
        assert gateway.sim.messages[-1].to == "00491701234567"
        gateway.sim.users["apiuser"].password = "changed"
        gateway.sim.tokens.clear()
        with pytest.raises(HomeAssistantError):
            await send(hass, entry, message="Disk full again", target=["+491701234567"])
        await hass.async_block_till_done()
        flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
        assert len(gateway.sim.messages) == 1


@pytest.mark.parametrize("api", ["rest", "legacy"])
async def test_timeout_is_transient_on_each_api(client: aiohttp.ClientSession, api: str) -> None:
    """No answer in time: transient (queued), with a possible duplicate named."""
    async with gateway_with() as gateway:
        gateway.sim.fail(Fault.SLOW, delay=2)
        with pytest.raises(TransientError) as err:
            await provider(client, gateway.url, api=api, t=0.3).async_send_one(OutboundSms(text="x"), NUMBER)
        assert err.value.key == "timeout"
        gateway.sim.recover()


@pytest.mark.parametrize("api", ["rest", "legacy"])
@pytest.mark.parametrize("fault", [Fault.REDIRECT_302, Fault.REDIRECT_307])
async def test_redirect_is_refused_on_each_api(client: aiohttp.ClientSession, api: str, fault: Fault) -> None:
    """A redirect is never followed, signed-in or not, and the alert is not taken for sent."""
    async with gateway_with() as gateway:
        rest = provider(client, gateway.url, api=api)
        await rest.async_send_one(OutboundSms(text="before"), NUMBER)
        gateway.sim.fail(fault)
        with pytest.raises(EntryRejectedError) as err:
            await rest.async_send_one(OutboundSms(text="x"), NUMBER)
        assert err.value.key == "redirected"
        assert [r for r in gateway.sim.requests if r.path == MOVED_PATH] == []
        assert [m.text for m in gateway.sim.messages] == ["before"]


@pytest.mark.parametrize("rest", [True, False])
async def test_flow_refuses_a_redirecting_address_on_each_api(
    hass: HomeAssistant, socket_enabled: None, rest: bool
) -> None:
    """Redirects in the flow: the form says so, and the login goes nowhere else."""
    async with gateway_with(rest_api=rest) as gateway:
        gateway.sim.fail(Fault.REDIRECT_307)
        result = await _flow(hass, gateway.url)
        assert result["errors"] == {"base": "redirected"}
        assert [r for r in gateway.sim.requests if r.path == MOVED_PATH] == []


# Firmware changes: downgrade, upgrade, reconfigure, and entries from before REST support


async def test_downgrade_sends_through_api_php(client: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture) -> None:
    """A REST entry whose gateway lost the REST API: the same send goes through api.php, and stays there."""
    async with gateway_with() as gateway:
        rest = provider(client, gateway.url, api="rest")
        gateway.sim.rest_api = False
        assert (await rest.async_send_one(OutboundSms(text="x"), NUMBER)).outcome is Outcome.SENT
        assert rest.api == "legacy"
        assert "Reconfigure the entry" in caplog.text
        await rest.async_send_one(OutboundSms(text="y"), NUMBER)
        assert [r.path for r in gateway.sim.requests] == ["/api/signin", "/api.php", "/api.php"]


async def test_upgrade_without_api_php_sends_through_rest(client: aiohttp.ClientSession) -> None:
    """An api.php entry whose gateway no longer has api.php: the send goes through REST."""
    async with gateway_with(legacy_api=False) as gateway:
        legacy = provider(client, gateway.url, api="legacy")
        assert (await legacy.async_send_one(OutboundSms(text="x"), NUMBER)).outcome is Outcome.SENT
        assert legacy.api == "rest"
        assert gateway.sim.messages[-1].options["api"] == "rest"


async def test_neither_api_keeps_the_message(client: aiohttp.ClientSession) -> None:
    """No API at all (an address that is no gateway, for now): transient, so the message is kept."""
    async with gateway_with(legacy_api=False, rest_api=False) as gateway:
        with pytest.raises(ApiMissingError):
            await provider(client, gateway.url, api="rest").async_send_one(OutboundSms(text="x"), NUMBER)


async def test_start_up_check_follows_a_firmware_change(client: aiohttp.ClientSession) -> None:
    """The credential check at start finds the other API when the stored one is gone."""
    async with gateway_with(rest_api=False) as gateway:
        rest = provider(client, gateway.url, api="rest")
        info = await rest.async_validate()
        assert (rest.api, info.data) == ("legacy", {"api": "legacy"})


async def test_reconfigure_detects_the_api_again(hass: HomeAssistant, socket_enabled: None) -> None:
    """After a downgrade, reconfigure stores api.php; after the upgrade, REST again."""
    async with gateway_with() as gateway:
        entry = gateway_entry_for(gateway)
        entry.add_to_hass(hass)
        await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done(wait_background_tasks=True)
        for rest, api in ((False, "legacy"), (True, "rest")):
            gateway.sim.rest_api = rest
            result = await entry.start_reconfigure_flow(hass)
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], {"url": gateway.url, **LOGIN, "verify_ssl": True, "telegram": False}
            )
            assert result["reason"] == "reconfigure_successful"
            assert entry.data["api"] == api
            await hass.async_block_till_done(wait_background_tasks=True)


async def test_entry_from_before_rest_support_keeps_api_php(hass: HomeAssistant, socket_enabled: None) -> None:
    """An entry of version 1.1 (no `api`) is migrated to api.php, and sends there although REST is offered."""
    async with gateway_with() as gateway:
        entry = gateway_entry_for(gateway)
        assert entry.minor_version == 1
        assert "api" not in entry.data
        entry.add_to_hass(hass)
        hass.config.country = "DE"
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done(wait_background_tasks=True)
        assert (entry.minor_version, entry.data["api"]) == (3, "legacy")
        await send(hass, entry, message="x")
        assert {r.path for r in gateway.sim.requests} == {"/api.php", "/check.php"}


async def test_rest_messages_reach_the_phones_list(client: aiohttp.ClientSession) -> None:
    """A message sent through REST is listed by /_sim/messages, which the phones page reads."""
    async with gateway_with() as gateway:
        await provider(client, gateway.url, api="rest").async_send_one(OutboundSms(text="via REST"), NUMBER)
        async with client.get(f"{gateway.url}/_sim/messages") as resp:
            listed = await resp.json()
        assert [(m["to"], m["text"]) for m in listed] == [("00491701234567", "via REST")]


async def test_no_password_or_token_in_logs(client: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture) -> None:
    """Neither the password nor the JWT is logged at any level, on success or refusal."""
    caplog.set_level("DEBUG")
    async with gateway_with() as gateway:
        rest = provider(client, gateway.url, api="rest")
        await rest.async_send_one(OutboundSms(text="x"), NUMBER)
        gateway.sim.fail(Fault.HTML_500, times=1)
        with pytest.raises(TransientError):
            await rest.async_send_one(OutboundSms(text="y"), NUMBER)
        tokens = list(gateway.sim.tokens)
    assert tokens
    for secret in ("secret", *tokens):
        assert secret not in caplog.text


# Allow older encryption


def _weak_tls_context(directory: Path, version: ssl.TLSVersion) -> ssl.SSLContext:
    """A server context offering only AES128-SHA (RSA key exchange, SHA-1 MAC) up to `version`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "braintower-sms-gateway")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    (directory / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "k.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "c.pem", directory / "k.pem")
    context.set_ciphers("AES128-SHA:@SECLEVEL=0")
    context.minimum_version = min(version, ssl.TLSVersion.TLSv1_2)
    context.maximum_version = version
    return context


def _handshakes(server: ssl.SSLContext, ciphers: SSLCipherList) -> bool:
    """Tell whether Home Assistant's client context with these ciphers completes a handshake with the server."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)

    def serve() -> None:
        with contextlib.suppress(OSError, TimeoutError):
            conn, _ = listener.accept()
            with contextlib.suppress(ssl.SSLError, OSError):
                server.wrap_socket(conn, server_side=True).close()
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    context = client_context(ciphers)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(listener.getsockname(), timeout=5) as raw:
            context.wrap_socket(raw, server_hostname="gateway").close()
    except (ssl.SSLError, OSError):
        return False
    finally:
        thread.join()
        listener.close()
    return True


def _old_gateway_context(directory: Path) -> ssl.SSLContext:
    """An old gateway's TLS that this Python refuses by default and Home Assistant's INSECURE list accepts.

    Which one that is depends on the stack: Python 3.13 with OpenSSL 3.0 refuses AES128-SHA over
    TLS 1.2, while Python 3.14 takes that cipher and refuses TLS 1.0, which Home Assistant 2026.x's
    INSECURE context still allows. Both are what gateways of older firmware offer [assumed].
    """
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0 is the point here
            if not _handshakes(_weak_tls_context(directory, version), SSLCipherList.PYTHON_DEFAULT) and (
                _handshakes(_weak_tls_context(directory, version), SSLCipherList.INSECURE)
            ):
                return _weak_tls_context(directory, version)
    pytest.fail("no old TLS setup that the default refuses and Allow older encryption accepts")


@contextlib.contextmanager
def weak_tls_front(context: ssl.SSLContext, backend_port: int) -> Iterator[int]:
    """A TLS front on loopback (blocking sockets, so a refused handshake sends its alert) relaying to the backend."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            try:
                tls = context.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                conn.close()
                continue
            backend = socket.create_connection(("127.0.0.1", backend_port))
            threading.Thread(target=pump, args=(tls, backend), daemon=True).start()
            threading.Thread(target=pump, args=(backend, tls), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        server.close()


async def test_weak_tls_names_the_option_and_the_option_works(
    hass: HomeAssistant, socket_enabled: None, tmp_path: Path
) -> None:
    """Only old ciphers: the form error is weak_tls; with Allow older encryption the entry is made."""
    async with gateway_with() as gateway:
        port = int(gateway.url.rsplit(":", 1)[1])
        with weak_tls_front(_old_gateway_context(tmp_path), port) as front:
            url = f"https://127.0.0.1:{front}"
            result = await asyncio.wait_for(_flow(hass, url, verify_ssl=False), 10)
            assert result["errors"] == {"base": "weak_tls"}
            result = await asyncio.wait_for(
                hass.config_entries.flow.async_configure(
                    result["flow_id"],
                    {"url": url, **LOGIN, "verify_ssl": False, "telegram": False, "legacy_tls": True},
                ),
                10,
            )
            assert result["type"] is FlowResultType.CREATE_ENTRY
            assert (result["data"]["legacy_tls"], result["data"]["api"]) == (True, "rest")
            await hass.config_entries.async_unload(result["result"].entry_id)


@pytest.mark.parametrize(
    ("reason", "weak"),
    [
        ("SSLV3_ALERT_HANDSHAKE_FAILURE", True),
        ("NO_SHARED_CIPHER", True),
        ("UNSUPPORTED_PROTOCOL", True),
        ("TLSV1_ALERT_PROTOCOL_VERSION", True),
        ("DH_KEY_TOO_SMALL", True),
        ("UNSAFE_LEGACY_RENEGOTIATION_DISABLED", True),
        ("CERTIFICATE_VERIFY_FAILED", False),
        ("WRONG_VERSION_NUMBER", False),
    ],
)
def test_weak_tls_is_told_from_other_tls_failures(reason: str, weak: bool) -> None:
    """Handshake, cipher and protocol refusals name the option; others (http on an https port) do not."""
    error = ssl.SSLError(1, f"[SSL: {reason}] x")
    error.reason = reason  # type: ignore[misc]
    wrapped = aiohttp.ClientSSLError(None, error)  # type: ignore[arg-type]
    assert is_weak_tls(wrapped) is weak


def test_weak_tls_is_named_only_where_the_option_exists() -> None:
    """Only the SMS Gateway offers Allow older encryption; the others keep ssl_error."""
    assert [key for key, cls in PROVIDERS.items() if cls.weak_tls_option] == ["sms_gateway"]


async def test_firmware_switch_at_run_time(gateway: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """/_sim/apis turns each API off and on for scripts/develop; bad values are refused."""
    async with client.post(f"{gateway.url}/_sim/apis", params={"rest": "0", "token_lifetime": "30"}) as resp:
        assert resp.status == 200
    assert (gateway.sim.rest_api, gateway.sim.legacy_api, gateway.sim.token_lifetime) == (False, True, 30.0)
    async with client.post(f"{gateway.url}/api/signin", json=LOGIN) as resp:
        assert resp.status == 404
    async with client.post(f"{gateway.url}/_sim/apis", params={"rest": "yes"}) as resp:
        assert resp.status == 400
