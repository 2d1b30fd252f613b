"""brevis.one SMS Gateway simulator: api.php and check.php as the vendor documents them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aiohttp import web

from .base import ReceivedMessage, Simulator

# Bodies and statuses from the vendor's "Error return codes" table.
PARAMETER_MISS = (400, "Error: Parameter miss")
GATEWAY_ERROR = (400, "Error. See Gateway logs for more information.")
UNAUTHORIZED = (401, "401 Unauthorized - Username or Password wrong")
FORBIDDEN = (403, "403 Forbidden - Your User has no right to send SMS over API")
TIMEOUT = (408, "FAILED - Timeout or see Gateway logs for more information.")

MODES = ("number", "group", "user", "telnumber", "telgroup", "teluser")
# Vendor examples: 00491701234567, and 01701234567 for a national number.
_NUMBER = re.compile(r"^0\d{6,17}$")


@dataclass(kw_only=True)
class ApiUser:
    """A system user of the gateway."""

    password: str
    api_access: bool = True


@dataclass(kw_only=True)
class BrevisOneSimulator(Simulator):
    """An SMS Gateway appliance with an address book, recipient groups and optional modules."""

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

    def __post_init__(self) -> None:
        """Set up the logs of the base class."""
        Simulator.__init__(self)

    def routes(self) -> list[web.RouteDef]:
        """api.php (GET or POST) and the login-free check.php."""
        return [
            web.route("*", "/api.php", self.api),
            web.get("/check.php", self.check),
        ]

    async def api(self, request: web.Request) -> web.Response:
        """Send a message, or refuse it with the documented code and body."""
        params = dict(request.query)
        if request.method == "POST":
            params.update({key: str(value) for key, value in (await request.post()).items()})
        refusal = self._refusal(params)
        if refusal is not None:
            return _answer(refusal)
        text = params["text"]
        if params.get("hexmode") == "true":
            text = bytes.fromhex(text).decode("ascii")  # checked in _refusal
        mode = params.get("mode", "number")
        if mode not in MODES:
            mode = "number"  # "Invalid modes are resulting in the default mode number"
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
        if not user.api_access:
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


def _answer(code: tuple[int, str]) -> web.Response:
    """Answer with the gateway's status code and its body text."""
    status, body = code
    return web.Response(status=status, text=body)
