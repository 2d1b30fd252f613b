"""brevis.one SMS Gateway firmware 4.x REST API: sign-in token, messages and how its answers are read."""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Mapping
from typing import Any, Final, Protocol

from yarl import URL

from .answers import ascii_digits, finite_number, parse_json
from .base import (
    AuthError,
    EntryRejectedError,
    OutboundSms,
    ProviderError,
    Target,
    TargetKind,
    TargetRejectedError,
    TransientError,
    cut,
)

_LOGGER = logging.getLogger(__name__)

# Entry data: which API the gateway was found to have at setup (missing in entries made before firmware 4 support)
CONF_API: Final = "api"
API_REST: Final = "rest"
API_LEGACY: Final = "legacy"

JSON_HEADERS: Final = {"Accept": "application/json", "Content-Type": "application/json"}
# A token whose lifetime the gateway does not tell is used this long [assumed]
DEFAULT_TOKEN_LIFETIME = 300.0
# Renew at 80 % of the lifetime, and at least this long before it ends
RENEW_FRACTION = 0.8
RENEW_MARGIN = 60.0
# expireAt above this is in milliseconds, not seconds (year 5138 in seconds)
_MILLISECONDS = 100_000_000_000

# Target spellings per kind, first tried first. NETWAYS notify-brevisone (api.go, the default REST mode) sends
# number, contact and contactgroup; the vendor's messages-API page names user and group. A 400 for a contact or
# group in one spelling is tried once in the other (a 400 is a refusal: nothing was sent).
TARGET_SPELLINGS: Final[dict[TargetKind, tuple[str, ...]]] = {
    TargetKind.NUMBER: ("number",),
    TargetKind.CONTACT: ("contact", "user"),
    TargetKind.GROUP: ("contactgroup", "group"),
}


class ApiMissingError(TransientError):
    """The gateway does not (or no longer) serve this API: try the other one; if neither, keep the message."""

    default_key = "api_missing"


class Requester(Protocol):
    """The provider's request function: status, body text and headers; transport failures already typed."""

    def __call__(
        self, method: str, url: str, *, time_limit: float | None = None, **kwargs: Any
    ) -> Awaitable[tuple[int, str, Mapping[str, str]]]:
        """Make one HTTP request."""


