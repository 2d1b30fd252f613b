"""IPEX / Voipex simulator: token endpoints, SMS Chat API, instant SMS and webhook pushes as documented."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import secrets
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

import aiohttp
from aiohttp import web

from .base import ReceivedMessage, Simulator, secret

DEMO_EMAIL = "alerts@example.com"
DEMO_PASSWORD = "secret"  # noqa: S105 - the simulator's own demo login
DEMO_NUMBER = "+420777888999"
DEMO_TRUNK = "222333444"
DEMO_SHORTNAME = "ALERTS"
# A login of the central REST API (restapi.ipex.cz), as Spoje-NET/ipex-b2b's README configures one
DEMO_API_USER = "firma_api"
DEMO_API_PASSWORD = secret("api-secret")
CLIENT_ID = "api"
KNOWN_SCOPES = frozenset({"openid", "profile", "email"})
# Recipients see this sender for instant SMS without a shortname (vendor SMS API page)
INSTANT_SENDER = "60030"
RETRY_AFTER = 7

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# Instant SMS example: national 9-digit numbers (777888999, trunk 222333444)
_NATIONAL = re.compile(r"^\d{9}$")

AllowedNumbersShape = Literal["strings", "objects", "wrapped"]


@dataclass(kw_only=True)
class _Grant:
    """Whose token it is and when it stops working."""

    account: str
    expires_at: float


@dataclass(kw_only=True)
class IpexSimulator(Simulator):
    """The Keycloak token endpoint, sms-api.voipex.io and restapi.ipex.cz/v1/sms in one app."""

    name = "ipex"
    accounts: dict[str, str] = field(default_factory=lambda: {DEMO_EMAIL: DEMO_PASSWORD})
    allowed_numbers: dict[str, list[str]] = field(default_factory=lambda: {DEMO_EMAIL: [DEMO_NUMBER]})
    trunks: dict[str, list[str]] = field(
        default_factory=lambda: {DEMO_EMAIL: [DEMO_TRUNK], DEMO_API_USER: [DEMO_TRUNK]}
    )
    shortnames: dict[str, list[str]] = field(
        default_factory=lambda: {DEMO_EMAIL: [DEMO_SHORTNAME], DEMO_API_USER: [DEMO_SHORTNAME]}
    )
    # Logins of restapi.ipex.cz's own POST /v1/token (not Keycloak accounts)
    restapi_accounts: dict[str, str] = field(default_factory=lambda: {DEMO_API_USER: DEMO_API_PASSWORD})
    token_lifetime: float = 3000.0
    refresh_lifetime: float = 7200.0
    restapi_token_lifetime: float = 3600.0
    clock: Callable[[], float] = time.monotonic
    # Switches
    allowed_numbers_shape: AllowedNumbersShape = "strings"
    sms_chat: bool = True
    api_refuses_tokens: bool = False
    # Off: restapi.ipex.cz takes only its own tokens, not Keycloak's (the vendor documents that it takes them)
    restapi_takes_keycloak_tokens: bool = True
    rate_limit_next: int = 0
    webhook_url: str | None = None
    auto_delivery_reports: bool = False
    # Counters for tests
    logins: int = 0
    refreshes: int = 0
    restapi_logins: int = 0

    def __post_init__(self) -> None:
        """Set up the logs of the base class and empty token stores."""
        Simulator.__init__(self)
        self._access: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self._restapi_access: dict[str, _Grant] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def routes(self) -> list[web.RouteDef]:
        """Serve the token endpoint, the SMS Chat API and the instant SMS route."""
        return [
            web.post("/token", self.token),
            web.get("/SMS/allowed-numbers", self.list_allowed_numbers),
            web.post("/SMS", self.send_chat),
            web.get("/SMS", self.history),
            web.route("*", "/v1/sms", self.send_instant),
            web.route("*", "/v1/token", self.restapi_token),
        ]

    def control_routes(self) -> list[web.RouteDef]:
        """Add by-hand routes: an inbound SMS, token revocation and the webhook address."""

        async def inbound(request: web.Request) -> web.Response:
            if self.webhook_url is None:
                return web.Response(status=409, text="no webhook_url set: POST /_sim/webhook?url=...\n")
            to = request.query.get("to") or next(iter(self.allowed_numbers.get(DEMO_EMAIL, [])), DEMO_NUMBER)
            status = await self.push_inbound(
                request.query.get("from", "+420602111222"), to, request.query.get("text", "Test")
            )
            return web.Response(text=f"webhook answered {status}\n")

        async def revoke(request: web.Request) -> web.Response:
            self.revoke_tokens(refresh_tokens=request.query.get("refresh") == "1")
            return web.Response(text="tokens revoked\n")

        async def webhook(request: web.Request) -> web.Response:
            self.webhook_url = request.query.get("url") or None
            self.auto_delivery_reports = request.query.get("auto_delivery") == "1"
            return web.Response(text=f"webhook {self.webhook_url}\n")

        return [
            *super().control_routes(),
            web.post("/_sim/inbound", inbound),
            web.post("/_sim/revoke", revoke),
            web.post("/_sim/webhook", webhook),
        ]

    # Tokens

    def issue_token(self, account: str = DEMO_EMAIL) -> str:
        """Hand out an access token, as a user copies one from the API documentation page."""
        return str(self._issue(account)["access_token"])

    def revoke_tokens(self, *, refresh_tokens: bool = False) -> None:
        """End every access token (and the refresh tokens too, if asked): the next API call gets 401."""
        self._access.clear()
        self._restapi_access.clear()
        if refresh_tokens:
            self._refresh.clear()

    def _issue(self, account: str) -> dict[str, Any]:
        """Make a new token pair with Keycloak's response fields."""
        now = self.clock()
        access, refresh = secret(secrets.token_urlsafe(32)), secret(secrets.token_urlsafe(32))
        self._access[access] = _Grant(account=account, expires_at=now + self.token_lifetime)
        self._refresh[refresh] = _Grant(account=account, expires_at=now + self.refresh_lifetime)
        return {
            "access_token": access,
            "expires_in": int(self.token_lifetime),
            "refresh_expires_in": int(self.refresh_lifetime),
            "refresh_token": refresh,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "session_state": str(uuid.uuid4()),
            "scope": "profile email",
        }

    async def token(self, request: web.Request) -> web.Response:
        """Password and refresh-token grants for client_id=api, form-encoded only."""
        if request.content_type != "application/x-www-form-urlencoded":
            return _oauth_error(400, "invalid_request", "Missing form parameter: grant_type")
        form = {key: str(value) for key, value in (await request.post()).items()}
        if form.get("client_id") != CLIENT_ID:
            return _oauth_error(401, "invalid_client", "Invalid client or Invalid client credentials")
        grant_type = form.get("grant_type")
        if grant_type == "password":
            account = self._password_account(form)
        elif grant_type == "refresh_token":
            account = self._refresh_account(form)
        else:
            return _oauth_error(400, "unsupported_grant_type", "Unsupported grant_type")
        if isinstance(account, web.Response):
            return account
        return web.json_response(self._issue(account))

    def _password_account(self, form: dict[str, str]) -> str | web.Response:
        """Check a password grant: the account it logs in, or the refusal."""
        refusal = _password_grant_refusal(form)
        if refusal is not None:
            return refusal
        # Keycloak keeps usernames and e-mails in lower case
        account = form.get("username", "").lower()
        if account not in self.accounts or self.accounts[account] != form.get("password"):
            return _oauth_error(401, "invalid_grant", "Invalid user credentials")
        self.logins += 1
        return account

    def _refresh_account(self, form: dict[str, str]) -> str | web.Response:
        """Check a refresh-token grant: the account it renews, or the refusal."""
        grant = self._refresh.get(form.get("refresh_token", ""))
        if grant is None or self.clock() >= grant.expires_at:
            return _oauth_error(400, "invalid_grant", "Invalid refresh token")
        self.refreshes += 1
        return grant.account

    def _admit(self, request: web.Request) -> str | web.Response:
        """Return the account behind the bearer token, or the answer refusing the request."""
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return web.json_response(
                {"message": "Too many requests"}, status=429, headers={"Retry-After": str(RETRY_AFTER)}
            )
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        grant = self._access.get(token.strip()) if scheme.lower() == "bearer" else None
        if grant is None or self.clock() >= grant.expires_at or self.api_refuses_tokens:
            return _message(401, "Unauthorized")
        return grant.account

    def _admit_restapi(self, request: web.Request) -> str | web.Response:
        """Like _admit, for restapi.ipex.cz: its own tokens or Keycloak's, with or without the Bearer word.

        The vendor sends "Bearer TOKEN" (seed 002); Spoje-NET/ipex-b2b sends the bare token, as the vendor's
        older /v1/sso/refresh example did [assumed: the API takes both].
        """
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return _boom(429, "Too many requests", headers={"Retry-After": str(RETRY_AFTER)})
        header = request.headers.get("Authorization", "").strip()
        if not header:
            return _boom(401, "Missing authentication")
        scheme, _, rest = header.partition(" ")
        token = rest.strip() if scheme.lower() == "bearer" else header
        grant = self._restapi_access.get(token)
        if grant is None and self.restapi_takes_keycloak_tokens:
            grant = self._access.get(token)
        if grant is None or self.clock() >= grant.expires_at or self.api_refuses_tokens:
            return _boom(401, "Invalid token")
        return grant.account

    async def restapi_token(self, request: web.Request) -> web.Response:
        """POST /v1/token with JSON {username, password} -> {accessToken, expire} (Spoje-NET/ipex-b2b)."""
        if request.method != "POST":
            return _boom(404, "Not Found")  # hapi matches method and path together
        body = await _json_object(request, boom=True)
        if isinstance(body, web.Response):
            return body
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not username or not isinstance(password, str) or not password:
            return _boom(400, "Invalid request payload input")
        if self.restapi_accounts.get(username) != password:
            return _boom(401, "Invalid username or password")
        self.restapi_logins += 1
        token = secret(secrets.token_hex(20))
        self._restapi_access[token] = _Grant(account=username, expires_at=self.clock() + self.restapi_token_lifetime)
        expire = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.restapi_token_lifetime)
        return web.json_response(
            {"accessToken": token, "expire": expire.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
        )

    # SMS Chat API

    async def list_allowed_numbers(self, request: web.Request) -> web.Response:
        """List the account's numbers in the shape the switch asks for; 404 without SMS Chat."""
        account = self._admit(request)
        if isinstance(account, web.Response):
            return account
        if not self.sms_chat:
            return _message(404, "Not Found")
        numbers = self.allowed_numbers.get(account, [])
        if self.allowed_numbers_shape == "objects":
            return web.json_response([{"number": number} for number in numbers])
        if self.allowed_numbers_shape == "wrapped":
            return web.json_response({"items": numbers, "count": len(numbers)})
        return web.json_response(numbers)

    async def send_chat(self, request: web.Request) -> web.Response:
        """POST /SMS {from, to, text}: from an allowed number to +E.164."""
        account = self._admit(request)
        if isinstance(account, web.Response):
            return account
        body = await _json_object(request)
        if isinstance(body, web.Response):
            return body
        sender, to, text = body.get("from"), body.get("to"), body.get("text")
        if not self.sms_chat or sender not in self.allowed_numbers.get(account, []):
            return _message(403, "Number not allowed")
        if not isinstance(to, str) or not _E164.match(to):
            return _message(400, "Invalid recipient")
        if not isinstance(text, str) or not text.strip():
            return _message(400, "Text is empty")
        message_id = str(uuid.uuid4())
        options = {"from": sender, "mode": "chat", "id": message_id}
        self.record_message(ReceivedMessage(provider=self.name, to=to, text=text, options=options))
        if self.auto_delivery_reports and self.webhook_url is not None:
            self._spawn(self._auto_delivery(message_id, to))
        return web.json_response({"id": message_id}, status=201)

    async def history(self, request: web.Request) -> web.Response:
        """GET /SMS?startTime=...&endTime=...: the account's messages (ISO-8601 with zone)."""
        account = self._admit(request)
        if isinstance(account, web.Response):
            return account
        start, end = _aware(request.query.get("startTime")), _aware(request.query.get("endTime"))
        if start is None or end is None:
            return _message(400, "startTime and endTime must be ISO-8601 with a time zone")
        numbers = self.allowed_numbers.get(account, [])
        return web.json_response(
            [
                {
                    "id": m.options["id"],
                    "from": m.options["from"],
                    "to": m.to,
                    "text": m.text,
                    "direction": "OUT",
                    "createdAt": m.received_at.isoformat(),
                }
                for m in self.messages
                if m.options.get("mode") == "chat" and m.options.get("from") in numbers and start <= m.received_at < end
            ]
        )

    # Instant SMS (restapi.ipex.cz)

    async def send_instant(self, request: web.Request) -> web.Response:
        """POST /v1/sms {from, to, message, email?, shortname?}: billed to a trunk number."""
        if request.method != "POST":
            return _boom(404, "Not Found")
        account = self._admit_restapi(request)
        if isinstance(account, web.Response):
            return account
        body = await _json_object(request, boom=True)
        if isinstance(body, web.Response):
            return body
        refusal = self._instant_refusal(account, body)
        if refusal is not None:
            return refusal
        trunk, shortname = body["from"], body.get("shortname")
        message_id = str(uuid.uuid4())
        options = {"mode": "instant", "sender": shortname or INSTANT_SENDER, "from": trunk, "id": message_id}
        self.record_message(ReceivedMessage(provider=self.name, to=body["to"], text=body["message"], options=options))
        return web.json_response({"id": message_id})

    def _instant_refusal(self, account: str, body: dict[str, Any]) -> web.Response | None:
        """Check trunk, recipient, text, sender name and e-mail of an instant SMS, in that order."""
        to, text, shortname, email = body.get("to"), body.get("message"), body.get("shortname"), body.get("email")
        if body.get("from") not in self.trunks.get(account, []):
            return _boom(403, "Number not allowed")
        if not isinstance(to, str) or not (_NATIONAL.match(to) or _E164.match(to)):
            return _boom(400, "Invalid recipient")
        if not isinstance(text, str) or not text.strip():
            return _boom(400, "Message is empty")
        if shortname is not None and shortname not in self.shortnames.get(account, []):
            return _boom(400, "Unknown sender name")
        if email is not None and (not isinstance(email, str) or "@" not in email):
            return _boom(400, "Invalid email")
        return None

    # Webhook pushes

    async def push_inbound(self, from_: str, to: str, text: str) -> int:
        """POST an inbound SMS to the webhook as SMS Chat does; return the webhook's status."""
        return await self._push(
            {
                "id": str(uuid.uuid4()),
                "from": from_,
                "to": to,
                "text": text,
                "direction": "IN",
                "createdAt": _now(),
            }
        )

    async def push_delivery(self, message_id: str, to: str, state: str) -> int:
        """POST a delivery report (DELIVERED or FAILED) for a sent message; return the webhook's status."""
        payload: dict[str, Any] = {"id": message_id, "to": to, "direction": "OUT", "state": state, "createdAt": _now()}
        sent = next((m for m in self.messages if m.options.get("id") == message_id), None)
        if sent is not None:
            payload.update({"from": sent.options.get("from"), "text": sent.text})
        return await self._push(payload)

    async def _push(self, payload: dict[str, Any]) -> int:
        """POST JSON to the webhook address."""
        if self.webhook_url is None:
            raise RuntimeError("no webhook_url set")
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.webhook_url, json=payload, timeout=aiohttp.ClientTimeout(total=10)) as resp,
        ):
            return resp.status

    async def _auto_delivery(self, message_id: str, to: str) -> None:
        """Report a chat SMS delivered; an unreachable webhook is ignored, as the cloud would."""
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            await self.push_delivery(message_id, to, "DELIVERED")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a push in the background and keep a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _json_object(request: web.Request, *, boom: bool = False) -> dict[str, Any] | web.Response:
    """Read a JSON object body, or the answer refusing it (in the central REST API's shape with `boom`)."""
    refuse = _boom if boom else _message
    if request.content_type != "application/json":
        return refuse(415, "Unsupported Media Type")
    try:
        body = await request.json()
    except ValueError:
        return refuse(400, "Invalid request payload JSON format" if boom else "Invalid JSON")
    if not isinstance(body, dict):
        return refuse(400, "Invalid request payload input" if boom else "Invalid JSON")
    return body


