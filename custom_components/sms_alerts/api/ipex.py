"""IPEX / Voipex: token login and refresh, SMS Chat and instant SMS."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

import aiohttp

from .answers import parse_json
from .base import (
    DEFAULT_TIMEOUT,
    AccountInfo,
    AuthError,
    EntryRejectedError,
    OutboundSms,
    Outcome,
    Provider,
    ProviderError,
    Receipt,
    Target,
    TargetKind,
    TargetRejectedError,
    TransientError,
    cut,
    mask_target,
    parallel_requests,
)
from .ipex_tokens import (
    CLIENT_ID,
    TokenSource,
    _Grant,
    _grant_from,
    restapi_grant_from,
    restapi_token_url,
)

_LOGGER = logging.getLogger(__name__)

DEFAULT_URL = "https://sms-api.voipex.io"
DEFAULT_AUTH_URL = "https://auth.voipex.io/token"
DEFAULT_INSTANT_URL = "https://restapi.ipex.cz/v1/sms"
MODE_CHAT = "chat"
MODE_INSTANT = "instant"
MODES = (MODE_CHAT, MODE_INSTANT)

CONF_URL = "url"
CONF_AUTH_URL = "auth_url"
CONF_USERNAME = "username"
CONF_PASSWORD = "password"  # noqa: S105 - the name of a field, not a secret
CONF_API_TOKEN = "api_token"  # noqa: S105 - the name of a field, not a secret
CONF_MODE = "mode"
CONF_SENDER = "sender"
CONF_INSTANT_URL = "instant_url"
CONF_SHORTNAME = "shortname"

# Longer bodies are pages, not the API's one-line reasons
_MAX_REASON_LENGTH = 200
_REASON_KEYS = ("message", "error_description", "error", "title", "detail")
_NUMBER_KEYS = ("number", "phoneNumber", "msisdn", "value")
# Instant SMS takes national digits for Czech numbers (the vendor's one example); others stay +E.164 [assumed]
_CZ_PREFIX = "+420"


@dataclass(frozen=True, kw_only=True)
class _Rule:
    """One row of a response table: a status range -> error class (None: accepted) and key."""

    status: range
    error: type[ProviderError] | None
    key: str | None = None


# SMS Chat and instant SMS (PROVIDERS.md section 4 table); a 401 reaches this table only after the token logic.
_SEND_RESPONSES: tuple[_Rule, ...] = (
    _Rule(status=range(200, 300), error=None),
    _Rule(status=range(401, 402), error=AuthError, key="invalid_auth"),
    _Rule(status=range(403, 404), error=EntryRejectedError, key="sender_not_allowed"),
    _Rule(status=range(400, 401), error=TargetRejectedError, key="target_rejected"),
    _Rule(status=range(404, 405), error=TargetRejectedError, key="target_rejected"),
    _Rule(status=range(422, 423), error=TargetRejectedError, key="target_rejected"),
    _Rule(status=range(429, 430), error=TransientError, key="rate_limited"),
    _Rule(status=range(500, 600), error=TransientError, key="server_error"),
)
# allowed-numbers: 403/404 mean an account without SMS Chat numbers, and the flow offers instant mode.
_NUMBERS_RESPONSES: tuple[_Rule, ...] = (
    _Rule(status=range(200, 300), error=None),
    _Rule(status=range(401, 402), error=AuthError, key="invalid_auth"),
    _Rule(status=range(403, 405), error=None, key="no_sms_chat"),
    _Rule(status=range(429, 430), error=TransientError, key="rate_limited"),
    _Rule(status=range(500, 600), error=TransientError, key="server_error"),
)
# Token endpoint: Keycloak answers invalid_grant with 400 (refresh) or 401 (password) [assumed]
_TOKEN_RESPONSES: tuple[_Rule, ...] = (
    _Rule(status=range(200, 300), error=None),
    _Rule(status=range(400, 402), error=AuthError, key="invalid_auth"),
    _Rule(status=range(429, 430), error=TransientError, key="rate_limited"),
    _Rule(status=range(500, 600), error=TransientError, key="server_error"),
)
# restapi.ipex.cz login: a refusal, or a host without this login (404/405), means "not a login here" [assumed:
# hapi-style {statusCode, error, message} bodies, as Spoje-NET/ipex-b2b:src/IPEXB2B/ApiClient.php reads them]
_RESTAPI_TOKEN_RESPONSES: tuple[_Rule, ...] = (
    _Rule(status=range(200, 300), error=None),
    _Rule(status=range(400, 402), error=AuthError, key="invalid_auth"),
    _Rule(status=range(403, 406), error=AuthError, key="invalid_auth"),
    _Rule(status=range(429, 430), error=TransientError, key="rate_limited"),
    _Rule(status=range(500, 600), error=TransientError, key="server_error"),
)
# Anything else: the message was not taken, and retrying it is what loses nothing.
_DEFAULT_RULE = _Rule(status=range(0), error=TransientError, key="unexpected_response")


def classify(table: tuple[_Rule, ...], status: int) -> _Rule:
    """Find the table row for a status."""
    for rule in table:
        if status in rule.status:
            return rule
    return _DEFAULT_RULE


def instant_number(e164: str) -> str:
    """Write a number for instant SMS: national digits for +420, else +E.164."""
    return e164.removeprefix(_CZ_PREFIX) if e164.startswith(_CZ_PREFIX) else e164


def reason(status: int, body: str) -> str:
    """Give the API's own error text (JSON message/error/title/detail, else the body), never a page."""
    text = _json_reason(body)
    if text is None:
        text = body.strip()
        if text.startswith(("<", "{", "[")):
            text = ""
    text = " ".join(text.split())
    if not text:
        return f"HTTP {status} from the IPEX API"
    return f"HTTP {status}: {cut(text, _MAX_REASON_LENGTH)}"


