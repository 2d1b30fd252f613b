"""Wildix PBX simulator: api/v1/originate/sms and api/v1/personal/info, by login or API key, as documented."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .base import ReceivedMessage, Simulator, secret

# Bodies from the vendor's SMS API page and old manual; [assumed] where the vendor shows no wording.
UNAUTHORIZED = {"type": "error", "reason": "Unauthorized", "result": None}
SUCCESS = {"type": "result", "result": "Success"}
QUEUE_FULL = "Unable to add a SMS to the queue"
EMPTY_MESSAGE = "Message should not be empty"
EMPTY_NUMBER = "Number should not be empty"
TOO_LONG = "Message is too long"  # [assumed]
BAD_NUMBER = "Wrong number format"  # [assumed]
BAD_POSTPONE = "Wrong postpone date format"  # [assumed]
BAD_GSM = "Unknown GSM gateway"  # [assumed]
GSM_REQUIRED = "GSM gateway should be specified"  # [assumed]: "Curl SMS send enabled" takes priority otherwise

DEMO_USER = "101"
DEMO_PASSWORD = secret("sms101api")
DEMO_GATEWAY = "9c7514330001"
# "100 characters, prefix wsk-v1- followed by 93 alphanumeric characters" (Wildix, How to Use API Keys on the PBX API)
DEMO_API_KEY = secret("wsk-v1-" + ("SmsAlertsDemoKey0" * 6)[:93])
# A user's own bearer token, as n8n-nodes-wildix's "Bearer Token" credential takes it
DEMO_USER_TOKEN = secret("access_" + "d3m0" * 8)
# "Write routes accept pbx:*" (same page); the name of a narrower SMS scope is not public [assumed]
SEND_SCOPES = frozenset({"pbx:*", "sms:*"})
# A key-only PBX refusing a Basic login [assumed: no public page quotes it]: 401, Bearer offered, this reason
BASIC_DISABLED = "Basic authentication is disabled: use an API key"
FORBIDDEN = "Forbidden: the API key has no scope for this route"  # [assumed]
INVALID_JSON = "Invalid JSON body"  # [assumed]
STRICT_FORM = "Strict: send a POST with a form body and nothing in the query string"

# "+391234567890 or +391234567890,+391234567891"
_NUMBER = re.compile(r"^\+\d{6,15}$")
_POSTPONE = re.compile(r"^\d{2}/\d{2}/\d{4} \d{2}:\d{2}$")
_MAC = re.compile(r"^[0-9a-fA-F]{12}$")
# The vendor: single quote, double quotes (written as U+201C), backslash and slash "are replaced with a space".
_REPLACED = str.maketrans(dict.fromkeys("'\"“\\/", " "))


_FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True, kw_only=True)
class _Caller:
    """Who sent a request: a user (login or own token), or a Company API key with its scopes."""

    user: str | None
    # None: a user, who holds every right the PBX gives users
    scopes: frozenset[str] | None


@dataclass(kw_only=True)
class WildixSimulator(Simulator):
    """A PBX with SMS sender users and GSM gateways."""

    name = "wildix"
    users: dict[str, str] = field(default_factory=lambda: {DEMO_USER: DEMO_PASSWORD})
    user_names: dict[str, str] = field(default_factory=lambda: {DEMO_USER: "Alarm Sender"})
    gateways: list[str] = field(default_factory=lambda: [DEMO_GATEWAY])
    # HTTP status of an auth failure: 401, or 200 with the same error body (the vendor does not say which).
    auth_failure_status: int = 401
    # WMS Settings -> System -> FAX/SMS server -> "Curl SMS send enabled": gsm becomes required.
    curl_sms_send_enabled: bool = False
    # 670 from WMS 6.02.20230306.1, 300 before.
    max_length: int = 670
    # Numbers the PBX cannot queue: a warning lists their digits, the others are sent.
    warning_numbers: set[str] = field(default_factory=set)
    # How the warning's result writes a failed number, where not as its digits (e.g. national: 0777888999)
    warning_written: dict[str, str] = field(default_factory=dict)
    # Answer every send with the vendor's warning example (result ["111"]) and queue nothing.
    queue_full: bool = False
    # personal/info refuses this user (a non-admin on some WMS versions [assumed]).
    personal_info_refused: bool = False
    # Basic logins are taken (off: a PBX that takes only API keys, as WMS 5 API pages announce)
    basic_enabled: bool = True
    # Company API keys and their scopes; a key has no user of its own
    api_keys: dict[str, frozenset[str]] = field(default_factory=lambda: {DEMO_API_KEY: frozenset({"pbx:*"})})
    # Users' own bearer tokens (simple tokens), which act as their user
    user_tokens: dict[str, str] = field(default_factory=lambda: {DEMO_USER_TOKEN: DEMO_USER})
    # Take only the documented form: POST, form-urlencoded body, no query string
    strict: bool = False

    def __post_init__(self) -> None:
        """Set up the logs of the base class."""
        Simulator.__init__(self)

    def routes(self) -> list[web.RouteDef]:
        """originate/sms (GET or POST) and the user's own record."""
        return [
            web.route("*", "/api/v1/originate/sms", self.originate_sms),
            web.get("/api/v1/personal/info", self.personal_info),
            web.post("/_sim/basic", self.set_basic),
        ]

    async def set_basic(self, request: web.Request) -> web.Response:
        """Turn Basic logins on or off (/_sim/basic?enabled=0): off is a PBX that takes only API keys."""
        self.basic_enabled = request.query.get("enabled", "1") not in ("0", "false", "off")
        return web.Response(text=f"basic logins {'on' if self.basic_enabled else 'off'}\n")

    def _caller(self, request: web.Request) -> _Caller | web.Response:
        """Return who is calling, or the refusal: a Basic login, a user's token or a Company API key."""
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            token = credentials.strip()
            if token in self.user_tokens:
                return _Caller(user=self.user_tokens[token], scopes=None)
            if token in self.api_keys:
                return _Caller(user=None, scopes=self.api_keys[token])
            return self._unauthorized()
        if scheme.lower() == "basic" and not self.basic_enabled:
            body = {"type": "error", "reason": BASIC_DISABLED, "result": None}
            return web.json_response(body, status=401, headers={"WWW-Authenticate": "Bearer"})
        user = self._login(request)
        return self._unauthorized() if user is None else _Caller(user=user, scopes=None)

    def _login(self, request: web.Request) -> str | None:
        """Return the user of a valid Basic login, else None."""
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            login, sep, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except ValueError:
            return None
        return login if sep and self.users.get(login) == password else None

    def _unauthorized(self) -> web.Response:
        """Refuse a login the way this PBX is set to, offering the schemes it takes."""
        offered = "Bearer" if not self.basic_enabled else 'Basic realm="WMS", Bearer'
        headers = {"WWW-Authenticate": offered} if self.auth_failure_status == 401 else None  # noqa: PLR2004
        return web.json_response(UNAUTHORIZED, status=self.auth_failure_status, headers=headers)

    async def personal_info(self, request: web.Request) -> web.Response:
        """Answer with the logged-in user's record; a Company API key has none [assumed]."""
        caller = self._caller(request)
        if isinstance(caller, web.Response):
            return caller
        user = caller.user
        if user is None:
            return _error(FORBIDDEN, status=403)
        if self.personal_info_refused:
            return _error("Access denied")
        name = self.user_names.get(user, "")
        return web.json_response({"type": "result", "result": {"login": user, "extension": user, "name": name}})

    async def originate_sms(self, request: web.Request) -> web.Response:
        """Queue a message for one or several numbers, or refuse it as the PBX would."""
        params = await self._send_params(request)
        if isinstance(params, web.Response):
            return params
        refusal = self._refusal(params)
        if refusal is not None:
            return _error(refusal)
        if self.queue_full:
            return web.json_response({"type": "warning", "reason": QUEUE_FULL, "result": ["111"]})
        numbers = params["number"].split(",")
        gsm = params["gsm"].lower() if params.get("gsm") else None
        options = {"postpone": params.get("postpone"), "gsm": gsm}
        text = params["message"].translate(_REPLACED)
        failed = [number for number in numbers if number in self.warning_numbers]
        for number in numbers:
            if number not in self.warning_numbers:
                self.record_message(ReceivedMessage(provider=self.name, to=number, text=text, options=options))
        if failed:
            digits = [self.warning_written.get(number, number.removeprefix("+")) for number in failed]
            return web.json_response({"type": "warning", "reason": QUEUE_FULL, "result": digits})
        return web.json_response(SUCCESS)

    async def _send_params(self, request: web.Request) -> dict[str, str] | web.Response:
        """Check who sends and how; return the fields of the send, or the answer refusing it."""
        caller = self._caller(request)
        if isinstance(caller, web.Response):
            return caller
        if caller.scopes is not None and not caller.scopes & SEND_SCOPES:
            return _error(FORBIDDEN, status=403)
        if self.strict and (request.method != "POST" or request.query or request.content_type != _FORM):
            return _error(STRICT_FORM, status=400)
        params = await _params(request)
        return _error(INVALID_JSON, status=400) if params is None else params

    def _refusal(self, params: dict[str, str]) -> str | None:
        """Check the parameters; return the PBX's reason for refusing them."""
        message = params.get("message", "")
        if not message:
            return EMPTY_MESSAGE
        if not params.get("number"):
            return EMPTY_NUMBER
        if len(message) > self.max_length:
            return TOO_LONG
        # An unencoded "+" arrives as a space: that number would go out without its country code.
        if not all(_NUMBER.match(number) for number in params["number"].split(",")):
            return BAD_NUMBER
        return self._option_refusal(params.get("postpone"), params.get("gsm"))

    def _option_refusal(self, postpone: str | None, gsm: str | None) -> str | None:
        """Check the optional postpone and gsm parameters."""
        if postpone and not _valid_postpone(postpone):
            return BAD_POSTPONE
        if gsm and (not _MAC.match(gsm) or gsm.lower() not in self.gateways):
            return BAD_GSM
        if not gsm and self.curl_sms_send_enabled:
            return GSM_REQUIRED
        return None


def _valid_postpone(value: str) -> bool:
    """Whether a postpone value is a real date in the documented form 14/07/2014 15:35."""
    if not _POSTPONE.match(value):
        return False
    try:
        dt.datetime.strptime(value, "%d/%m/%Y %H:%M")  # noqa: DTZ007 - the PBX reads it in its own time zone
    except ValueError:
        return False
    return True


def _error(reason: str, *, status: int = 200) -> web.Response:
    """Answer with the documented error body (HTTP 200 unless told: the vendor's examples show no status)."""
    body: dict[str, Any] = {"type": "error", "reason": reason, "result": None}
    return web.json_response(body, status=status)


async def _params(request: web.Request) -> dict[str, str] | None:
    """Read the fields from the query string and a form or JSON body (n8n-nodes-wildix posts JSON); None: bad JSON."""
    params = dict(request.query)
    if request.method != "POST":
        return params
    if request.content_type == "application/json":
        try:
            data = json.loads(await request.text())
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        params.update({key: str(value) for key, value in data.items() if value is not None})
    else:
        params.update({key: str(value) for key, value in (await request.post()).items()})
    return params
