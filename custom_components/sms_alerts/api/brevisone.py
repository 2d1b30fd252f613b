"""brevis.one SMS Gateway (api.php): Telegram first, SMS fallback."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp
from yarl import URL

from .base import (
    DEFAULT_TIMEOUT,
    FORM_HEADERS,
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
    base_url,
    cut,
    form_body,
    mask_target,
    netloc,
    parallel_requests,
)

_LOGGER = logging.getLogger(__name__)

# Longer bodies are pages, not the gateway's one-line reasons
_MAX_REASON_LENGTH = 200
# check.php is a status page: a device that takes longer is as good as down for it
HEALTH_TIMEOUT = 10.0
# Words check.php?option=state shows when the gateway has a problem (Check_MK braintower notification script)
STATE_PROBLEMS = ("Blocked", "Trouble", "Unknown")
# A `key: value` line of check.php; the value's first integer counts, units such as "db" or "dBm" are dropped
_CHECK_LINE = re.compile(r"^\s*(?P<key>[A-Za-z][A-Za-z _-]*?)\s*:\s*(?P<value>.*?)\s*$")
_INTEGER = re.compile(r"[-+]?\d+")

CONF_URL = "url"
CONF_USERNAME = "username"
CONF_PASSWORD = "password"  # noqa: S105 - the name of a field, not a secret
CONF_TELEGRAM = "telegram"

# The gateway's modes per target kind: plain SMS, and "automatic" Telegram first with SMS fallback.
_MODES: dict[TargetKind, tuple[str, str]] = {
    TargetKind.NUMBER: ("number", "telnumber"),
    TargetKind.GROUP: ("group", "telgroup"),
    TargetKind.CONTACT: ("user", "teluser"),
}


@dataclass(frozen=True, kw_only=True)
class _Rule:
    """One row of the response table: status and optional body text -> error class."""

    status: range
    error: type[ProviderError] | None
    body: str | None = None
    key: str | None = None


# Status first, body second (the gateway repeats its code as the HTTP status; brevis.one HTTP API page).
_RESPONSES: tuple[_Rule, ...] = (
    _Rule(status=range(200, 300), error=None),
    _Rule(status=range(400, 401), body="parameter miss", error=TargetRejectedError, key="parameter_miss"),
    _Rule(status=range(400, 401), error=TargetRejectedError, key="target_rejected"),
    _Rule(status=range(401, 402), error=AuthError, key="invalid_auth"),
    _Rule(status=range(403, 404), error=EntryRejectedError, key="no_api_permission"),
    _Rule(status=range(408, 409), error=TransientError, key="gateway_timeout"),
    _Rule(status=range(400, 500), error=TargetRejectedError, key="target_rejected"),
    _Rule(status=range(500, 600), error=TransientError, key="server_error"),
)
# Anything else (1xx, 3xx): the message was not taken, and retrying it is what loses nothing.
_DEFAULT_RULE = _Rule(status=range(0), error=TransientError, key="unexpected_response")


@dataclass(frozen=True, kw_only=True)
class GatewayHealth:
    """What check.php tells without a login; None where the page did not say."""

    queue: int | None
    failed: int | None
    signal_dbm: int | None
    total: int | None
    state: str | None

    @property
    def problem(self) -> str | None:
        """The problem word of the state page (Blocked, Trouble, Unknown), if it shows one."""
        if self.state is None:
            return None
        return next((word for word in STATE_PROBLEMS if word.lower() in self.state.lower()), None)


class HealthDataError(ProviderError):
    """The gateway answered check.php, but not with its health data."""

    default_key = "unexpected_response"


def parse_check(text: str) -> dict[str, int | None]:
    """Read check.php's `key: value` lines by key, never by position.

    Keys come lower-cased with `_` for spaces; any `signal…` key is `signal`. A value is its first
    integer, so "-71 dBm" and "15 db" both read; a value without one is None. Other lines are skipped.
    """
    values: dict[str, int | None] = {}
    for line in text.splitlines():
        match = _CHECK_LINE.match(line)
        if match is None:
            continue
        key = re.sub(r"[\s-]+", "_", match["key"].lower())
        number = _INTEGER.search(match["value"])
        values.setdefault("signal" if key.startswith("signal") else key, None if number is None else int(number[0]))
    return values


def classify(status: int, body: str) -> _Rule:
    """Find the table row for a response."""
    lowered = body.lower()
    for rule in _RESPONSES:
        if status in rule.status and (rule.body is None or rule.body in lowered):
            return rule
    return _DEFAULT_RULE


def gateway_number(e164: str) -> str:
    """Write an E.164 number the way the vendor's examples do: 00 and the digits."""
    return f"00{e164.removeprefix('+')}"


def normalize_url(raw: str) -> URL:
    """Turn what the user typed (an address, with or without scheme or api.php) into the base URL."""
    return base_url(raw, lambda path: path.removesuffix("/api.php").removesuffix("/check.php"))


