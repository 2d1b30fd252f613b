"""Provider interface, targets, results and the error tree shared by every SMS provider."""

from __future__ import annotations

import abc
import asyncio
import datetime as dt
import hashlib
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus
from typing import Any, ClassVar, Final
from urllib.parse import quote_plus

import aiohttp
from yarl import URL

from . import tls

_LOGGER = logging.getLogger(__package__)
# How many distinct unexpected errors a client remembers having logged with their traceback
MAX_BUGS_REMEMBERED = 20

DEFAULT_TIMEOUT = 30.0
BODY_LOG_LIMIT = 500
_MIN_MASKED_LENGTH = 9
FORM_HEADERS: Final = {"Content-Type": "application/x-www-form-urlencoded"}
# Entry option of the providers that take one number per request: requests an entry may have in flight at once
CONF_PARALLEL_REQUESTS: Final = "parallel_requests"
DEFAULT_PARALLEL_REQUESTS: Final = 1
MAX_PARALLEL_REQUESTS: Final = 8


def parallel_requests(config: Mapping[str, Any]) -> int:
    """Read the parallel_requests option: a whole number from 1 to MAX_PARALLEL_REQUESTS, 1 when unset."""
    value = int(config.get(CONF_PARALLEL_REQUESTS) or DEFAULT_PARALLEL_REQUESTS)
    return min(max(value, 1), MAX_PARALLEL_REQUESTS)


# What quote_plus leaves as it is: a value made only of these needs no quoting
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")


def _plus(value: str) -> str:
    """Quote one name or value as urlencode does (UTF-8, spaces as +), skipping the work for plain ones."""
    return value if _PLAIN.fullmatch(value) else quote_plus(value)


def form_body(fields: Mapping[str, str]) -> bytes:
    """Form-encode fields as aiohttp's FormData and urlencode do, without building a FormData per request."""
    return "&".join(f"{_plus(name)}={_plus(value)}" for name, value in fields.items()).encode()


class TargetKind(StrEnum):
    """The forms a target can take."""

    NUMBER = "number"
    GROUP = "group"
    CONTACT = "contact"
    EXTENSION = "ext"


@dataclass(frozen=True, kw_only=True, slots=True)
class Target:
    """A resolved recipient: an E.164 number, or a named group, contact or extension."""

    kind: TargetKind
    value: str

    def __str__(self) -> str:
        """Return the form users write (numbers as E.164, others with their prefix)."""
        if self.kind is TargetKind.NUMBER:
            return self.value
        return f"{self.kind}:{self.value}"


@dataclass(frozen=True, kw_only=True)
class OutboundSms:
    """One prepared message and the provider options asked for (each provider uses its own)."""

    text: str
    telegram: bool = False
    telegram_only: bool = False
    ring: bool = False
    flash: bool = False
    # Delivery time, already in the local time zone of Home Assistant
    postpone: dt.datetime | None = None
    gsm: str | None = None


class Outcome(StrEnum):
    """The result classes every provider response maps onto."""

    SENT = "sent"
    TRANSIENT = "transient"
    TARGET = "target"
    AUTH = "auth"
    CONFIG = "config"


@dataclass(frozen=True, kw_only=True)
class Receipt:
    """What became of one target of a send."""

    target: Target
    outcome: Outcome
    error: str | None = None
    error_key: str | None = None
    message_id: str | None = None
    retry_after: float | None = None
    # A transient answer the provider gives for a refusal it cannot name: tried this often at most
    max_attempts: int | None = None


@dataclass(frozen=True, kw_only=True)
class AccountInfo:
    """What a credential check learned about the account."""

    # Never the address: a device reached at a new address stays the same entry
    unique_id: str
    title: str
    # What the check learned that the entry should keep (e.g. which API a device offers)
    data: Mapping[str, Any] = field(default_factory=dict)
    # The account without its secret, where the secret is part of unique_id (a new key, the same account)
    account: str = ""

    @property
    def account_id(self) -> str:
        """Return the account without its secret: `account` where set, else the unique id."""
        return self.account or self.unique_id


@dataclass(frozen=True, slots=True)
class Hardware:
    """What a device says it is; a part it does not tell is None."""

    manufacturer: str | None = None
    model: str | None = None
    sw_version: str | None = None


class WebInterface:
    """A device whose web interface is at the base of its API address (`_base`): the gateway's, a PBX's."""

    _base: URL

    def web_page(self) -> str:
        """Return the device's web interface: its address without the API's path and without a login in it."""
        return str(self._base.with_user(None)).rstrip("/")


