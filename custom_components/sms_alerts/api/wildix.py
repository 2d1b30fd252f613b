"""Wildix PBX (api/v1/originate/sms): several numbers per request, a login or an API key, GSM gateway choice."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp
from yarl import URL

from .answers import parse_json
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
    error_receipt,
    form_body,
    mask_target,
    netloc,
    not_started,
    secret_digest,
)
from .text import split_numbered, utf16_len
from .wildix_auth import AUTH_HINTS, AuthKind, WildixAuth

_LOGGER = logging.getLogger(__name__)

CONF_URL = "url"
CONF_GSM = "gsm"
CONF_MAX_LENGTH = "max_length"
CONF_LOOKALIKE_CHARS = "lookalike_chars"
CONF_GSM_ONLY = "gsm_only"

# "message: no more than 300 characters"; 670 from WMS 6.02.20230306.1 (vendor SMS API page).
DEFAULT_MAX_LENGTH = 670
LEGACY_MAX_LENGTH = 300
# Below this a numbered part would be mostly prefix: a typo, not a PBX limit
_MIN_LENGTH = 70
# Recipients per request (PROVIDERS §2 rule)
CHUNK_SIZE = 50
# A number the PBX could not queue is tried this often, then refused [assumed]
WARNING_TRIES = 3
# "The timeout for mass sending is 5 sec for each SMS / gateway": 10 s + 5 s per number [assumed].
SEND_TIME_BASE = 10.0
SEND_TIME_PER_NUMBER = 5.0
# Longer reasons are pages, not the PBX's one-line texts
_MAX_REASON_LENGTH = 200
# A postponed SMS is for hours or days: a time further than this either way is a mistake (year 9999 cannot even be
# written in every time zone), refused before anything is taken
MAX_POSTPONE = dt.timedelta(days=366)

_SEND_PATH = "api/v1/originate/sms"
_INFO_PATH = "api/v1/personal/info"
_PROBE_TEXT = "SMS Alerts credential check"

# The PBX replaces these with a space; their look-alikes keep the meaning (none of them is GSM-7).
LOOKALIKES: dict[str, str] = {"'": "\u2019", '"': "\u2033", "/": "\u2215", "\\": "\u29f5"}
_LOOKALIKE_TABLE = str.maketrans(LOOKALIKES)

_MAC_SEPARATORS = re.compile(r"[\s:.\-]")
_MAC = re.compile(r"^[0-9a-f]{12}$")
_API_SUFFIX = re.compile(r"/api(/v1(/.*)?)?/?$")
_LONG_DIGITS = re.compile(r"\+?\d{9,}")
# How many masked numbers a debug line shows
_SHOWN_NUMBERS = 3


@dataclass(frozen=True, kw_only=True)
class _Rule:
    """One row of the response table: status, the body's `type` and reason -> error class (None: sent)."""

    status: range
    error: type[ProviderError] | None
    kind: str | None = None
    reason: str | None = None
    key: str | None = None
    message: str = "unexpected response"


_ANY_STATUS = range(100, 600)
# PROVIDERS §2 "Responses and how to classify them"; the first matching row wins.
_RESPONSES: tuple[_Rule, ...] = (
    _Rule(status=_ANY_STATUS, kind="error", reason="unauthorized", error=AuthError, key="invalid_auth"),
    _Rule(status=range(401, 402), error=AuthError, key="invalid_auth", message="the PBX refused the login"),
    _Rule(status=range(403, 404), error=AuthError, key="invalid_auth", message="the PBX refused the login"),
    _Rule(status=range(404, 405), error=EntryRejectedError, key="no_sms_api", message="no SMS API at this address"),
    _Rule(status=range(408, 409), error=TransientError, key="server_busy", message="the PBX is busy"),
    _Rule(status=range(429, 430), error=TransientError, key="server_busy", message="the PBX is busy"),
    _Rule(status=range(500, 600), error=TransientError, key="server_error", message="the PBX failed"),
    _Rule(status=range(200, 300), kind="result", error=None),
    _Rule(status=range(200, 300), kind="warning", error=TransientError, key="queue_warning"),
    _Rule(status=range(200, 500), kind="error", error=TargetRejectedError, key="target_rejected"),
    _Rule(status=range(200, 300), error=TargetRejectedError, key="unexpected_response"),
    _Rule(
        status=range(300, 400),
        error=EntryRejectedError,
        key="redirected",
        message="the PBX redirects elsewhere: enter the address it redirects to",
    ),
    _Rule(status=range(400, 500), error=TargetRejectedError, key="unexpected_response"),
)
# 1xx: the message was not taken, and retrying it is what loses nothing.
_DEFAULT_RULE = _Rule(status=range(0), error=TransientError, key="unexpected_response")


