"""brevis.one SMS Gateway simulator: the firmware 4.x REST API, api.php and check.php as documented and used."""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .base import ReceivedMessage, Simulator, secret

# Bodies and statuses from the vendor's "Error return codes" table.
PARAMETER_MISS = (400, "Error: Parameter miss")
GATEWAY_ERROR = (400, "Error. See Gateway logs for more information.")
UNAUTHORIZED = (401, "401 Unauthorized - Username or Password wrong")
FORBIDDEN = (403, "403 Forbidden - Your User has no right to send SMS over API")
TIMEOUT = (408, "FAILED - Timeout or see Gateway logs for more information.")
# What a web server without the path answers (firmware 3 has no /api/..., a unit without api.php none there)
NOT_FOUND_PAGE = "<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"

MODES = ("number", "group", "user", "telnumber", "telgroup", "teluser")
# Number forms: 00 and the international digits, or a national 0... (vendor page examples 00491701234567 and
# 01701234567), or the international digits alone (Zabbix's README: "phone number without '+'", 37167784742).
# A "+" is refused [assumed]: no source shows it, and in a query string a raw "+" arrives as a space.
_NUMBER = re.compile(r"^(?:0\d{6,17}|[1-9]\d{6,14})$")
# What SMS Alerts sends: 00 and the E.164 digits, only that (strict mode)
_STRICT_NUMBER = re.compile(r"^00[1-9]\d{5,14}$")
# REST target kinds: NETWAYS notify-brevisone (number, contact, contactgroup); vendor messages-API page (user, group)
REST_TARGETS = {"number": "number", "contact": "user", "contactgroup": "group", "user": "user", "group": "group"}
REST_PROVIDERS = ("sms", "telegram")
REST_TYPES = ("default", "ring", "flash")


@dataclass(kw_only=True)
class ApiUser:
    """A system user of the gateway."""

    password: str
    api_access: bool = True
    # The right for api.php alone (a REST-only user lacks it) [assumed: the vendor documents one right]
    http_api: bool = True