class ProviderError(Exception):
    """A provider refused or could not take a request; the message never holds a secret."""

    outcome: ClassVar[Outcome] = Outcome.TARGET
    default_key: ClassVar[str] = "unknown"

    def __init__(self, message: str, *, key: str | None = None) -> None:
        """Keep the reason text and a key naming the cause (flow error and translation key)."""
        super().__init__(message)
        self.reason = message
        self.key = key or self.default_key


class TransientError(ProviderError):
    """Unreachable or busy: the same request may work later."""

    outcome = Outcome.TRANSIENT
    default_key = "cannot_connect"

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        retry_after: float | None = None,
        max_attempts: int | None = None,
    ) -> None:
        """Add the delay the provider asked for and how often such an answer may be retried, if known."""
        super().__init__(message, key=key)
        self.retry_after = retry_after
        self.max_attempts = max_attempts


class TargetRejectedError(ProviderError):
    """The recipient cannot be served."""

    outcome = Outcome.TARGET
    default_key = "target_rejected"


class AuthError(ProviderError):
    """The credentials were refused."""

    outcome = Outcome.AUTH
    default_key = "invalid_auth"


class EntryRejectedError(ProviderError):
    """The account or device is set up so that nothing can be sent."""

    outcome = Outcome.CONFIG
    default_key = "entry_rejected"


class TlsError(EntryRejectedError):
    """The TLS connection failed; `case` tells why (a form error key), the reason says what to do.

    The key stays that of the repair issue for any TLS failure (ssl_error), or weak_tls where the
    entry can allow older encryption.
    """

    def __init__(self, case: str) -> None:
        """Keep the case and give its advice as the reason."""
        super().__init__(tls.ADVICE[case], key=tls.WEAK if case == tls.WEAK else tls.UNTRUSTED)
        self.case = case