def _json(body: str) -> dict[str, Any] | None:
    """Parse a JSON object body; anything else is None."""
    try:
        data = parse_json(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def classify(status: int, body: str) -> _Rule:
    """Find the table row for a response (status and the JSON body's `type` and `reason`)."""
    data = _json(body) or {}
    kind = data.get("type")
    reason = str(data.get("reason") or "").lower()
    result = data.get("result")
    if kind == "result" and isinstance(result, str) and result.strip().lower() != "success":
        # A result that says something other than "Success" is not the documented success
        kind = None
    for rule in _RESPONSES:
        if status not in rule.status:
            continue
        if rule.kind is not None and rule.kind != kind:
            continue
        if rule.reason is not None and rule.reason not in reason:
            continue
        return rule
    return _DEFAULT_RULE


def normalize_gsm(raw: str) -> str:
    """Write a GSM gateway MAC the way the PBX wants it (9c7514330001); ValueError unless 12 hex digits."""
    mac = _MAC_SEPARATORS.sub("", raw).lower()
    if not _MAC.match(mac):
        raise ValueError(raw)
    return mac


def normalize_url(raw: str) -> URL:
    """Turn what the user typed (an address, with or without scheme or /api/v1/...) into the PBX's base URL."""
    return base_url(raw, lambda path: _API_SUFFIX.sub("", path))


def switches_auth(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Tell whether two settings are the same PBX address, one with a login, the other with an API key."""
    same_pbx = netloc(normalize_url(old[CONF_URL])) == netloc(normalize_url(new[CONF_URL]))
    return same_pbx and WildixAuth.from_config(old).kind is not WildixAuth.from_config(new).kind


def use_lookalikes(text: str) -> str:
    """Replace the characters the PBX turns into spaces with look-alikes that survive."""
    return text.translate(_LOOKALIKE_TABLE)


def _digits(value: object) -> str:
    """Keep the digits of a number, to compare the PBX's forms with ours."""
    return "".join(char for char in str(value) if char.isdigit())


def _mask_digits(text: str) -> str:
    """Mask phone numbers inside a body or reason before it reaches a log or an error text."""
    return _LONG_DIGITS.sub(lambda found: f"{found[0][:6]}…{found[0][-3:]}", text)


class WildixProvider(WebInterface, Provider):
    """A Wildix PBX user who sends SMS through the PBX's GSM gateways."""

    key: ClassVar[str] = "wildix"
    target_kinds: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.NUMBER})
    options: ClassVar[frozenset[str]] = frozenset({"postpone", "gsm"})
    # One request carries up to 50 numbers already
    sends_in_parallel: ClassVar[bool] = False

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        url: str,
        auth: WildixAuth,
        gsm: str | None = None,
        max_length: int = DEFAULT_MAX_LENGTH,
        lookalike_chars: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Keep the PBX address, the sender user's login or an API key, and the entry's send settings."""
        super().__init__(session, timeout=timeout)
        self._base = normalize_url(url)
        self._send_url = self._base.joinpath(_SEND_PATH)
        self._info_url = self._base.joinpath(_INFO_PATH)
        self._auth = auth
        self._max_length = max(int(max_length), _MIN_LENGTH)
        self._lookalike_chars = lookalike_chars
        # A stored MAC that does not parse is the entry's problem, reported at send time.
        self._gsm_raw = gsm or None
        try:
            self._gsm = normalize_gsm(gsm) if gsm else None
        except ValueError:
            self._gsm = None

    @classmethod
    def from_config(
        cls, session: aiohttp.ClientSession, config: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT
    ) -> WildixProvider:
        """Build the client from the entry's settings."""
        return cls(
            session,
            url=config[CONF_URL],
            auth=WildixAuth.from_config(config),
            gsm=config.get(CONF_GSM),
            max_length=config.get(CONF_MAX_LENGTH, DEFAULT_MAX_LENGTH),
            # Look-alikes are UCS-2: an entry set to GSM-7 only lets the PBX print those characters as spaces
            lookalike_chars=config.get(CONF_LOOKALIKE_CHARS, True) and not config.get(CONF_GSM_ONLY, False),
            timeout=timeout,
        )

    @property
    def host(self) -> str:
        """Return the PBX's host name or address."""
        return self._base.host or ""

    def identity(self, name: str | None = None) -> AccountInfo:
        """One account is the sender user (personal/info names no PBX serial [assumed]).

        A Company API key belongs to the PBX's company, not to a user: the key itself tells the account.
        """
        if self._auth.login is None:
            return AccountInfo(
                unique_id=f"{self.key}:key:{secret_digest(self._auth.header.removeprefix('Bearer '))}",
                account=f"{self.key}:key",
                title=f"Wildix {name or 'API key'}",
            )
        return AccountInfo(
            unique_id=f"{self.key}:{self._auth.login}".lower(), title=f"Wildix {name or self._auth.login}"
        )

    async def async_validate(self) -> AccountInfo:
        """Read the user's own record (GET personal/info); fall back to a send without number if refused.

        An API key is checked on the send route itself: it is the route its scope must cover, and
        personal/info is a user's record that a company key has none of [assumed].
        """
        if self._auth.kind is AuthKind.API_KEY:
            return await self._async_probe()
        status, body, headers = await self._async_request(
            "GET", str(self._info_url), headers=self._auth.headers, allow_redirects=False
        )
        _LOGGER.debug("Credential check on %s: HTTP %s %s", self.host, status, cut(_mask_digits(body)))
        data = _json(body) or {}
        rule = classify(status, body)
        result = data.get("result")
        if rule.error is None and isinstance(result, dict):
            name = result.get("name") or result.get("extension")
            return self.identity(str(name) if name else None)
        if rule.error in (AuthError, TransientError) or rule.key == "redirected":
            raise self._error(rule, status, body, headers)
        # Not readable for this user, or no such endpoint: a send without number still proves the login.
        return await self._async_probe()

    async def _async_probe(self) -> AccountInfo:
        """POST originate/sms without number: 'Number should not be empty' means the login passed."""
        status, body, headers = await self._async_request(
            "POST",
            str(self._send_url),
            data={"message": _PROBE_TEXT},
            headers=self._auth.headers,
            allow_redirects=False,
        )
        _LOGGER.debug("Credential check by send on %s: HTTP %s %s", self.host, status, cut(_mask_digits(body)))
        rule = classify(status, body)
        reason = str((_json(body) or {}).get("reason") or "").lower()
        if rule.error is None or (rule.key == "target_rejected" and "number" in reason):
            return self.identity()
        err = self._error(rule, status, body, headers)
        if isinstance(err, TargetRejectedError):
            err.key = "unknown"
        raise err

    async def async_send_one(self, sms: OutboundSms, target: Target) -> Receipt:
        """Send the message to one number (async_send batches; this is the single-target form)."""
        receipt = (await self.async_send(sms, [target]))[0]
        if receipt.outcome is Outcome.SENT:
            return receipt
        error: type[ProviderError] = {
            Outcome.TRANSIENT: TransientError,
            Outcome.AUTH: AuthError,
            Outcome.CONFIG: EntryRejectedError,
        }.get(receipt.outcome, TargetRejectedError)
        raise error(receipt.error or "not sent", key=receipt.error_key)

    async def async_send(
        self, sms: OutboundSms, targets: Sequence[Target], proceed: Callable[[], bool] | None = None
    ) -> list[Receipt]:
        """Send to all numbers, up to 50 per request, and return one receipt per target, in order.

        After an error that concerns the whole entry or the PBX's reachability, the remaining
        chunks get the same outcome without a request; so do they once `proceed` says no.
        """
        receipts: list[Receipt | None] = [None] * len(targets)
        numbers: list[tuple[int, Target]] = []
        for index, target in enumerate(targets):
            if target.kind is TargetKind.NUMBER:
                numbers.append((index, target))
            else:
                receipts[index] = Receipt(
                    target=target,
                    outcome=Outcome.TARGET,
                    error=f"the Wildix PBX cannot send to {target.kind} targets",
                    error_key="unsupported_target",
                )
        stop: ProviderError | None = None
        try:
            fields = self._fields(sms)
        except ProviderError as err:
            stop = err
            fields = {}
        parts = self._parts(sms.text)
        for chunk in itertools.batched(numbers, CHUNK_SIZE, strict=False):
            chunk_targets = [target for _, target in chunk]
            if stop is not None:
                chunk_receipts = [error_receipt(target, stop) for target in chunk_targets]
            elif proceed is not None and not proceed():
                chunk_receipts = [not_started(target) for target in chunk_targets]
            else:
                try:
                    chunk_receipts, stop = await self._async_send_chunk(parts, fields, chunk_targets)
                except Exception as err:  # noqa: BLE001 - logged with its traceback; the messages must not be lost
                    stop = self.unexpected_error(err, f"{len(chunk_targets)} number(s)")
                    chunk_receipts = [error_receipt(target, stop) for target in chunk_targets]
            for (index, _), receipt in zip(chunk, chunk_receipts, strict=True):
                receipts[index] = receipt
        return [receipt for receipt in receipts if receipt is not None]

    def _fields(self, sms: OutboundSms) -> dict[str, str]:
        """Build the optional form fields of a send: postpone and gsm."""
        fields: dict[str, str] = {}
        if sms.postpone is not None:
            fields["postpone"] = sms.postpone.strftime("%d/%m/%Y %H:%M")
        if sms.gsm:
            try:
                fields["gsm"] = normalize_gsm(sms.gsm)
            except ValueError as err:
                raise TargetRejectedError(
                    f"GSM gateway {sms.gsm!r} is not a MAC address (12 hex digits)", key="invalid_gsm"
                ) from err
        elif self._gsm is not None:
            fields["gsm"] = self._gsm
        elif self._gsm_raw is not None:
            raise EntryRejectedError(
                f"the entry's GSM gateway {self._gsm_raw!r} is not a MAC address (12 hex digits)", key="invalid_gsm"
            )
        return fields

    def texts_sent(self, text: str) -> list[str]:
        """Return the numbered parts, with look-alikes, that the PBX is given for a message."""
        return self._parts(text)

    def _parts(self, text: str) -> list[str]:
        """Substitute look-alikes (unless turned off), then split into numbered parts that fit max_length.

        The prefix "(1/3) " gets its look-alike too, or the PBX would print "(1 3) ".
        """
        if self._lookalike_chars:
            text = use_lookalikes(text)
        if utf16_len(text) <= self._max_length:
            return [text]
        parts = split_numbered(text, self._max_length)
        return [use_lookalikes(part) for part in parts] if self._lookalike_chars else parts

    async def _async_send_chunk(
        self, parts: list[str], fields: dict[str, str], chunk: list[Target]
    ) -> tuple[list[Receipt], ProviderError | None]:
        """Send every part to one chunk; a number is sent only if each part was taken for it.

        A number the PBX could not queue gets no further parts (the retry sends them all).
        Returns the receipts and the error that stops the remaining chunks, if any.
        """
        failed: dict[int, Receipt] = {}
        for number, part in enumerate(parts, 1):
            alive = [index for index in range(len(chunk)) if index not in failed]
            if not alive:
                break
            batch = [chunk[index] for index in alive]
            try:
                warned = await self._async_post_part(part, fields, batch, f"{number}/{len(parts)}")
            except ProviderError as err:
                for index in alive:
                    failed[index] = error_receipt(chunk[index], err)
                stop = err if err.outcome is not Outcome.TARGET else None
                return self._chunk_receipts(chunk, failed), stop
            for position, warning in warned.items():
                failed[alive[position]] = error_receipt(chunk[alive[position]], warning)
        return self._chunk_receipts(chunk, failed), None

    @staticmethod
    def _chunk_receipts(chunk: list[Target], failed: dict[int, Receipt]) -> list[Receipt]:
        """Receipts of a chunk in order: the failure if any, else sent."""
        return [failed.get(index) or Receipt(target=target, outcome=Outcome.SENT) for index, target in enumerate(chunk)]

    async def _async_post_part(
        self, text: str, fields: dict[str, str], batch: list[Target], part: str
    ) -> dict[int, ProviderError]:
        """POST one text to a batch of numbers; return the numbers (by position) the PBX could not queue.

        Raise when the answer concerns the whole request.
        """
        data = form_body({"number": ",".join(target.value for target in batch), "message": text, **fields})
        limit = SEND_TIME_BASE + SEND_TIME_PER_NUMBER * len(batch)
        status, body, headers = await self._async_request(
            "POST",
            str(self._send_url),
            time_limit=limit,
            data=data,
            headers={**self._auth.headers, **FORM_HEADERS},
            allow_redirects=False,
        )
        _LOGGER.debug(
            "Send part %s to %d numbers (%s): HTTP %s %s",
            part,
            len(batch),
            ", ".join(mask_target(target) for target in batch[:_SHOWN_NUMBERS])
            + (", …" if len(batch) > _SHOWN_NUMBERS else ""),
            status,
            cut(_mask_digits(body)),
        )
        rule = classify(status, body)
        if rule.error is None:
            return {}
        if rule.key != "queue_warning":
            raise self._error(rule, status, body, headers)
        data_out = _json(body) or {}
        result = data_out.get("result")
        listed = {_digits(item) for item in result} if isinstance(result, list) else set()
        matched = [position for position, target in enumerate(batch) if _digits(target.value) in listed]
        reason = self._reason(rule, status, body)
        if not matched or len(matched) < len(listed):
            # None matches, or one listed number matches no target: which targets failed cannot be told,
            # so all are tried again (a duplicate for some is better than one lost)
            matched = list(range(len(batch)))
            reason = _mask_digits(f"{reason} (PBX result: {json.dumps(result)})")
        # A queue warning is retried, but only three times (PROVIDERS.md: then the target is refused)
        return dict.fromkeys(matched, TransientError(reason, key=rule.key, max_attempts=WARNING_TRIES))

    def _error(self, rule: _Rule, status: int, body: str, headers: Mapping[str, str]) -> ProviderError:
        """Build the error a table row names, with the PBX's reason where it gave one."""
        error = rule.error or TargetRejectedError
        reason = self._reason(rule, status, body)
        key = rule.key
        if rule.key == "redirected" and headers.get("Location"):
            reason = f"{reason} ({headers['Location']})"
        if error is AuthError:
            key = self._auth.refusal(status, headers, reason)
            reason = f"{reason} ({AUTH_HINTS[key]})" if key in AUTH_HINTS else reason
        return error(reason, key=key)

    @staticmethod
    def _reason(rule: _Rule, status: int, body: str) -> str:
        """Give the PBX's own reason text, or the row's message with the HTTP status."""
        reason = (_json(body) or {}).get("reason")
        if isinstance(reason, str) and reason.strip() and rule.key != "unexpected_response":
            return cut(reason.strip(), _MAX_REASON_LENGTH)
        return f"HTTP {status}: {rule.message}"

    def normalize_option(self, name: str, value: Any) -> Any:
        """Check a per-send gateway MAC, and that a postponed time is within a year of now, before anything is sent."""
        if name == "postpone" and isinstance(value, dt.datetime):
            when = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
            now = dt.datetime.now(dt.UTC)
            if not now - MAX_POSTPONE <= when <= now + MAX_POSTPONE:
                raise ValueError("a postponed time more than a year from now")
            return value
        return normalize_gsm(value) if name == CONF_GSM else value

    def redacted_view(self) -> dict[str, Any]:
        """Describe the client for diagnostics (no login, no address)."""
        return {
            "provider": self.key,
            "scheme": self._base.scheme,
            "path": self._send_url.path,
            "max_length": self._max_length,
            "lookalike_chars": self._lookalike_chars,
            "auth": str(self._auth.kind),
            "gsm_default": self._gsm_raw is not None,
            "timeout": self._timeout,
        }