def _json_object(body: str) -> dict[str, Any] | None:
    """Parse a JSON object, or None when the body is anything else (an HTML page, a bare string)."""
    try:
        value = parse_json(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _jwt_expiry(token: str) -> float | None:
    """Read the standard `exp` claim of a JWT without checking its signature (only to know when to renew)."""
    parts = token.split(".")
    if len(parts) != 3:  # noqa: PLR2004 - header, payload, signature
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = parse_json(base64.urlsafe_b64decode(payload))
    except (ValueError, binascii.Error):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return finite_number(exp)


def _epoch(value: Any) -> float | None:
    """Read expireAt: Unix seconds or milliseconds (number or digits), or an ISO 8601 time; None if neither."""
    if isinstance(value, str):
        text = value.strip()
        if ascii_digits(text):
            value = int(text)
        else:
            try:
                parsed = dt.datetime.fromisoformat(text)
            except ValueError:
                return None
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()
    number = finite_number(value)
    if number is None or number <= 0:
        return None
    return number / 1000 if number > _MILLISECONDS else number


def token_expiry(token: str, expire_at: Any, now: float) -> float:
    """When a token ends: its own `exp` claim, else expireAt, else a default lifetime; past times are ignored."""
    for candidate in (_jwt_expiry(token), _epoch(expire_at)):
        if candidate is not None and candidate > now:
            return candidate
    return now + DEFAULT_TOKEN_LIFETIME


def renew_time(now: float, expiry: float) -> float:
    """When to sign in again: at 80 % of the lifetime or a minute before its end, whichever is first."""
    life = expiry - now
    return now + max(min(life * RENEW_FRACTION, life - RENEW_MARGIN), life / 2)


def message_payload(sms: OutboundSms, target: Target, to: str, spelling: str) -> dict[str, Any]:
    """Build the JSON of POST /api/messages (vendor messages-API page; NETWAYS notify-brevisone api.go)."""
    kind = "ring" if sms.ring else "flash" if sms.flash else "default"
    provider = "telegram" if sms.telegram_only and not sms.ring else "sms"
    return {
        "recipients": [{"to": to, "target": spelling}],
        "text": sms.text,
        "provider": provider,
        "type": kind,
    }


def _reason(status: int, body: str) -> str:
    """Give the gateway's own error text (a JSON message or a short line), or the status alone."""
    data = _json_object(body)
    if data is not None:
        for key in ("message", "error", "detail"):
            if isinstance(data.get(key), str) and data[key].strip():
                return f"HTTP {status}: {data[key].strip()[:200]}"
        return f"HTTP {status} from the SMS Gateway"
    text = body.strip()
    if not text or text.startswith("<") or len(text) > 200:  # noqa: PLR2004 - longer is a page, not a reason
        return f"HTTP {status} from the SMS Gateway"
    return f"HTTP {status}: {text}"


def _missing(status: int, body: str) -> bool:
    """Tell a 404/405 that is not the API's own JSON answer: the path is not served (firmware 3, a downgrade)."""
    return status in (404, 405) and _json_object(body) is None


def classify_signin(status: int, body: str) -> str:
    """Return the token of a sign-in answer, or raise the error its status means."""
    if status in range(200, 300):
        data = _json_object(body)
        token = data.get("jwt") if data else None
        if isinstance(token, str) and token:
            return token
        # A firmware-3 web interface answers its own page for unknown paths
        raise ApiMissingError(f"HTTP {status} without a token: no REST API at this address", key="api_missing")
    if status in range(300, 400) or _missing(status, body):
        raise ApiMissingError(f"HTTP {status}: no REST API at this address", key="api_missing")
    if status in (400, 401, 422):
        raise AuthError(_reason(status, body), key="invalid_auth")
    if status == 403:  # noqa: PLR2004
        raise EntryRejectedError(_reason(status, body), key="no_api_permission")
    if status == 503:  # noqa: PLR2004 - busy: the REST API is there, only not now
        raise TransientError(_reason(status, body), key="unavailable")
    if status in range(500, 600):
        raise TransientError(_reason(status, body), key="server_error")
    raise TransientError(_reason(status, body), key="unexpected_response")


def classify_message(status: int, body: str) -> ProviderError | None:  # noqa: PLR0911 - one row each
    """Map an answer of POST /api/messages to None (taken) or the error class of PROVIDERS.md §0."""
    if status in range(200, 300):
        return None  # 201: processed, not yet delivered (vendor page); NETWAYS expects 200
    if _missing(status, body):
        return ApiMissingError(f"HTTP {status}: no REST messages API at this address", key="api_missing")
    if status == 401:  # noqa: PLR2004
        return AuthError(_reason(status, body), key="invalid_auth")
    if status == 403:  # noqa: PLR2004
        return EntryRejectedError(_reason(status, body), key="no_api_permission")
    if status in (408, 429) or status in range(500, 600):
        return TransientError(_reason(status, body), key="gateway_timeout" if status == 408 else "server_error")  # noqa: PLR2004
    if status in range(400, 500):
        return TargetRejectedError(_reason(status, body), key="target_rejected")
    return TransientError(_reason(status, body), key="unexpected_response")


class RestSession:
    """A signed-in session with the REST API: one token, renewed before it ends, one sign-in at a time."""

    def __init__(
        self,
        request: Requester,
        base: URL,
        *,
        username: str,
        password: str,
    ) -> None:
        """Keep where to sign in and the login (sent only in the sign-in body)."""
        self._request = request
        self._signin = base.joinpath("api/signin")
        self.messages_url = base.joinpath("api/messages")
        self._credentials = json.dumps({"username": username, "password": password}).encode()
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        self.signins = 0

    def _current(self) -> str | None:
        """Return the token while it need not be renewed yet."""
        return self._token if self._token is not None and time.time() < self._renew_at else None

    async def async_signin(self) -> str:
        """Sign in now and keep the token; raise what the answer means (ApiMissingError when there is no REST API)."""
        status, body, _ = await self._request(
            "POST", str(self._signin), data=self._credentials, headers=JSON_HEADERS, allow_redirects=False
        )
        _LOGGER.debug("REST sign-in: HTTP %s", status)  # the body holds the token: never logged
        token = classify_signin(status, body)
        data = _json_object(body) or {}
        now = time.time()
        self._token = token
        self._renew_at = renew_time(now, token_expiry(token, data.get("expireAt"), now))
        self.signins += 1
        return token

    async def async_token(self) -> str:
        """Return a token that is good for a while yet; only one sign-in runs at a time."""
        token = self._current()
        if token is not None:
            return token
        async with self._lock:
            return self._current() or await self.async_signin()

    def forget(self, token: str) -> None:
        """Drop a token the gateway refused (unless another request already replaced it)."""
        if self._token == token:
            self._token = None

    async def async_post(self, payload: Mapping[str, Any]) -> tuple[int, str]:
        """POST a message with the bearer token; on a 401 sign in once more and try again before giving up."""
        token = await self.async_token()
        status, body = await self._post(token, payload)
        if status == 401:  # noqa: PLR2004 - the token ended or the gateway restarted: a fresh one may pass
            _LOGGER.debug("REST token refused; signing in again")
            self.forget(token)
            async with self._lock:
                token = self._current() or await self.async_signin()
            status, body = await self._post(token, payload)
        return status, body

    async def _post(self, token: str, payload: Mapping[str, Any]) -> tuple[int, str]:
        """One POST /api/messages."""
        headers = {**JSON_HEADERS, "Authorization": f"Bearer {token}"}
        status, body, _ = await self._request(
            "POST", str(self.messages_url), data=json.dumps(payload).encode(), headers=headers
        )
        _LOGGER.debug("REST message: HTTP %s %s", status, cut(body))
        return status, body
