"""The IPEX client against the simulator: tokens, chat and instant SMS, the response table, webhook payloads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from custom_components.sms_alerts.api.base import (
    AccountInfo,
    AuthError,
    OutboundSms,
    Outcome,
    Target,
    TargetKind,
    TransientError,
)
from custom_components.sms_alerts.api.ipex import (
    DEFAULT_AUTH_URL,
    DEFAULT_INSTANT_URL,
    DEFAULT_URL,
    IpexProvider,
    _message_id,
    instant_number,
    parse_allowed_numbers,
    reason,
    retry_after,
)
from custom_components.sms_alerts.api.ipex_tokens import _grant_from
from custom_components.sms_alerts.api.ipex_webhook import DeliveryReport, InboundSms, parse_webhook
from simulators.base import Fault
from simulators.ipex import IpexSimulator

from .conftest import RunningSimulator, serving

EMAIL = "alerts@example.com"
PASSWORD = "secret"
SENDER = "+420777888999"
TRUNK = "222333444"
CZ = Target(kind=TargetKind.NUMBER, value="+420607608609")
DE = Target(kind=TargetKind.NUMBER, value="+491701234567")


@dataclass
class FakeClock:
    """A monotonic clock the test moves by hand, shared by client and simulator."""

    now: float = 1000.0

    def __call__(self) -> float:
        """Return the current reading."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward without sleeping."""
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """The shared fake clock."""
    return FakeClock()


@pytest.fixture
async def ipex(socket_enabled: None, clock: FakeClock) -> AsyncGenerator[RunningSimulator]:
    """The IPEX simulator (token endpoint, SMS Chat API and instant SMS) on loopback."""
    async with serving(IpexSimulator(clock=clock)) as running:
        yield running


def make(session: aiohttp.ClientSession, ipex: RunningSimulator, clock: FakeClock, **overrides: Any) -> IpexProvider:
    """Build a client for the simulator with the demo login and sender unless told otherwise."""
    config: dict[str, Any] = {
        "url": ipex.url,
        "auth_url": f"{ipex.url}/token",
        "instant_url": f"{ipex.url}/v1/sms",
        "username": EMAIL,
        "password": PASSWORD,
        "sender": SENDER,
        **overrides,
    }
    timeout = float(config.pop("timeout", 5))
    return IpexProvider(session, **config, timeout=timeout, clock=clock)


def paths(sim: IpexSimulator) -> list[tuple[str, str, int]]:
    """Return method, path and status of every request the simulator saw."""
    return [(r.method, r.path, r.status) for r in sim.requests]


# Configuration and credential checks


def test_from_config_takes_defaults_for_empty_fields() -> None:
    """Empty or missing fields fall back to the public addresses and chat mode."""
    provider = IpexProvider.from_config(
        None,  # type: ignore[arg-type]
        {"username": EMAIL, "password": PASSWORD, "url": "", "sender": ""},
    )
    assert (DEFAULT_URL, DEFAULT_AUTH_URL, DEFAULT_INSTANT_URL) == (
        "https://sms-api.voipex.io",
        "https://auth.voipex.io/token",
        "https://restapi.ipex.cz/v1/sms",
    )
    view = provider.redacted_view()
    assert view["mode"] == "chat"
    assert view["default_urls"] is True
    assert view["sender_set"] is False
    assert provider.identity() == AccountInfo(unique_id="ipex-user:alerts@example.com", title="IPEX alerts@example.com")


@pytest.mark.parametrize(
    "config",
    [{}, {"username": EMAIL}, {"password": PASSWORD}, {"api_token": "t", "mode": "bulk"}],
)
def test_from_config_refuses_missing_login_or_unknown_mode(config: dict[str, str]) -> None:
    """A login or a token is needed, and the mode is chat or instant."""
    with pytest.raises(ValueError, match="IPEX"):
        IpexProvider.from_config(None, config)  # type: ignore[arg-type]


