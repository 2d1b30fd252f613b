"""Wildix PBX simulator: api/v1/originate/sms and api/v1/personal/info as the vendor documents them."""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .base import ReceivedMessage, Simulator

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
DEMO_PASSWORD = "sms101api"  # noqa: S105 - the vendor's own example login
DEMO_GATEWAY = "9c7514330001"

# "+391234567890 or +391234567890,+391234567891"
_NUMBER = re.compile(r"^\+\d{6,15}$")
_POSTPONE = re.compile(r"^\d{2}/\d{2}/\d{4} \d{2}:\d{2}$")
_MAC = re.compile(r"^[0-9a-fA-F]{12}$")
# The vendor: single quote, double quotes (written as U+201C), backslash and slash "are replaced with a space".
_REPLACED = str.maketrans(dict.fromkeys("'\"“\\/", " "))


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

    def __post_init__(self) -> None:
        """Set up the logs of the base class."""
        Simulator.__init__(self)

    def routes(self) -> list[web.RouteDef]:
        """originate/sms (GET or POST) and the user's own record."""
        return [
            web.route("*", "/api/v1/originate/sms", self.originate_sms),
            web.get("/api/v1/personal/info", self.personal_info),
        ]

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
        """Refuse a login the way this PBX is set to."""
        return web.json_response(UNAUTHORIZED, status=self.auth_failure_status)

    async def personal_info(self, request: web.Request) -> web.Response:
        """Answer with the logged-in user's record."""
        user = self._login(request)
        if user is None:
            return self._unauthorized()
        if self.personal_info_refused:
            return _error("Access denied")
        name = self.user_names.get(user, "")
        return web.json_response({"type": "result", "result": {"login": user, "extension": user, "name": name}})

    async def originate_sms(self, request: web.Request) -> web.Response:
        """Queue a message for one or several numbers, or refuse it as the PBX would."""
        if self._login(request) is None:
            return self._unauthorized()
        params = dict(request.query)
        if request.method == "POST":
            params.update({key: str(value) for key, value in (await request.post()).items()})
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


def _error(reason: str) -> web.Response:
    """Answer with the documented error body (HTTP 200, as the vendor's examples show no status)."""
    body: dict[str, Any] = {"type": "error", "reason": reason, "result": None}
    return web.json_response(body)