class Provider(abc.ABC):
    """One SMS provider account: checks credentials and sends prepared messages."""

    key: ClassVar[str]
    target_kinds: ClassVar[frozenset[TargetKind]]
    options: ClassVar[frozenset[str]]
    # True where each request takes one target, so that several requests may run at once (parallel_requests)
    sends_in_parallel: ClassVar[bool] = True
    # Whether the provider reports deliveries later (a FAILED report then counts as a failed send)
    reports_delivery: ClassVar[bool] = False
    # Whether the entry offers "Allow older encryption": a refused handshake then names that option
    weak_tls_option: ClassVar[bool] = False

    def __init__(self, session: aiohttp.ClientSession, *, timeout: float = DEFAULT_TIMEOUT, parallel: int = 1) -> None:
        """Take the shared HTTP session; the caller decides on TLS verification."""
        self._session = session
        self._timeout = timeout
        self.parallel = max(parallel, 1)
        # Unexpected errors whose traceback was logged already, by type and message
        self._bugs_logged: set[str] = set()

    @classmethod
    @abc.abstractmethod
    def from_config(
        cls, session: aiohttp.ClientSession, config: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT
    ) -> Provider:
        """Build the client from the entry's settings."""

    @classmethod
    def receives_replies(cls, config: Mapping[str, Any]) -> bool:
        """Tell whether replies to the SMS an entry with these settings sends reach Home Assistant."""
        return False

    @abc.abstractmethod
    def identity(self) -> AccountInfo:
        """Name the account from the settings alone, without asking the provider."""

    def hardware(self) -> Hardware | None:
        """Return what the device told of itself (maker, model, firmware); None until it has, or where it cannot."""
        return None

    def web_page(self) -> str | None:
        """Return the address of the device's own web interface, where it has one (never with a login in it)."""
        return None

    @abc.abstractmethod
    async def async_validate(self) -> AccountInfo:
        """Check the credentials without sending an SMS; raise a ProviderError if they fail."""

    @abc.abstractmethod
    async def async_send_one(self, sms: OutboundSms, target: Target) -> Receipt:
        """Send the message to one target; raise a ProviderError if it is not taken."""

    async def async_send(
        self, sms: OutboundSms, targets: Sequence[Target], proceed: Callable[[], bool] | None = None
    ) -> list[Receipt]:
        """Send to every target and return one receipt per target, in order.

        `proceed` is asked before each request: once it says no, the targets not yet started get a
        transient receipt without a request (`not_started`), so a sender that stopped makes no more.

        Up to `parallel` requests run at once, each taking the next target in order. After an
        error that concerns the whole entry or the provider's reachability, the targets not yet
        started get the same outcome without a request: the device is down or refuses us, and
        asking again for each recipient would only cost time. Requests already under way finish.
        An unexpected error (a bug) is logged and counts as transient: that target and those not yet
        started are kept for another try, and the requests under way finish.
        """
        batch = _Batch(self, sms, targets, proceed)
        workers = min(self.parallel, len(targets))
        if workers <= 1:
            await batch.async_work()
        else:
            results = await asyncio.gather(*(batch.async_work() for _ in range(workers)), return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        return batch.receipts()

    def texts_sent(self, text: str) -> list[str]:
        """Return the texts the device sends for a message: the text as it is, unless a provider changes it.

        A provider that substitutes characters or splits long texts itself says so here, so that the
        encoding and SMS parts reported for a send are those of what actually goes out.
        """
        return [text]

    def normalize_option(self, name: str, value: Any) -> Any:
        """Check and normalise a per-send option the provider supports; raise ValueError if it is invalid."""
        return value

    @abc.abstractmethod
    def redacted_view(self) -> dict[str, Any]:
        """Describe the client for diagnostics, without secrets."""

    def unexpected_error(self, err: Exception, sending_to: str) -> TransientError:
        """Log an unexpected error (a bug, here or in a library below) and turn it into a transient one.

        The message is then kept for another try, as one that found the device down: it still reaches
        its fallback or ends in sms_alerts_failed, never lost with the traceback. The traceback is
        logged the first time; the same error again, at every retry, gets one line.
        """
        kind = f"{type(err).__name__}: {err}"
        if kind in self._bugs_logged:
            _LOGGER.error(
                "Unexpected error while sending to %s (%s, as before); the message is kept for another try",
                sending_to,
                kind,
            )
        else:
            if len(self._bugs_logged) < MAX_BUGS_REMEMBERED:
                self._bugs_logged.add(kind)
            _LOGGER.error(
                "Unexpected error while sending to %s; the message is kept for another try", sending_to, exc_info=err
            )
        return TransientError(f"unexpected error ({type(err).__name__})", key="unexpected_error")

    async def _async_request(
        self, method: str, url: str | URL, *, time_limit: float | None = None, **kwargs: Any
    ) -> tuple[int, str, Mapping[str, str]]:
        """Make one HTTP request and return status, body text and headers; transport failures are typed.

        Redirects are never followed: aiohttp would fetch a 301/302 target without the form (whose web
        page answers 200, which must not count as sent) and post a 307/308 one's body, login and all, to
        wherever it points. A client that passes `allow_redirects=False` itself reads the 3xx; for the
        others it is refused here, for the whole entry.

        A URL may carry a secret in its query string (PBXware's documented `?apikey=`). aiohttp's errors
        name the URL, so the error raised here never chains them for such a URL, and a redirect's
        `Location` is shown without its query.
        """
        limit = self._timeout if time_limit is None else time_limit
        own_redirects = "allow_redirects" in kwargs
        kwargs["allow_redirects"] = False
        secret_url = bool(URL(url).query_string) if isinstance(url, str) else bool(url.query_string)
        try:
            async with asyncio.timeout(limit):
                async with self._session.request(method, url, **kwargs) as resp:
                    try:
                        body = await resp.text(errors="replace")
                    except LookupError:
                        # A charset that names no text codec (`base64`, `zlib`, one Python lacks): read as UTF-8
                        body = (await resp.read()).decode("utf-8", errors="replace")
                    status, headers = resp.status, resp.headers
        except aiohttp.ClientSSLError as err:  # a certificate refused, too
            raise TlsError(tls.tls_case(err, weak_option=self.weak_tls_option)) from _cause(err, secret_url)
        except TimeoutError as err:
            raise TransientError(
                f"no answer within {limit:g} s (the message may have been taken: a duplicate is possible)",
                key="timeout",
            ) from _cause(err, secret_url)
        except aiohttp.ClientError as err:
            raise TransientError(f"cannot reach the device ({type(err).__name__})") from _cause(err, secret_url)
        except (ValueError, TypeError) as err:
            if not secret_url:
                raise
            # A library's own error would print the URL in its text and traceback: raise it without either
            raise RuntimeError(f"{type(err).__name__} while requesting the device (details withheld)") from None
        if HTTPStatus.MULTIPLE_CHOICES <= status < HTTPStatus.BAD_REQUEST and not own_redirects:
            where = without_query(headers.get("Location", ""))
            raise EntryRejectedError(
                f"the device redirects this address elsewhere{f' ({cut(where, 200)})' if where else ''}: "
                "enter the address it redirects to",
                key="redirected",
            )
        return status, body, headers


def _cause(err: BaseException, secret_url: bool) -> BaseException | None:
    """Return the error to chain, or None where its text could show a secret of the URL."""
    return None if secret_url else err


def without_query(location: str) -> str:
    """Drop the query string and fragment of an address, where secrets travel (e.g. a redirect's Location)."""
    return location.split("?", 1)[0].split("#", 1)[0]


def error_receipt(target: Target, err: ProviderError) -> Receipt:
    """Turn a provider error into the receipt of one target."""
    transient = err if isinstance(err, TransientError) else None
    return Receipt(
        target=target,
        outcome=err.outcome,
        error=err.reason,
        error_key=err.key,
        retry_after=transient.retry_after if transient else None,
        max_attempts=transient.max_attempts if transient else None,
    )


class _Batch:
    """One message to several targets: workers take the next target in turn and share what stops the rest."""

    def __init__(
        self, provider: Provider, sms: OutboundSms, targets: Sequence[Target], proceed: Callable[[], bool] | None
    ) -> None:
        """Start with no receipts."""
        self._provider = provider
        self._proceed = proceed
        self._sms = sms
        self._pending = iter(enumerate(targets))
        self._receipts: list[Receipt | None] = [None] * len(targets)
        self._stop: ProviderError | None = None

    async def async_work(self) -> None:
        """Send to the next target until none is left; after an error for the whole entry, answer the rest alike."""
        for index, target in self._pending:
            if self._stop is not None:
                self._receipts[index] = error_receipt(target, self._stop)
                continue
            if self._proceed is not None and not self._proceed():
                self._receipts[index] = not_started(target)
                continue
            try:
                self._receipts[index] = await self._provider.async_send_one(self._sms, target)
            except ProviderError as err:
                self._receipts[index] = error_receipt(target, err)
                if err.outcome is not Outcome.TARGET and self._stop is None:
                    self._stop = err
            except Exception as err:  # noqa: BLE001 - logged with its traceback; the message must not be lost
                error = self._provider.unexpected_error(err, mask_target(target))
                self._receipts[index] = error_receipt(target, error)
                if self._stop is None:
                    self._stop = error

    def receipts(self) -> list[Receipt]:
        """Return the receipts in the order of the targets."""
        return [receipt for receipt in self._receipts if receipt is not None]


def not_started(target: Target) -> Receipt:
    """Return the receipt of a target whose request was not made because the sender stopped: try it again."""
    return Receipt(
        target=target, outcome=Outcome.TRANSIENT, error="not sent: the sender stopped", error_key="not_started"
    )


def web_url(raw: str) -> URL:
    """Read an address as typed (https when no scheme is given); raise ValueError unless it is http(s) with a host."""
    text = raw.strip()
    url = URL(text if "://" in text else f"https://{text}")
    if not url.host or url.scheme not in ("http", "https"):
        raise ValueError(raw)
    return url


def base_url(raw: str, strip: Callable[[str], str]) -> URL:
    """Turn a typed address into a device's base URL: `strip` removes the API part of the path users paste."""
    url = web_url(raw)
    return url.with_path(strip(url.path).rstrip("/") or "/").with_query(None).with_fragment(None)


def netloc(url: URL) -> str:
    """Host, with the port only where it is not the scheme's default: how an account's address is named."""
    return url.host or "" if url.is_default_port() else f"{url.host}:{url.port}"


def secret_digest(secret: str) -> str:
    """Name an account that only its key tells apart: 16 hex digits of the key's SHA-256, never the key."""
    return hashlib.sha256(secret.strip().encode()).hexdigest()[:16]


def cut(text: str, limit: int = BODY_LOG_LIMIT) -> str:
    """Shorten a response body for a debug log."""
    return text if len(text) <= limit else f"{text[:limit]}…"


def mask_target(target: Target | str) -> str:
    """Mask a phone number for logs (+39333…567); other targets pass unchanged."""
    value = str(target)
    if not value.startswith("+") or len(value) < _MIN_MASKED_LENGTH:
        return value
    return f"{value[:6]}…{value[-3:]}"