async def test_validate_with_password_logs_in_and_reads_numbers(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """The token call with form fields, then allowed-numbers with the bearer; nothing is sent."""
    info = await make(session, ipex, clock).async_validate()
    assert info == AccountInfo(unique_id=f"ipex:{SENDER}", title=f"IPEX {SENDER}")
    assert paths(ipex.sim) == [("POST", "/token", 200), ("GET", "/SMS/allowed-numbers", 200)]
    token_request, numbers_request = ipex.sim.requests
    assert token_request.form == {"client_id": "api", "grant_type": "password", "username": EMAIL, "password": PASSWORD}
    assert numbers_request.headers["Authorization"].startswith("Bearer ")
    assert all(r.query == {} for r in ipex.sim.requests)
    assert ipex.sim.messages == []


async def test_validate_without_sender_names_the_login(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """Before a sender is chosen, the account is the login."""
    info = await make(session, ipex, clock, sender=None, username="Alerts@example.com").async_validate()
    assert info == AccountInfo(unique_id="ipex-user:alerts@example.com", title="IPEX Alerts@example.com")


@pytest.mark.parametrize(("username", "password"), [(EMAIL, "Wr0ngPa55"), ("nobody@example.com", PASSWORD)])
async def test_validate_refused_login_is_invalid_auth(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock, username: str, password: str
) -> None:
    """401 invalid_grant from the token endpoint is an auth error; the API is not asked."""
    provider = make(session, ipex, clock, username=username, password=password)
    with pytest.raises(AuthError) as err:
        await provider.async_validate()
    assert err.value.key == "invalid_auth"
    assert err.value.reason == "HTTP 401: Invalid user credentials"
    assert password not in str(err.value)
    assert paths(ipex.sim) == [("POST", "/token", 401)]


async def test_validate_with_pasted_token(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """A pasted token goes straight to allowed-numbers; the token endpoint is never called."""
    provider = make(session, ipex, clock, username=None, password=None, sender=None, api_token=ipex.sim.issue_token())
    info = await provider.async_validate()
    assert info == AccountInfo(unique_id="ipex-token", title="IPEX")
    assert paths(ipex.sim) == [("GET", "/SMS/allowed-numbers", 200)]


async def test_validate_with_refused_pasted_token(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """A pasted token the API refuses is an auth error at once."""
    provider = make(session, ipex, clock, username=None, password=None, api_token="expired-token")
    with pytest.raises(AuthError):
        await provider.async_validate()
    assert paths(ipex.sim) == [("GET", "/SMS/allowed-numbers", 401)]


async def test_validate_when_the_api_refuses_a_fresh_token(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """A login that works but a token the API refuses is still invalid_auth, after refresh and re-login."""
    ipex.sim.api_refuses_tokens = True
    with pytest.raises(AuthError) as err:
        await make(session, ipex, clock).async_validate()
    assert err.value.key == "invalid_auth"
    assert [path for _, path, _ in paths(ipex.sim)].count("/SMS/allowed-numbers") == 3


async def test_validate_unreachable(closed_url: str, session: aiohttp.ClientSession, clock: FakeClock) -> None:
    """Nothing listening at the token endpoint is a transient 'cannot_connect'."""
    provider = IpexProvider(session, url=closed_url, auth_url=f"{closed_url}/token", username=EMAIL, password="x")
    with pytest.raises(TransientError) as err:
        await provider.async_validate()
    assert err.value.key == "cannot_connect"


async def test_validate_token_endpoint_down_is_transient(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """A 503 from the token endpoint means try later, not a wrong password."""
    ipex.sim.fail(Fault.HTTP_503, times=1)
    with pytest.raises(TransientError) as err:
        await make(session, ipex, clock).async_validate()
    assert err.value.key == "server_error"


# Allowed numbers


@pytest.mark.parametrize("shape", ["strings", "objects", "wrapped"])
async def test_allowed_numbers_in_every_shape(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock, shape: str
) -> None:
    """A list of strings, of objects, or a wrapped list all give the numbers."""
    ipex.sim.allowed_numbers_shape = shape
    ipex.sim.allowed_numbers[EMAIL] = [SENDER, "+420777888998"]
    assert await make(session, ipex, clock).async_allowed_numbers() == [SENDER, "+420777888998"]


async def test_account_without_sms_chat_has_no_numbers(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """404 from allowed-numbers is an empty list, so the flow can offer instant mode."""
    ipex.sim.sms_chat = False
    assert await make(session, ipex, clock).async_allowed_numbers() == []


@pytest.mark.parametrize(
    ("payload", "numbers"),
    [
        (["+420777888999", " +420777888998 ", "+420777888999"], ["+420777888999", "+420777888998"]),
        ([{"phoneNumber": "+420111"}, {"msisdn": "+420222"}, {"value": "+420333"}], ["+420111", "+420222", "+420333"]),
        ([{"number": 420777888999}, {"id": 1}, None, 7], []),
        ({"total": 1, "data": [{"number": "+420111"}]}, ["+420111"]),
        ({"message": "nothing"}, []),
        ("+420777888999", []),
        (None, []),
    ],
)
def test_allowed_numbers_are_parsed_defensively(payload: object, numbers: list[str]) -> None:
    """Unknown items are skipped and duplicates dropped."""
    assert parse_allowed_numbers(payload) == numbers


async def test_unknown_allowed_numbers_body_warns(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A 200 whose shape is unknown gives no numbers and a warning."""
    ipex.sim.allowed_numbers[EMAIL] = []
    provider = make(session, ipex, clock)
    assert await provider.async_allowed_numbers() == []
    assert "does not know" not in caplog.text
    ipex.sim.allowed_numbers_shape = "wrapped"
    ipex.sim.allowed_numbers[EMAIL] = [{"line": 1}]  # type: ignore[list-item]
    assert await provider.async_allowed_numbers() == []
    assert "does not know" in caplog.text


# Chat sends and tokens


async def test_chat_send_keeps_the_id(ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock) -> None:
    """POST /SMS with from, to and text; the returned id becomes the receipt's message_id."""
    receipts = await make(session, ipex, clock).async_send(OutboundSms(text="Disk full"), [CZ])
    message = ipex.sim.messages[-1]
    assert [r.outcome for r in receipts] == [Outcome.SENT]
    assert receipts[0].message_id == message.options["id"]
    assert (message.to, message.text) == (CZ.value, "Disk full")
    assert message.options == {"from": SENDER, "mode": "chat", "id": receipts[0].message_id}
    request = ipex.sim.requests[-1]
    assert (request.method, request.path, request.query) == ("POST", "/SMS", {})
    assert request.headers["Content-Type"].startswith("application/json")


async def test_text_arrives_intact(ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock) -> None:
    """Czech, emoji, quotes, backslashes and newlines survive the JSON body."""
    text = 'Příliš žluťoučký kůň 🚨 it\'s "hot" / 50% & +1 = 2\\n\nline 2 €'
    await make(session, ipex, clock).async_send(OutboundSms(text=text), [CZ])
    assert ipex.sim.messages[-1].text == text


async def test_several_sends_share_one_token(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """One login serves every send while the token is fresh."""
    provider = make(session, ipex, clock)
    await provider.async_send(OutboundSms(text="a"), [CZ, DE])
    await provider.async_send(OutboundSms(text="b"), [CZ])
    assert (ipex.sim.logins, ipex.sim.refreshes, len(ipex.sim.messages)) == (1, 0, 3)


async def test_concurrent_sends_share_one_login(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """Sends started together wait for one token call."""
    provider = make(session, ipex, clock)
    receipts = await asyncio.gather(*(provider.async_send_one(OutboundSms(text=str(i)), CZ) for i in range(5)))
    assert {r.outcome for r in receipts} == {Outcome.SENT}
    assert (ipex.sim.logins, ipex.sim.refreshes) == (1, 0)


async def test_token_is_refreshed_at_80_percent(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """Before 80 % of expires_in the token is reused; after, it is refreshed (not a new login)."""
    provider = make(session, ipex, clock)
    await provider.async_send_one(OutboundSms(text="a"), CZ)
    clock.advance(2399)
    await provider.async_send_one(OutboundSms(text="b"), CZ)
    assert (ipex.sim.logins, ipex.sim.refreshes) == (1, 0)
    clock.advance(2)
    await provider.async_send_one(OutboundSms(text="c"), CZ)
    assert (ipex.sim.logins, ipex.sim.refreshes) == (1, 1)
    refresh = ipex.sim.requests[-2]
    assert refresh.path == "/token"
    assert set(refresh.form) == {"client_id", "grant_type", "refresh_token"}
    assert (refresh.form["client_id"], refresh.form["grant_type"]) == ("api", "refresh_token")
    assert provider.redacted_view()["token_expires_in"] == 3000


async def test_expired_refresh_token_means_a_new_login(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """After refresh_expires_in the client logs in again without trying the dead refresh token."""
    provider = make(session, ipex, clock)
    await provider.async_send_one(OutboundSms(text="a"), CZ)
    clock.advance(7201)
    await provider.async_send_one(OutboundSms(text="b"), CZ)
    assert (ipex.sim.logins, ipex.sim.refreshes) == (2, 0)
    assert [r.form.get("grant_type") for r in ipex.sim.requests if r.path == "/token"] == ["password", "password"]


async def test_refused_refresh_means_a_new_login(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """A refresh token the endpoint refuses (400 invalid_grant) is followed by a login."""
    provider = make(session, ipex, clock)
    await provider.async_send_one(OutboundSms(text="a"), CZ)
    ipex.sim.revoke_tokens(refresh_tokens=True)
    clock.advance(2500)
    receipt = await provider.async_send_one(OutboundSms(text="b"), CZ)
    assert receipt.outcome is Outcome.SENT
    assert [(r.form.get("grant_type"), r.status) for r in ipex.sim.requests if r.path == "/token"] == [
        ("password", 200),
        ("refresh_token", 400),
        ("password", 200),
    ]


async def test_refresh_failing_for_now_keeps_the_valid_token(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """A 503 on an early refresh does not stop a send while the token still lives; the next send refreshes."""
    provider = make(session, ipex, clock)
    await provider.async_send_one(OutboundSms(text="a"), CZ)
    clock.advance(2500)
    ipex.sim.fail(Fault.HTTP_503, times=1)
    assert (await provider.async_send_one(OutboundSms(text="b"), CZ)).outcome is Outcome.SENT
    assert ipex.sim.refreshes == 0
    await provider.async_send_one(OutboundSms(text="c"), CZ)
    assert (ipex.sim.logins, ipex.sim.refreshes) == (1, 1)


async def test_refresh_failing_after_expiry_is_transient(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """With the access token gone, a token endpoint in trouble queues the message."""
    provider = make(session, ipex, clock)
    await provider.async_send_one(OutboundSms(text="a"), CZ)
    clock.advance(3001)
    ipex.sim.fail(Fault.HTTP_503, times=1)
    receipts = await provider.async_send(OutboundSms(text="b"), [CZ])
    assert receipts[0].outcome is Outcome.TRANSIENT


@pytest.mark.parametrize(
    ("refresh_tokens", "grants"),
    [(False, ["password", "refresh_token"]), (True, ["password", "refresh_token", "password"])],
)
async def test_revoked_token_is_renewed_without_the_caller_noticing(
    ipex: RunningSimulator,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    refresh_tokens: bool,
    grants: list[str],
) -> None:
    """A 401 from the API: refresh (or log in if that is refused) and send again."""
    provider = make(session, ipex, clock)
    await provider.async_send_one(OutboundSms(text="a"), CZ)
    ipex.sim.revoke_tokens(refresh_tokens=refresh_tokens)
    receipt = await provider.async_send_one(OutboundSms(text="b"), CZ)
    assert receipt.outcome is Outcome.SENT
    assert [m.text for m in ipex.sim.messages] == ["a", "b"]
    assert [r.form.get("grant_type") for r in ipex.sim.requests if r.path == "/token"] == grants


async def test_concurrent_401s_share_one_refresh(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """Sends refused together renew the token once; the others take the new one."""
    provider = make(session, ipex, clock)
    await provider.async_send_one(OutboundSms(text="a"), CZ)
    ipex.sim.revoke_tokens()
    receipts = await asyncio.gather(*(provider.async_send_one(OutboundSms(text=str(i)), CZ) for i in range(3)))
    assert {r.outcome for r in receipts} == {Outcome.SENT}
    assert (ipex.sim.logins, ipex.sim.refreshes) == (1, 1)


async def test_concurrent_sends_refused_throughout_renew_once_per_step(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """Two sends the API keeps refusing share one refresh and one new login, then both fail as auth."""
    provider = make(session, ipex, clock)
    await provider.async_send_one(OutboundSms(text="a"), CZ)
    ipex.sim.api_refuses_tokens = True
    results = await asyncio.gather(
        *(provider.async_send_one(OutboundSms(text=str(i)), CZ) for i in range(2)), return_exceptions=True
    )
    assert all(isinstance(result, AuthError) for result in results)
    assert (ipex.sim.logins, ipex.sim.refreshes) == (2, 1)


async def test_token_refused_after_refresh_and_login_is_an_auth_error(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """401, refresh, 401, login, 401: entry auth, and the other targets are not tried."""
    provider = make(session, ipex, clock)
    ipex.sim.api_refuses_tokens = True
    receipts = await provider.async_send(OutboundSms(text="a"), [CZ, DE])
    assert [r.outcome for r in receipts] == [Outcome.AUTH, Outcome.AUTH]
    assert receipts[0].error_key == "invalid_auth"
    assert [(path, status) for _, path, status in paths(ipex.sim)] == [
        ("/token", 200),
        ("/SMS", 401),
        ("/token", 200),
        ("/SMS", 401),
        ("/token", 200),
        ("/SMS", 401),
    ]
    assert (ipex.sim.logins, ipex.sim.refreshes) == (2, 1)


async def test_changed_password_is_an_auth_error(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """Tokens revoked and the password changed: refresh 400, login 401, auth error."""
    provider = make(session, ipex, clock)
    await provider.async_send_one(OutboundSms(text="a"), CZ)
    ipex.sim.revoke_tokens(refresh_tokens=True)
    ipex.sim.accounts[EMAIL] = "changed"
    receipts = await provider.async_send(OutboundSms(text="b"), [CZ])
    assert receipts[0].outcome is Outcome.AUTH
    assert receipts[0].error == "HTTP 401: Invalid user credentials"


async def test_pasted_token_refused_is_an_auth_error_at_once(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """With a pasted token there is nothing to refresh: one 401 and no token-endpoint call."""
    provider = make(session, ipex, clock, username=None, password=None, api_token=ipex.sim.issue_token())
    assert (await provider.async_send_one(OutboundSms(text="a"), CZ)).outcome is Outcome.SENT
    ipex.sim.revoke_tokens()
    receipts = await provider.async_send(OutboundSms(text="b"), [CZ])
    assert receipts[0].outcome is Outcome.AUTH
    assert paths(ipex.sim) == [("POST", "/SMS", 201), ("POST", "/SMS", 401)]


# The response table


async def test_sender_not_allowed_is_a_config_error(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """403 stops the batch as entry: config with the key sender_not_allowed."""
    provider = make(session, ipex, clock, sender="+420777000000")
    receipts = await provider.async_send(OutboundSms(text="a"), [CZ, DE])
    assert [r.outcome for r in receipts] == [Outcome.CONFIG, Outcome.CONFIG]
    assert [r.error_key for r in receipts] == ["sender_not_allowed", "sender_not_allowed"]
    assert receipts[0].error == "HTTP 403: Number not allowed"
    assert [path for _, path, _ in paths(ipex.sim)].count("/SMS") == 1


async def test_refused_recipient_is_a_target_error(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """400 with a JSON message refuses that target only, with the API's reason."""
    bad = Target(kind=TargetKind.NUMBER, value="+42")
    receipts = await make(session, ipex, clock).async_send(OutboundSms(text="a"), [bad, CZ])
    assert [r.outcome for r in receipts] == [Outcome.TARGET, Outcome.SENT]
    assert (receipts[0].error_key, receipts[0].error) == ("target_rejected", "HTTP 400: Invalid recipient")


async def test_rate_limit_is_transient_with_retry_after(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """429 queues the message and passes Retry-After on."""
    ipex.sim.rate_limit_next = 1
    receipts = await make(session, ipex, clock).async_send(OutboundSms(text="a"), [CZ, DE])
    assert [r.outcome for r in receipts] == [Outcome.TRANSIENT, Outcome.TRANSIENT]
    assert (receipts[0].error_key, receipts[0].retry_after) == ("rate_limited", 7)
    assert ipex.sim.messages == []


@pytest.mark.parametrize(
    ("fault", "key", "text"),
    [
        (Fault.HTTP_503, "server_error", "HTTP 503: Service Unavailable"),
        (Fault.HTML_500, "server_error", "HTTP 500 from the IPEX API"),
        (Fault.RESET, "cannot_connect", "cannot reach the device"),
        (Fault.SLOW, "timeout", "a duplicate is possible"),
    ],
)
async def test_faults_are_transient_and_stop_the_batch(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock, fault: Fault, key: str, text: str
) -> None:
    """An API in trouble is asked once; the other targets wait without a request."""
    provider = make(session, ipex, clock, timeout=0.3)
    await provider.async_allowed_numbers()  # log in first, so the fault hits the send
    ipex.sim.fail(fault, delay=2)
    receipts = await provider.async_send(OutboundSms(text="a"), [CZ, DE])
    assert [r.outcome for r in receipts] == [Outcome.TRANSIENT, Outcome.TRANSIENT]
    assert [r.error_key for r in receipts] == [key, key]
    assert text in (receipts[0].error or "")
    assert "<html" not in (receipts[0].error or "").lower()
    assert [path for _, path, _ in paths(ipex.sim)].count("/SMS") == 1


async def test_allowed_numbers_when_the_api_is_down(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """A 503 from allowed-numbers is transient (cannot_connect in the flow), not an empty list."""
    provider = make(session, ipex, clock)
    await provider.async_allowed_numbers()
    ipex.sim.fail(Fault.HTTP_503, times=1)
    with pytest.raises(TransientError) as err:
        await provider.async_allowed_numbers()
    assert err.value.key == "server_error"


async def test_unsupported_target_and_missing_sender_send_nothing(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """Groups are not an IPEX target; a client without a sender refuses as entry: config."""
    group = Target(kind=TargetKind.GROUP, value="Oncall")
    receipts = await make(session, ipex, clock).async_send(OutboundSms(text="a"), [group])
    assert (receipts[0].outcome, receipts[0].error_key) == (Outcome.TARGET, "unsupported_target")
    receipts = await make(session, ipex, clock, sender=None).async_send(OutboundSms(text="a"), [CZ])
    assert (receipts[0].outcome, receipts[0].error_key) == (Outcome.CONFIG, "no_sender")
    assert ipex.sim.requests == []


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, '{"message": "Invalid recipient"}', "HTTP 400: Invalid recipient"),
        (400, '{"error": "invalid_grant", "error_description": "Invalid user credentials"}', "HTTP 400: Invalid user"),
        (422, '{"type": "x", "title": "One or more validation errors occurred."}', "HTTP 422: One or more"),
        (404, '{"detail": "No such number"}', "HTTP 404: No such number"),
        (404, '"Not found"', "HTTP 404: Not found"),
        (400, "Bad   request\n", "HTTP 400: Bad request"),
        (500, "<html><body>boom</body></html>", "HTTP 500 from the IPEX API"),
        (400, '{"errors": {"To": ["bad"]}}', "HTTP 400 from the IPEX API"),
        (502, "", "HTTP 502 from the IPEX API"),
    ],
)
def test_reason_comes_from_the_json_or_the_body(status: int, body: str, expected: str) -> None:
    """message/error/title/detail first, then a plain body; pages and unknown JSON give the status only."""
    assert reason(status, body).startswith(expected)


def test_long_reason_is_cut() -> None:
    """A long body is cut to about 200 characters."""
    assert len(reason(400, "x" * 1000)) < 220


@pytest.mark.parametrize(
    ("body", "message_id"),
    [('{"id": "abc"}', "abc"), ('{"id": 12}', "12"), ('{"id": true}', None), ("[]", None), ("OK", None), ("", None)],
)
def test_message_id_of_undocumented_answers(body: str, message_id: str | None) -> None:
    """The id is kept when the answer has one, whatever else it holds."""
    assert _message_id(body) == message_id


@pytest.mark.parametrize(
    ("payload", "refresh_due", "expires_at", "refresh_expires_at"),
    [
        (
            {"access_token": "SECRET-A", "expires_in": 3000, "refresh_token": "SECRET-R", "refresh_expires_in": 7200},
            2400,
            3000,
            7200,
        ),
        (
            {"access_token": "SECRET-A", "expires_in": 100, "refresh_token": "SECRET-R", "refresh_expires_in": 0},
            80,
            100,
            float("inf"),
        ),
        ({"access_token": "SECRET-A", "expires_in": "soon"}, 240, 300, 0),
        ({"access_token": "SECRET-A", "expires_in": True, "refresh_token": ""}, 240, 300, 0),
    ],
)
def test_token_answers_are_read_defensively(
    payload: dict[str, object], refresh_due: float, expires_at: float, refresh_expires_at: float
) -> None:
    """Offline tokens (refresh_expires_in 0) never expire; no lifetime means 300 s; no refresh token, no refresh."""
    grant = _grant_from(payload, 0.0)
    assert (grant.refresh_due, grant.expires_at, grant.refresh_expires_at) == (
        refresh_due,
        expires_at,
        refresh_expires_at,
    )
    assert "SECRET" not in repr(grant)


@pytest.mark.parametrize("payload", [None, [], {"token": "a"}, {"access_token": 5}])
def test_token_answer_without_access_token_is_transient(payload: object) -> None:
    """A 200 without a usable access token is retried later, not taken as a login failure."""
    with pytest.raises(TransientError):
        _grant_from(payload, 0.0)


@pytest.mark.parametrize(("raw", "seconds"), [("7", 7.0), (" 2.5 ", 2.5), ("Wed, 21 Oct 2015 07:28:00 GMT", None)])
def test_retry_after_reads_seconds(raw: str, seconds: float | None) -> None:
    """Retry-After in seconds is passed on; the date form is ignored."""
    assert retry_after({"Retry-After": raw}) == seconds
    assert retry_after({}) is None


# Instant SMS


@pytest.mark.parametrize(
    ("target", "to", "shortname", "sender"),
    [
        (CZ, "607608609", None, "60030"),
        (DE, "+491701234567", None, "60030"),
        (CZ, "607608609", "ALERTS", "ALERTS"),
    ],
)
async def test_instant_sms(
    ipex: RunningSimulator,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    target: Target,
    to: str,
    shortname: str | None,
    sender: str,
) -> None:
    """Czech numbers go as national digits, others as +E.164; shortname replaces sender 60030."""
    provider = make(session, ipex, clock, mode="instant", sender=TRUNK, shortname=shortname)
    receipts = await provider.async_send(OutboundSms(text="Teplota 30 °C"), [target])
    message = ipex.sim.messages[-1]
    assert receipts[0].outcome is Outcome.SENT
    assert receipts[0].message_id == message.options["id"]
    assert (message.to, message.text) == (to, "Teplota 30 °C")
    assert (message.options["mode"], message.options["sender"], message.options["from"]) == ("instant", sender, TRUNK)
    assert ipex.sim.requests[-1].path == "/v1/sms"


async def test_instant_trunk_given_in_e164_is_sent_national(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """A trunk typed as +420222333444 is billed as 222333444."""
    provider = make(session, ipex, clock, mode="instant", sender="+420222333444")
    assert (await provider.async_send_one(OutboundSms(text="a"), CZ)).outcome is Outcome.SENT
    assert ipex.sim.messages[-1].options["from"] == TRUNK


@pytest.mark.parametrize(("e164", "sent"), [("+420777888999", "777888999"), ("+421905123456", "+421905123456")])
def test_instant_number_format(e164: str, sent: str) -> None:
    """National digits for +420 only."""
    assert instant_number(e164) == sent


# Secrets


async def test_secrets_never_in_urls_logs_or_diagnostics(
    ipex: RunningSimulator, session: aiohttp.ClientSession, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Password and tokens travel in bodies and headers only, and never reach the log or the redacted view."""
    provider = make(session, ipex, clock)
    await provider.async_validate()
    await provider.async_send(OutboundSms(text="a"), [CZ])
    clock.advance(2500)
    await provider.async_send(OutboundSms(text="b"), [CZ])
    ipex.sim.revoke_tokens()
    await provider.async_send(OutboundSms(text="c"), [CZ])
    ipex.sim.rate_limit_next = 1
    await provider.async_send(OutboundSms(text="d"), [Target(kind=TargetKind.NUMBER, value="+42")])
    secrets = {PASSWORD}
    for request in ipex.sim.requests:
        secrets.add(request.headers.get("Authorization", "").removeprefix("Bearer "))
        secrets.add(request.form.get("refresh_token", ""))
        assert request.query == {}
    secrets.discard("")
    assert len(secrets) >= 4  # password, first and refreshed access tokens, a refresh token
    view = json.dumps(provider.redacted_view())
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in view
        assert all(secret not in r.path for r in ipex.sim.requests)
    assert EMAIL not in view
    assert CZ.value not in caplog.text
    assert "+42060…609" in caplog.text


# Webhook payloads


@pytest.mark.parametrize(
    ("payload", "events"),
    [
        (
            {
                "id": "m1",
                "from": "+420602111222",
                "to": SENDER,
                "text": "Ahoj 👋",
                "direction": "IN",
                "createdAt": "2024-05-01T10:00:00Z",
            },
            [InboundSms(id="m1", sender="+420602111222", to=SENDER, text="Ahoj 👋", created_at="2024-05-01T10:00:00Z")],
        ),
        (
            {"id": "m2", "from": "+420602111222", "to": SENDER, "text": "ok", "direction": "in", "state": None},
            [InboundSms(id="m2", sender="+420602111222", to=SENDER, text="ok", created_at=None)],
        ),
        (
            {"id": "m3", "from": SENDER, "to": CZ.value, "text": "x", "direction": "OUT", "state": "DELIVERED"},
            [DeliveryReport(id="m3", to=CZ.value, state="DELIVERED")],
        ),
        (
            [
                {"id": "m4", "to": CZ.value, "state": "FAILED"},
                {"id": "m5", "from": "+420602111222", "to": SENDER, "text": "hi", "direction": "IN"},
            ],
            [
                DeliveryReport(id="m4", to=CZ.value, state="FAILED"),
                InboundSms(id="m5", sender="+420602111222", to=SENDER, text="hi", created_at=None),
            ],
        ),
        ({"id": "m6", "from": SENDER, "to": CZ.value, "text": "x", "direction": "OUT"}, []),
        ({"hello": "world"}, []),
        ([], []),
        (["text", 3, None, {"event": "ping"}], []),
        ({"direction": "IN", "text": "no sender"}, []),
    ],
)
def test_parse_webhook(payload: object, events: list[object]) -> None:
    """Inbound SMS and delivery reports from an object or a list; unknown shapes give nothing."""
    assert parse_webhook(payload) == events


@pytest.mark.parametrize(
    "payload",
    [
        {"id": 5, "to": CZ.value, "state": "DELIVERED"},
        [{"id": "m1", "from": "+420602111222", "text": ["x"], "direction": "IN"}],
        {"id": "m1", "state": True},
        "direction=IN",
        42,
        None,
    ],
)
def test_parse_webhook_refuses_bad_payloads(payload: object) -> None:
    """A non-string field, or a payload that is neither object nor list, raises ValueError."""
    with pytest.raises(ValueError, match="webhook"):
        parse_webhook(payload)