def _json_reason(body: str) -> str | None:
    """Pick the first non-empty reason field of a JSON body, or None."""
    payload = _loads(body)
    if isinstance(payload, str):
        return payload
    if isinstance(payload, dict):
        for key in _REASON_KEYS:
            value = payload.get(key)
            if isinstance(value, str) and value.strip():
                return value
    return None


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Read Retry-After in seconds; a date or garbage gives None."""
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    try:
        seconds = float(raw.strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _error(rule: _Rule, status: int, body: str, headers: Mapping[str, str]) -> ProviderError:
    """Build the error a table row names (a rule without an error class is never passed)."""
    error = rule.error or TransientError
    text = reason(status, body)
    if issubclass(error, TransientError):
        return error(text, key=rule.key, retry_after=retry_after(headers))
    return error(text, key=rule.key)


def parse_allowed_numbers(payload: Any) -> list[str]:
    """Read allowed numbers from strings, objects with a number-like key, or an object wrapping such a list."""
    items: list[Any] = []
    if isinstance(payload, list):
        items = payload
    elif isinstance(payload, dict):
        items = next((value for value in payload.values() if isinstance(value, list)), [])
    numbers: list[str] = []
    for item in items:
        number = item if isinstance(item, str) else _number_of(item)
        if number and number.strip() and number.strip() not in numbers:
            numbers.append(number.strip())
    return numbers


def _number_of(item: Any) -> str | None:
    """Return the first number-like string field of an object."""
    if not isinstance(item, dict):
        return None
    return next((item[key] for key in _NUMBER_KEYS if isinstance(item.get(key), str)), None)


class IpexProvider(Provider):
    """An IPEX / Voipex account: SMS Chat from an allowed number, or instant SMS billed to a trunk number."""

    key: ClassVar[str] = "ipex"
    reports_delivery: ClassVar[bool] = True
    target_kinds: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.NUMBER})
    options: ClassVar[frozenset[str]] = frozenset()

    def __init__(  # noqa: PLR0913 - one keyword per entry field
        self,
        session: aiohttp.ClientSession,
        *,
        url: str = DEFAULT_URL,
        auth_url: str = DEFAULT_AUTH_URL,
        username: str | None = None,
        password: str | None = None,
        api_token: str | None = None,
        mode: str = MODE_CHAT,
        sender: str | None = None,
        instant_url: str = DEFAULT_INSTANT_URL,
        shortname: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        parallel: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Keep the addresses and the login (password preferred over a pasted token); no request yet."""
        super().__init__(session, timeout=timeout, parallel=parallel)
        if mode not in MODES:
            raise ValueError(f"unknown IPEX mode {mode!r}")
        self._login = (username, password) if username and password else None
        if self._login is None and not api_token:
            raise ValueError("IPEX needs a username and password, or an API token")
        self._api_token = None if self._login else api_token
        self._username = username
        self._url = url.rstrip("/")
        self._auth_url = auth_url
        self._instant_url = instant_url
        self._mode = mode
        self._sender = sender or None
        self._shortname = shortname or None
        self._clock = clock
        self._grant: _Grant | None = None
        # An account whose SMS Chat sender is chosen logs in at Keycloak only; setup and instant SMS may also use
        # the central REST API's own login (Spoje-NET/ipex-b2b), tried second [assumed: the vendor documents only
        # the Keycloak token for both APIs]
        chat_only = mode == MODE_CHAT and self._sender is not None
        self._sources = (TokenSource.KEYCLOAK,) if chat_only else (TokenSource.KEYCLOAK, TokenSource.RESTAPI)
        self._source: TokenSource | None = None
        self._restapi_token_url = restapi_token_url(instant_url)
        self._lock = asyncio.Lock()

    @classmethod
    def receives_replies(cls, config: Mapping[str, Any]) -> bool:
        """Tell whether replies come back: to an SMS Chat number by webhook, never to instant SMS (60030 or a name)."""
        return (config.get(CONF_MODE) or MODE_CHAT) == MODE_CHAT

    @classmethod
    def from_config(
        cls, session: aiohttp.ClientSession, config: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT
    ) -> IpexProvider:
        """Build the client from the entry's settings; empty fields take the defaults."""
        return cls(
            session,
            url=config.get(CONF_URL) or DEFAULT_URL,
            auth_url=config.get(CONF_AUTH_URL) or DEFAULT_AUTH_URL,
            username=config.get(CONF_USERNAME) or None,
            password=config.get(CONF_PASSWORD) or None,
            api_token=config.get(CONF_API_TOKEN) or None,
            mode=config.get(CONF_MODE) or MODE_CHAT,
            sender=config.get(CONF_SENDER) or None,
            instant_url=config.get(CONF_INSTANT_URL) or DEFAULT_INSTANT_URL,
            shortname=config.get(CONF_SHORTNAME) or None,
            timeout=timeout,
            parallel=parallel_requests(config),
        )

    async def async_validate(self) -> AccountInfo:
        """Log in (with a password) and read the allowed numbers, without sending."""
        if self._login is not None:
            async with self._lock:
                await self._async_login()
        if self._source is not TokenSource.RESTAPI:
            await self.async_allowed_numbers()
        return self.identity()

    def identity(self) -> AccountInfo:
        """One account is its sender (or trunk) number; before one is chosen, the login."""
        if self._sender:
            return AccountInfo(unique_id=f"ipex:{self._sender}", title=f"IPEX {self._sender}")
        if self._login is not None and self._username:
            return AccountInfo(unique_id=f"ipex-user:{self._username.lower()}", title=f"IPEX {self._username}")
        return AccountInfo(unique_id="ipex-token", title="IPEX")

    async def async_allowed_numbers(self) -> list[str]:
        """Return the numbers SMS Chat may send from; [] when the account has none (403/404) or is a REST API login."""
        if self._login is not None:
            await self._async_access_token()
            if self._source is TokenSource.RESTAPI:
                _LOGGER.debug("A REST API login has no SMS Chat numbers: instant SMS only")
                return []
        status, body, headers = await self._async_api("GET", f"{self._url}/SMS/allowed-numbers")
        _LOGGER.debug("Allowed numbers: HTTP %s (%s characters)", status, len(body))
        rule = classify(_NUMBERS_RESPONSES, status)
        if rule.key == "no_sms_chat":
            return []
        if rule.error is not None:
            raise _error(rule, status, body, headers)
        payload = _loads(body)
        numbers = parse_allowed_numbers(payload)
        if not numbers and payload not in ([], {}):
            _LOGGER.warning("The IPEX API listed the allowed numbers in a form SMS Alerts does not know")
        return numbers

    async def async_send_one(self, sms: OutboundSms, target: Target) -> Receipt:
        """Send one SMS to one number by SMS Chat or instant SMS."""
        if target.kind is not TargetKind.NUMBER:
            raise TargetRejectedError(f"IPEX cannot send to {target.kind} targets", key="unsupported_target")
        if not self._sender:
            raise EntryRejectedError("no sender number is set for IPEX", key="no_sender")
        if self._mode == MODE_CHAT:
            url = f"{self._url}/SMS"
            payload = {"from": self._sender, "to": target.value, "text": sms.text}
        else:
            url = self._instant_url
            payload = {"from": instant_number(self._sender), "to": instant_number(target.value), "message": sms.text}
            if self._shortname:
                payload["shortname"] = self._shortname
        status, body, headers = await self._async_api("POST", url, json=payload)
        _LOGGER.debug("%s SMS to %s: HTTP %s %s", self._mode.title(), mask_target(target), status, cut(body))
        rule = classify(_SEND_RESPONSES, status)
        if rule.error is not None:
            raise _error(rule, status, body, headers)
        return Receipt(target=target, outcome=Outcome.SENT, message_id=_message_id(body))

    async def _async_api(self, method: str, url: str, **kwargs: Any) -> tuple[int, str, Mapping[str, str]]:
        """Call the API with the bearer; on 401 refresh and retry, then log in and retry, then give up."""
        token = await self._async_access_token()
        for renew in self._renewals():
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            status, body, response_headers = await self._async_request(method, url, headers=headers, **kwargs)
            if status != HTTPStatus.UNAUTHORIZED:
                return status, body, response_headers
            if renew is None:
                break
            _LOGGER.debug("The IPEX API refused the access token (HTTP 401); getting a new one")
            token = await renew(token)
        raise AuthError("the IPEX API refused the access token (HTTP 401)", key="invalid_auth")

    def _renewals(self) -> tuple[Callable[[str], Awaitable[str]] | None, ...]:
        """List what to try after each 401: refresh, then a new login; a pasted token has nothing to try."""
        if self._login is None:
            return (None,)
        return (self._async_renew_by_refresh, self._async_renew_by_login, None)

    async def _async_access_token(self) -> str:
        """Return a usable access token, logging in or refreshing (at 80 % of its life) under the lock."""
        if self._api_token is not None:
            return self._api_token
        async with self._lock:
            grant = self._grant
            now = self._clock()
            if grant is None:
                grant = await self._async_login()
            elif now >= grant.refresh_due:
                try:
                    grant = await self._async_fresh_grant(grant)
                except TransientError:
                    if now >= grant.expires_at:
                        raise
                    _LOGGER.debug("Token refresh failed for now; the current token is still valid")
            return grant.access_token

    async def _async_renew_by_refresh(self, stale: str) -> str:
        """After a 401: refresh (or log in if the refresh token is gone), unless another send already did."""
        async with self._lock:
            if self._grant is not None and self._grant.access_token != stale:
                return self._grant.access_token
            return (await self._async_fresh_grant(self._grant)).access_token

    async def _async_renew_by_login(self, stale: str) -> str:
        """After a second 401: log in again, at the other token endpoint first, unless another send already did."""
        async with self._lock:
            if self._grant is not None and self._grant.access_token != stale:
                return self._grant.access_token
            return (await self._async_login(switch=True)).access_token

    async def _async_fresh_grant(self, grant: _Grant | None) -> _Grant:
        """Refresh while the refresh token lives; if it expired or is refused, log in again (lock held)."""
        if grant is not None and grant.refresh_token is not None and self._clock() < grant.refresh_expires_at:
            try:
                return await self._async_token_call(
                    {"grant_type": "refresh_token", "refresh_token": grant.refresh_token}
                )
            except AuthError:
                _LOGGER.debug("The IPEX refresh token was refused; logging in again")
        return await self._async_login()

    async def _async_login(self, *, switch: bool = False) -> _Grant:
        """Exchange username and password for tokens, trying each token endpoint in turn (lock held).

        The one that worked last goes first (with `switch`, last). A refusal moves on to the next; if none
        gives a token, a transient failure wins over a refusal, so a Keycloak outage is never a wrong password.
        """
        if self._login is None:
            raise AuthError("no IPEX login to exchange for a token", key="invalid_auth")
        current = self._source or self._sources[0]
        others = [source for source in self._sources if source is not current]
        refused: ProviderError | None = None
        transient: ProviderError | None = None
        for source in [*others, current] if switch else [current, *others]:
            try:
                grant = await self._async_login_at(source, *self._login)
            except AuthError as err:
                refused = refused or err
            except TransientError as err:
                transient = transient or err
            else:
                if source is not self._source:
                    _LOGGER.debug("Logged in at the %s token endpoint", source)
                self._source = source
                return grant
        raise transient or refused or AuthError("no IPEX token endpoint", key="invalid_auth")

    async def _async_login_at(self, source: TokenSource, username: str, password: str) -> _Grant:
        """Log in at one token endpoint (lock held)."""
        if source is TokenSource.KEYCLOAK:
            return await self._async_token_call({"grant_type": "password", "username": username, "password": password})
        started = self._clock()
        # JSON {username, password}, as Spoje-NET/ipex-b2b:src/IPEXB2B/Token.php posts it to /v1/token
        status, body, headers = await self._async_request(
            "POST",
            self._restapi_token_url,
            json={"username": username, "password": password},
            headers={"Accept": "application/json"},
        )
        # Never log a token response body: it holds the token
        _LOGGER.debug("REST API login: HTTP %s", status)
        rule = classify(_RESTAPI_TOKEN_RESPONSES, status)
        if rule.error is not None:
            raise _error(rule, status, body, headers)
        self._grant = restapi_grant_from(_loads(body), started)
        return self._grant

    async def _async_token_call(self, form: dict[str, str]) -> _Grant:
        """POST a grant to the token endpoint (form body, never the URL) and keep the tokens."""
        started = self._clock()
        status, body, headers = await self._async_request("POST", self._auth_url, data={"client_id": CLIENT_ID, **form})
        rule = classify(_TOKEN_RESPONSES, status)
        # Never log a token response body: it holds the tokens
        _LOGGER.debug("Token endpoint (%s): HTTP %s", form["grant_type"], status)
        if rule.error is not None:
            raise _error(rule, status, body, headers)
        self._grant = _grant_from(_loads(body), started)
        return self._grant

    def redacted_view(self) -> dict[str, Any]:
        """Describe the client for diagnostics: no tokens, login or numbers."""
        grant = self._grant
        expires_in = None if grant is None else max(0, round(grant.expires_at - self._clock()))
        return {
            "provider": self.key,
            "mode": self._mode,
            "auth": "password" if self._login is not None else "api_token",
            "token_source": None if self._source is None else str(self._source),
            "default_urls": (self._url, self._auth_url, self._instant_url)
            == (DEFAULT_URL, DEFAULT_AUTH_URL, DEFAULT_INSTANT_URL),
            "sender_set": self._sender is not None,
            "shortname_set": self._shortname is not None,
            "token_held": grant is not None or self._api_token is not None,
            "token_expires_in": expires_in,
            "timeout": self._timeout,
        }


def _message_id(body: str) -> str | None:
    """Read the id of a sent message from an (undocumented) JSON answer, if there is one."""
    payload = _loads(body)
    if not isinstance(payload, dict):
        return None
    value = payload.get("id")
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _loads(body: str) -> Any:
    """Parse a JSON body, or None when it is not JSON."""
    try:
        return parse_json(body)
    except ValueError:
        return None