class BrevisOneProvider(Provider):
    """A brevis.one (formerly Braintower) SMS Gateway appliance."""

    key: ClassVar[str] = "sms_gateway"
    target_kinds: ClassVar[frozenset[TargetKind]] = frozenset(_MODES)
    options: ClassVar[frozenset[str]] = frozenset({"telegram", "telegram_only", "ring", "flash"})

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        url: str,
        username: str,
        password: str,
        telegram: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        parallel: int = 1,
    ) -> None:
        """Keep the gateway address and the API user's login."""
        super().__init__(session, timeout=timeout, parallel=parallel)
        self._base = normalize_url(url)
        self._api = self._base.joinpath("api.php")
        self._login = form_body({"username": username, "password": password})
        # The last message's encoded login and text: every recipient of one alert shares it
        self._prefix: tuple[OutboundSms, bytes] | None = None
        self._username = username
        self._telegram = telegram

    @classmethod
    def from_config(
        cls, session: aiohttp.ClientSession, config: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT
    ) -> BrevisOneProvider:
        """Build the client from the entry's settings."""
        return cls(
            session,
            url=config[CONF_URL],
            username=config[CONF_USERNAME],
            password=config[CONF_PASSWORD],
            telegram=config.get(CONF_TELEGRAM, False),
            timeout=timeout,
            parallel=parallel_requests(config),
        )

    @property
    def host(self) -> str:
        """Return the gateway's host name or address."""
        return self._base.host or ""

    async def async_validate(self) -> AccountInfo:
        """Log in without text or recipient: 'Parameter miss' means the login passed."""
        status, body, _ = await self._async_post({})
        _LOGGER.debug("Credential check on %s: HTTP %s %s", self.host, status, cut(body))
        rule = classify(status, body)
        if rule.error is not None and rule.key != "parameter_miss":
            raise rule.error(self._reason(status, body), key=rule.key)
        return self.identity()

    def identity(self) -> AccountInfo:
        """One account is the API user on one gateway address (a non-default port included)."""
        address = netloc(self._base)
        return AccountInfo(unique_id=f"{self._username}@{address}".lower(), title=f"SMS Gateway {address}")

    async def async_send_one(self, sms: OutboundSms, target: Target) -> Receipt:
        """POST one message to one recipient."""
        if target.kind not in _MODES:
            raise TargetRejectedError(f"the SMS Gateway cannot send to {target.kind} targets", key="unsupported_target")
        fields = self._fields(sms, target)
        status, body, _ = await self._async_post(fields, prefix=self._message_prefix(sms))
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("Send to %s in mode %s: HTTP %s %s", mask_target(target), fields["mode"], status, cut(body))
        rule = classify(status, body)
        if rule.error is None:
            return Receipt(target=target, outcome=Outcome.SENT)
        if rule.key == "parameter_miss":
            _LOGGER.error("The SMS Gateway reported a missing parameter: this is a bug in SMS Alerts")
        raise rule.error(self._reason(status, body), key=rule.key)

    async def async_health(self) -> GatewayHealth:
        """Read check.php and its state page: no login, so no credentials travel; transport errors are typed."""
        check = self._base.joinpath("check.php")
        status, body, _ = await self._async_request("GET", str(check), time_limit=HEALTH_TIMEOUT)
        _LOGGER.debug("Health of %s: HTTP %s %s", self.host, status, cut(body))
        self._raise_for_health(status, body)
        values = parse_check(body)
        if "que" not in values:
            # The monitoring plugins judge the page by its queue line too
            raise HealthDataError(f"check.php on the SMS Gateway gave no queue line (HTTP {status})")
        status, body, _ = await self._async_request(
            "GET", str(check.with_query(option="state")), time_limit=HEALTH_TIMEOUT
        )
        _LOGGER.debug("State of %s: HTTP %s %s", self.host, status, cut(body))
        state = body.strip()
        # Older firmware may lack the state page: the counters still stand
        usable = status in range(200, 300) and bool(state) and not state.startswith("<")
        return GatewayHealth(
            queue=values.get("que"),
            failed=values.get("failed"),
            signal_dbm=values.get("signal"),
            total=values.get("total"),
            state=state[:_MAX_REASON_LENGTH] if usable else None,
        )

    def _fields(self, sms: OutboundSms, target: Target) -> dict[str, str]:
        """Build the form fields of one send (credentials included: they travel in the body)."""
        plain, telegram = _MODES[target.kind]
        use_telegram = (sms.telegram or sms.telegram_only or self._telegram) and not sms.ring
        to = gateway_number(target.value) if target.kind is TargetKind.NUMBER else target.value
        fields = {"to": to, "mode": telegram if use_telegram else plain}
        if use_telegram and sms.telegram_only:
            fields["telauto"] = "false"
        if sms.ring:
            fields["ring"] = "true"
        if sms.flash:
            fields["flash"] = "true"
        return fields

    def _message_prefix(self, sms: OutboundSms) -> bytes:
        """Encode the login and the text once per message, not once per recipient."""
        cached = self._prefix
        if cached is None or cached[0] is not sms:
            cached = self._prefix = (sms, self._login + b"&" + form_body({"text": sms.text}))
        return cached[1]

    async def _async_post(
        self, fields: dict[str, str], *, prefix: bytes | None = None
    ) -> tuple[int, str, Mapping[str, str]]:
        """POST form fields with the login (and text, in `prefix`) to api.php: in the body, never in the URL."""
        login = self._login if prefix is None else prefix
        body = login + b"&" + form_body(fields) if fields else login
        return await self._async_request("POST", str(self._api), data=body, headers=FORM_HEADERS)

    @classmethod
    def _raise_for_health(cls, status: int, body: str) -> None:
        """Raise for a check.php answer that is no page of values: 5xx is transient, anything else unusable."""
        if status in range(200, 300):
            return
        if status in range(500, 600):
            raise TransientError(cls._reason(status, body), key="server_error")
        raise HealthDataError(cls._reason(status, body))

    @staticmethod
    def _reason(status: int, body: str) -> str:
        """Give the gateway's own error text, or the status when the body is not plain text."""
        text = body.strip()
        if not text or text.startswith("<") or len(text) > _MAX_REASON_LENGTH:
            return f"HTTP {status} from the SMS Gateway"
        return f"HTTP {status}: {text}"

    def redacted_view(self) -> dict[str, Any]:
        """Describe the client for diagnostics."""
        return {
            "provider": self.key,
            "scheme": self._api.scheme,
            "path": self._api.path,
            "telegram_default": self._telegram,
            "timeout": self._timeout,
        }