def _message(status: int, message: str) -> web.Response:
    """Answer with the SMS Chat API's JSON error shape."""
    return web.json_response({"message": message}, status=status)


def _boom(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """Answer with restapi.ipex.cz's error shape {statusCode, error, message} (read so by Spoje-NET/ipex-b2b)."""
    error = HTTPStatus(status).phrase
    return web.json_response({"statusCode": status, "error": error, "message": message}, status=status, headers=headers)


def _password_grant_refusal(form: dict[str, str]) -> web.Response | None:
    """Refuse a password grant without a username, or asking for a scope the client does not have."""
    if not form.get("username"):
        return _oauth_error(400, "invalid_request", "Missing parameter: username")
    # The vendor's table lists scope "openid profile" (ipexas Confluence page 626720808); its curl examples omit it
    unknown = set(form.get("scope", "").split()) - KNOWN_SCOPES
    if unknown:
        return _oauth_error(400, "invalid_scope", f"Invalid scopes: {' '.join(sorted(unknown))}")
    return None


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    """Answer with Keycloak's OAuth error shape."""
    return web.json_response({"error": error, "error_description": description}, status=status)


def _aware(raw: str | None) -> dt.datetime | None:
    """Parse an ISO-8601 time that names its zone, or None."""
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def _now() -> str:
    """Write the current time as the webhook writes createdAt."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