@dataclass(kw_only=True)
class BrevisOneSimulator(Simulator):
    """An SMS Gateway appliance with an address book, recipient groups and optional modules.

    `rest_api` and `legacy_api` switch each API on or off (a firmware-3 unit has api.php only). `strict` refuses
    every request that is not in the form SMS Alerts is meant to send: api.php as a form POST with nothing in the
    query string and numbers as 00 + digits; REST as JSON with an Accept header.
    """

    name = "sms_gateway"
    users: dict[str, ApiUser] = field(
        default_factory=lambda: {
            "apiuser": ApiUser(password="secret"),  # noqa: S106 - the simulator's own demo login
            "webuser": ApiUser(password="secret", api_access=False),  # noqa: S106
        }
    )
    groups: dict[str, str] = field(default_factory=lambda: {"1": "Oncall", "2": "Facility"})
    contacts: dict[str, str] = field(default_factory=lambda: {"7": "Alice", "8": "Bob"})
    telegram_module: bool = True
    groups_module: bool = True
    signal_dbm: int = -71
    failed_count: int = 0
    # What check.php reports besides the counters: the state page's text and the gateway's own queue
    check_state: str = "OK"
    queue_length: int = 0
    answer_408: bool = False
    rest_api: bool = True
    legacy_api: bool = True
    strict: bool = False
    # Seconds a REST token lives; expireAt is sent as Unix seconds [assumed: NETWAYS reads it as an integer]
    token_lifetime: float = 3600.0
    # Status of a firmware-3 unit's answer to /api/...: 404, or 200 with its web page
    missing_status: int = 404
    # Target spellings the REST API takes (both by default; a unit may know only one)
    rest_targets: tuple[str, ...] = tuple(REST_TARGETS)

    def __post_init__(self) -> None:
        """Set up the logs of the base class and the token store."""
        Simulator.__init__(self)
        self.tokens: dict[str, tuple[str, float]] = {}
        self.signins = 0
        self.rest_bodies: list[dict[str, Any]] = []

    def routes(self) -> list[web.RouteDef]:
        """REST (/api/signin, /api/messages), api.php (GET or POST) and the login-free check.php."""
        return [
            web.post("/api/signin", self.signin),
            web.post("/api/messages", self.rest_message),
            web.route("*", "/api.php", self.api),
            web.get("/check.php", self.check),
        ]

    def control_routes(self) -> list[web.RouteDef]:
        """Add /_sim/apis?rest=0|1&legacy=0|1&token_lifetime=S (firmware at run time) to the shared controls."""

        async def set_apis(request: web.Request) -> web.Response:
            flags = {"1": True, "0": False}
            try:
                if "rest" in request.query:
                    self.rest_api = flags[request.query["rest"]]
                if "legacy" in request.query:
                    self.legacy_api = flags[request.query["legacy"]]
                if "token_lifetime" in request.query:
                    self.token_lifetime = max(float(request.query["token_lifetime"]), 1.0)
            except (KeyError, ValueError):
                raise web.HTTPBadRequest(text="rest and legacy take 0 or 1, token_lifetime seconds\n") from None
            return web.Response(
                text=f"REST API {'on' if self.rest_api else 'off'}, api.php {'on' if self.legacy_api else 'off'}, "
                f"tokens live {self.token_lifetime:g} s\n"
            )

        return [*super().control_routes(), web.post("/_sim/apis", set_apis)]

    def _absent(self) -> web.Response:
        """Answer as the web server does for an API this unit does not have."""
        if self.missing_status == 200:  # noqa: PLR2004 - the web interface answers its own page
            return web.Response(text="<!DOCTYPE html><html><body>SMS Gateway</body></html>", content_type="text/html")
        return web.Response(status=self.missing_status, text=NOT_FOUND_PAGE, content_type="text/html")

    async def _json(self, request: web.Request) -> dict[str, Any] | None:
        """Return the request's JSON object, or None."""
        if self.strict and (
            request.content_type != "application/json" or "json" not in request.headers.get("Accept", "")
        ):
            return None
        try:
            data = json.loads(await request.read())
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    async def signin(self, request: web.Request) -> web.Response:
        """POST /api/signin with {username, password}: {jwt, expireAt} (NETWAYS notify-brevisone api.go)."""
        if not self.rest_api:
            return self._absent()
        data = await self._json(request)
        if data is None:
            return web.json_response({"message": "Bad Request"}, status=400)
        user = self.users.get(str(data.get("username", "")))
        if user is None or user.password != data.get("password"):
            return web.json_response({"message": "Unauthorized"}, status=401)
        if not user.api_access:  # [assumed] the API right is checked at sign-in, as api.php checks it first
            return web.json_response({"message": "Forbidden"}, status=403)
        token = secret(f"sim.{secrets.token_urlsafe(16)}")
        expire_at = time.time() + self.token_lifetime
        self.tokens[token] = (str(data["username"]), expire_at)
        self.signins += 1
        return web.json_response({"jwt": token, "expireAt": int(expire_at)})

    def _bearer_user(self, request: web.Request) -> ApiUser | None:
        """Return the user of a valid, unexpired bearer token, or of an HTTP Basic login (vendor messages-API page)."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic ") and not self.strict:
            try:
                username, _, password = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
            except ValueError:
                return None
            user = self.users.get(username)
            return user if user is not None and user.password == password else None
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
        username, expire_at = self.tokens.get(token, ("", 0.0))
        if not username or time.time() >= expire_at:
            return None
        return self.users.get(username)

    async def rest_message(self, request: web.Request) -> web.Response:
        """POST /api/messages: 201 once processed (vendor messages-API page)."""
        if not self.rest_api:
            return self._absent()
        user = self._bearer_user(request)
        if user is None:
            return web.json_response({"message": "Unauthorized"}, status=401)
        if not user.api_access:
            return web.json_response({"message": "Forbidden"}, status=403)
        data = await self._json(request)
        if data is None:
            return web.json_response({"message": "Bad Request"}, status=400)
        self.rest_bodies.append(data)
        problem = self._rest_problem(data)
        if problem is not None:
            return web.json_response({"message": problem}, status=400)
        kind = data.get("type", "default")
        options = {
            "api": "rest",
            "channel": data.get("provider", "sms"),
            "ring": kind == "ring",
            "flash": kind == "flash",
        }
        for recipient in data["recipients"]:
            base = REST_TARGETS[recipient["target"]]
            mode = "number" if base == "number" else base
            who = self._resolve(mode, str(recipient["to"]))
            options["mode"] = mode
            self.record_message(ReceivedMessage(provider=self.name, to=str(who), text=data["text"], options=options))
        return web.json_response({"id": len(self.messages)}, status=201)

    def _rest_problem(self, data: dict[str, Any]) -> str | None:  # noqa: PLR0911 - one check each
        """Why a message body is refused, or None."""
        recipients = data.get("recipients")
        if not isinstance(recipients, list) or not recipients:
            return "recipients missing"
        if not isinstance(data.get("text"), str) or (not data["text"] and data.get("type") != "ring"):
            return "text missing"
        if data.get("provider", "sms") not in REST_PROVIDERS or data.get("type", "default") not in REST_TYPES:
            return "invalid provider or type"
        if data.get("provider") == "telegram" and not self.telegram_module:
            return "telegram module not licensed"
        for recipient in recipients:
            target = recipient.get("target") if isinstance(recipient, dict) else None
            if target not in self.rest_targets:
                return "invalid target"
            base = REST_TARGETS[target]
            to = str(recipient.get("to", ""))
            if base == "number" and self.strict and not _STRICT_NUMBER.match(to):
                return "invalid number"
            if self._resolve(base, to) is None:
                return "recipient not found"
        return None

    async def _legacy_params(self, request: web.Request) -> dict[str, str] | None:
        """Fields from the query string and a form body, as PHP's $_REQUEST has them; None when strict refuses.

        Zabbix's webhook posts its fields in the query string with the header `multipart/form-data` and an empty
        body without a boundary: PHP reads the query and ignores the body, so this does too.
        """
        params = dict(request.query)
        if self.strict and (request.method != "POST" or params):
            return None
        if request.method == "POST":
            params.update(await _form(request))
        return params

    async def api(self, request: web.Request) -> web.Response:  # noqa: PLR0911 - the vendor's table
        """Send a message, or refuse it with the documented code and body."""
        if not self.legacy_api:
            return self._absent()
        params = await self._legacy_params(request)
        if params is None:
            return _answer(PARAMETER_MISS)
        refusal = self._refusal(params)
        if refusal is not None:
            return _answer(refusal)
        text = params["text"]
        if params.get("hexmode") == "true":
            text = bytes.fromhex(text).decode("ascii")  # checked in _refusal
        mode = params.get("mode", "number")
        if mode not in MODES:
            mode = "number"  # "Invalid modes are resulting in the default mode number"
        if self.strict and mode.endswith("number") and not _STRICT_NUMBER.match(params["to"]):
            return _answer(GATEWAY_ERROR)
        recipient = self._resolve(mode, params["to"])
        if recipient is None:
            return _answer(GATEWAY_ERROR)
        if self.answer_408:
            return _answer(TIMEOUT)
        channel = "sms"
        if mode.startswith("tel"):
            channel = "telegram" if params.get("telauto") == "false" else "telegram, sms fallback"
        options = {
            "mode": mode,
            "channel": channel,
            "ring": params.get("ring") == "true",
            "flash": params.get("flash") == "true",
        }
        self.record_message(ReceivedMessage(provider=self.name, to=recipient, text=text, options=options))
        return web.Response(text=f"OK: message {len(self.messages)} queued")

    def _refusal(self, params: dict[str, str]) -> tuple[int, str] | None:
        """Check login, API right and parameters, in that order."""
        user = self.users.get(params.get("username", ""))
        if user is None or user.password != params.get("password"):
            return UNAUTHORIZED
        if not (user.api_access and user.http_api):
            return FORBIDDEN
        if not params.get("text") or not params.get("to"):
            return PARAMETER_MISS
        if params.get("hexmode") == "true":
            try:
                bytes.fromhex(params["text"]).decode("ascii")
            except ValueError:
                return GATEWAY_ERROR
        return None

    def _resolve(self, mode: str, to: str) -> str | None:
        """Return who the message is for, or None when the gateway would refuse it."""
        base = mode.removeprefix("tel")
        if mode.startswith("tel") and not self.telegram_module:
            return None
        if base == "number":
            return to if _NUMBER.match(to) else None
        book = self.groups if base == "group" else self.contacts
        if base == "group" and not self.groups_module:
            return None
        for key, name in book.items():
            if to in (key, name):
                return f"{base}:{name}"
        return None

    async def check(self, request: web.Request) -> web.Response:
        """Health page without login, as monitoring plugins read it."""
        if request.query.get("option") == "state":
            return web.Response(text=self.check_state)
        lines = [
            f"que: {self.queue_length}",
            f"failed: {self.failed_count}",
            f"signal: {self.signal_dbm} dBm",
            f"total: {len(self.messages)}",
        ]
        return web.Response(text="\n".join(lines) + "\n")


async def _form(request: web.Request) -> dict[str, str]:
    """Read a POST body's form fields; a multipart body without a boundary has none, as in PHP."""
    if request.content_type == "multipart/form-data" and "boundary=" not in request.headers.get("Content-Type", ""):
        await request.read()
        return {}
    try:
        return {key: str(value) for key, value in (await request.post()).items()}
    except ValueError:
        return {}


def _answer(code: tuple[int, str]) -> web.Response:
    """Answer with the gateway's status code and its body text."""
    status, body = code
    return web.Response(status=status, text=body)
