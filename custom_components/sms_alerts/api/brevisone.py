"""brevis.one SMS Gateway: firmware 4.x REST API or api.php, Telegram first with SMS fallback."""

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
    WebInterface,
    base_url,
    cut,
    form_body,
    mask_target,
    parallel_requests,
)
from .brevisone_rest import (
    API_LEGACY,
    API_REST,
    CONF_API,
    TARGET_SPELLINGS,
    ApiMissingError,
    RestSession,
    classify_message,
    message_payload,
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
# Entry option: use Home Assistant's client context that still offers old ciphers and protocols
CONF_LEGACY_TLS = "legacy_tls"

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
    # Not in the vendor's table: the web server has no api.php (a unit whose firmware dropped it)
    _Rule(status=range(404, 406), error=ApiMissingError, key="api_missing"),
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


class BrevisOneProvider(WebInterface, Provider):
    """A brevis.one (formerly Braintower) SMS Gateway appliance, through its REST API or api.php."""

    key: ClassVar[str] = "sms_gateway"
    target_kinds: ClassVar[frozenset[TargetKind]] = frozenset(_MODES)
    options: ClassVar[frozenset[str]] = frozenset({"telegram", "telegram_only", "ring", "flash"})
    weak_tls_option: ClassVar[bool] = True

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        url: str,
        username: str,
        password: str,
        telegram: bool = False,
        api: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        parallel: int = 1,
    ) -> None:
        """Keep the gateway address, the API user's login and the API the gateway was found to have."""
        super().__init__(session, timeout=timeout, parallel=parallel)
        self._base = normalize_url(url)
        self._api_php = self._base.joinpath("api.php")
        self._login = form_body({"username": username, "password": password})
        # The last message's encoded login and text: every recipient of one alert shares it
        self._prefix: tuple[OutboundSms, bytes] | None = None
        self._username = username
        self._telegram = telegram
        # No API known yet (a new entry): the credential check finds it
        self._detect = api is None
        self.api = API_REST if api == API_REST else API_LEGACY
        self.rest = RestSession(self._async_request, self._base, username=username, password=password)
        # The REST target spelling that worked last, per kind
        self._spelling: dict[TargetKind, str] = {}

    @classmethod
    def from_config(
        cls, session: aiohttp.ClientSession, config: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT
    ) -> BrevisOneProvider:
        """Build the client from the entry's settings; without `api` (a flow) the credential check finds it."""
        return cls(
            session,
            url=config[CONF_URL],
            username=config[CONF_USERNAME],
            password=config[CONF_PASSWORD],
            telegram=config.get(CONF_TELEGRAM, False),
            api=config.get(CONF_API),
            timeout=timeout,
            parallel=parallel_requests(config),
        )

    @property
    def host(self) -> str:
        """Return the gateway's host name or address."""
        return self._base.host or ""

    async def async_validate(self) -> AccountInfo:
        """Check the login without sending; find the API first where none is known yet (REST, then api.php).

        With a known API, that one is checked; should the gateway no longer have it (a firmware update or
        downgrade), the other one is checked and used from then on.
        """
        if self._detect:
            self.api = await self._async_detect()
            self._detect = False
            return self.identity()
        try:
            await self._async_validate_api(self.api)
        except ApiMissingError:
            other = API_REST if self.api == API_LEGACY else API_LEGACY
            await self._async_validate_api(other)
            _LOGGER.warning("The SMS Gateway %s now offers the %s API only; using it", self.host, other)
            self.api = other
        return self.identity()

    async def _async_validate_api(self, api: str) -> None:
        """Check the login against one API."""
        if api == API_REST:
            await self.rest.async_signin()
        else:
            await self._async_validate_legacy()

    async def _async_detect(self) -> str:
        """Find the API the gateway offers: REST if it signs the user in, else api.php if it takes the login."""
        try:
            await self.rest.async_signin()
        except ApiMissingError:
            _LOGGER.debug("No REST API on %s; checking api.php", self.host)
            await self._async_validate_legacy()
            return API_LEGACY
        except (AuthError, EntryRejectedError, TransientError) as refusal:
            # A user may have the HTTP API right only, and an old web server may fail on /api/signin with
            # a 5xx: api.php taking the login settles it. Unreachable or untrusted stays what it is.
            if refusal.key not in ("invalid_auth", "no_api_permission", "server_error", "unexpected_response"):
                raise
            try:
                await self._async_validate_legacy()
            except ProviderError:
                raise refusal from None
            return API_LEGACY
        _LOGGER.debug("%s offers the REST API", self.host)
        return API_REST

    async def _async_validate_legacy(self) -> None:
        """Log in to api.php without text or recipient: 'Parameter miss' means the login passed."""
        status, body, _ = await self._async_post({})
        _LOGGER.debug("Credential check on %s: HTTP %s %s", self.host, status, cut(body))
        rule = classify(status, body)
        if rule.error is not None and rule.key != "parameter_miss":
            raise rule.error(self._reason(status, body), key=rule.key)

    def identity(self) -> AccountInfo:
        """One account is the API user: neither api.php, the REST API nor check.php tell a serial [assumed]."""
        return AccountInfo(
            unique_id=f"{self.key}:{self._username}".lower(),
            title=f"SMS Gateway {self._username}",
            data={CONF_API: self.api},
        )

    async def async_send_one(self, sms: OutboundSms, target: Target) -> Receipt:
        """Send one message to one recipient; when the gateway lacks the API tried, the other one takes it."""
        if target.kind not in _MODES:
            raise TargetRejectedError(f"the SMS Gateway cannot send to {target.kind} targets", key="unsupported_target")
        # Telegram first with SMS fallback is documented for api.php only (modes tel*); REST names no fallback
        automatic = (sms.telegram or self._telegram) and not (sms.telegram_only or sms.ring)
        first = API_LEGACY if automatic else self.api
        try:
            return await self._async_send_via(first, sms, target)
        except ApiMissingError as missing:
            other = API_REST if first == API_LEGACY else API_LEGACY
            _LOGGER.warning(
                "The SMS Gateway %s has no %s API (%s); sending through the %s API. Reconfigure the entry to "
                "detect the API again",
                self.host,
                first,
                missing.reason,
                other,
            )
            receipt = await self._async_send_via(other, sms, target)
            if first == self.api:
                self.api = other
            return receipt
        except (AuthError, EntryRejectedError) as refused:
            if first == self.api:
                raise
            # api.php refuses this REST user: the alert goes as SMS through REST rather than not at all
            _LOGGER.warning(
                "The SMS Gateway %s refused Telegram through api.php (%s); sending as SMS through the REST API",
                self.host,
                refused.reason,
            )
            return await self._async_send_via(self.api, sms, target)

    async def _async_send_via(self, api: str, sms: OutboundSms, target: Target) -> Receipt:
        """Send through one API."""
        if api == API_REST:
            return await self._async_send_rest(sms, target)
        return await self._async_send_legacy(sms, target)

    async def _async_send_rest(self, sms: OutboundSms, target: Target) -> Receipt:
        """POST /api/messages; a contact or group refused in one spelling of its kind is tried in the other."""
        to = gateway_number(target.value) if target.kind is TargetKind.NUMBER else target.value
        spellings = TARGET_SPELLINGS[target.kind]
        known = self._spelling.get(target.kind)
        if known is not None:
            spellings = (known, *(other for other in spellings if other != known))
        error: ProviderError = TargetRejectedError("no target form to try", key="target_rejected")
        for spelling in spellings:
            status, body = await self.rest.async_post(message_payload(sms, target, to, spelling))
            if _LOGGER.isEnabledFor(logging.DEBUG):
                _LOGGER.debug("REST send to %s as %s: HTTP %s", mask_target(target), spelling, status)
            refusal = classify_message(status, body)
            if refusal is None:
                self._spelling[target.kind] = spelling
                return Receipt(target=target, outcome=Outcome.SENT)
            if status != 400:  # noqa: PLR2004 - only a refused recipient is worth the other spelling
                raise refusal
            error = refusal
        raise error

    async def _async_send_legacy(self, sms: OutboundSms, target: Target) -> Receipt:
        """POST one message to one recipient through api.php."""
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
        return await self._async_request("POST", str(self._api_php), data=body, headers=FORM_HEADERS)

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
            "api": self.api,
            "scheme": self._api_php.scheme,
            "path": self._api_php.path,
            "telegram_default": self._telegram,
            "timeout": self._timeout,
        }
