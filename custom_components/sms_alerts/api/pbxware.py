"""Bicom PBXware: numbers through the action API, extensions through the SMS notifications endpoint.

The action API takes its parameters, the API key included, in the query string of a GET to
`<pbx>/index.php`: the form the vendor's SMS Notifications page ("passed via query string (GET or
POST)"), its API documentation (`GET /?apikey=…&action=…`) and its official Postman collection (every
request a GET with a query string) use. A PBX that reads only the query string refuses a key sent in a
POST body with "Invalid API key". The key is therefore in the URL: it is never logged, and the errors
raised for a failed request never carry aiohttp's (which name the URL).
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp
from yarl import URL

from .answers import parse_json, raw_decode
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
    WebInterface,
    base_url,
    cut,
    form_body,
    mask_target,
    parallel_requests,
    secret_digest,
)
from .text import split_numbered, utf16_len

_LOGGER = logging.getLogger(__name__)

CONF_URL = "url"
CONF_API_KEY = "api_key"
CONF_SERVER = "server"

ACTION_SEND = "pbxware.sms.send_message"
ACTION_EXT_LIST = "pbxware.ext.list"
ACTION_LICENSE = "pbxware.license.info"
ACTION_PATH = "index.php"
EXTENSION_PATH = "api/sms/notifications/voicemail"

KEY_NO_PERMISSION = "no_api_permission"
KEY_UNEXPECTED = "unexpected_response"

# The whole request line stays below the 8 KB web servers take by default (Apache's LimitRequestLine is
# 8,190 bytes, nginx's large_client_header_buffers 8 KB): the query string gets 7,000 of them [assumed]
MAX_QUERY_BYTES = 7000
# A number as long as E.164 allows, for measuring a send's query before the target is known
_LONGEST_NUMBER = "+123456789012345"
# Each try cuts the parts this much shorter until every part's query fits
_SHRINK = 0.8
# Parts are never cut shorter than one UCS-2 SMS (its query is under 1 KB whatever the text)
_SMALLEST_PART = 70

# Longer error texts are pages, not PBXware's one-line reasons
_MAX_REASON_LENGTH = 200
# How many '{' after a PHP notice are tried as the start of the JSON answer
_MAX_JSON_STARTS = 20

# PHP's notices and warnings as html_errors prints them (and the plain-text form), before or after the JSON
_PHP_MESSAGE = re.compile(
    r"(?:<br\s*/?>\s*)?(?:PHP\s+)?(?:<b>)?(?:Notice|Warning|Deprecated|Strict Standards)(?:</b>)?:"
    r".*?on line\s*(?:<b>)?\d+(?:</b>)?(?:\s*<br\s*/?>)?",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """What one PBXware answer means: sent (no error), or the error to raise."""

    error: ProviderError | None = None
    message_id: str | None = None

    @property
    def key(self) -> str | None:
        """Return the error's key, or None when the message was sent."""
        return None if self.error is None else self.error.key


@dataclass(frozen=True, kw_only=True)
class _TextRule:
    """One row of the error table: any of these words in the `error` text -> error class and key."""

    words: tuple[str, ...]
    error: type[ProviderError]
    key: str
    reason: str | None = None  # replaces the PBX's own text when set


# Texts from the vendor's SMS Notifications page (seed 004), matched in lower case anywhere in `error`,
# so wrapped forms like "Action sms_message returned with error: ERR: SMS not enabled for this tenant: " match.
_ERROR_TEXTS: tuple[_TextRule, ...] = (
    _TextRule(
        words=("invalid api key",),
        error=AuthError,
        key="invalid_auth",
        reason=(
            "Invalid API key (PBXware also refuses a key suspended after inactivity, "
            "or a request from an address outside the key's IP allow-list)"
        ),
    ),
    _TextRule(words=("sms api is disabled",), error=EntryRejectedError, key="sms_api_disabled"),
    _TextRule(words=("sms not enabled for this tenant",), error=EntryRejectedError, key="sms_not_enabled"),
    _TextRule(words=("invalid or missing sender sms number",), error=EntryRejectedError, key="invalid_sender"),
    _TextRule(
        words=("destination does not have an assigned sms number",), error=TargetRejectedError, key="no_sms_number"
    ),
    # The text for a key without the right is undocumented: match the usual words [assumed]
    _TextRule(words=("permission", "not allowed", "denied"), error=EntryRejectedError, key=KEY_NO_PERMISSION),
)
# Any other `error` ends the operation for this recipient, with the PBX's text
_OTHER_ERROR = _TextRule(words=(), error=TargetRejectedError, key="target_rejected")


@dataclass(frozen=True, kw_only=True)
class _StatusRule:
    """One row of the status table: HTTP statuses (on the extension endpoint only, if set) -> error class."""

    status: range
    error: type[ProviderError]
    key: str
    reason: str
    extension_only: bool = False


# `success` values of an answer that did not succeed (other actions answer {"success": ..., "id": ...})
_NOT_SUCCESS = frozenset({"false", "0", "none", ""})
# Before the body is read: a server in trouble may answer anything, and retrying loses nothing.
_SERVER_ERROR = _StatusRule(
    status=range(500, 600), error=TransientError, key="server_error", reason="HTTP {status} from the PBX"
)
# After the known error texts, before any other error text.
_STATUS_RULES: tuple[_StatusRule, ...] = (
    _StatusRule(
        status=range(404, 406),
        extension_only=True,
        error=TargetRejectedError,
        key="no_extension_endpoint",
        reason="this PBX has no extension SMS endpoint",
    ),
    _StatusRule(status=range(401, 402), error=AuthError, key="invalid_auth", reason="HTTP {status}: API key refused"),
    _StatusRule(status=range(403, 404), error=AuthError, key="invalid_auth", reason="HTTP {status}: API key refused"),
    # A request timeout or a rate limit: busy for now, as every other provider takes them
    _StatusRule(
        status=range(408, 409), error=TransientError, key="server_busy", reason="HTTP {status}: the PBX is busy"
    ),
    _StatusRule(
        status=range(429, 430), error=TransientError, key="server_busy", reason="HTTP {status}: the PBX is busy"
    ),
)


def parse_payload(body: str) -> Any:
    """Read the JSON answer, skipping PHP notices and warnings around it; None if there is none."""
    text = body.strip()
    try:
        return parse_json(text)
    except ValueError:
        pass
    if not _PHP_MESSAGE.search(text):
        return None
    rest = _PHP_MESSAGE.sub("", text).strip()
    try:
        return parse_json(rest)
    except ValueError:
        pass
    # Other output is left around the JSON: take the first complete object
    decoder = json.JSONDecoder()
    start = rest.find("{")
    for _ in range(_MAX_JSON_STARTS):
        if start < 0:
            break
        try:
            found = raw_decode(decoder, rest, start)
        except ValueError:
            found = None
        if isinstance(found, dict):
            return found
        start = rest.find("{", start + 1)
    return None


def error_text(payload: Any) -> str | None:
    """Return the `error` of an answer, or None when it has none (an empty or null `error` is none)."""
    if not isinstance(payload, dict):
        return None
    value = payload.get("error")
    if value is None or value is False:
        return None
    text = str(value).strip()
    return text or None


def classify(status: int, body: str, *, extension: bool = False, sending: bool = False) -> Verdict:
    """Turn an HTTP answer into a verdict; `extension` marks the JSON notifications endpoint.

    `sending` marks the answer to a send, which must be a JSON object not saying `success: false`
    (a listing of extensions may be `[]`).
    """
    if status in _SERVER_ERROR.status:
        return Verdict(error=_status_error(_SERVER_ERROR, status))
    payload = parse_payload(body)
    error = _refusal(status, payload, extension=extension)
    if error is None and sending and not _succeeded(payload):
        # Nothing says the PBX took the message
        error = TargetRejectedError("unexpected response from the PBX", key=KEY_UNEXPECTED)
    if error is not None:
        return Verdict(error=error)
    message_id = payload.get("id") if isinstance(payload, dict) else None
    return Verdict(message_id=None if message_id is None else str(message_id))


def _refusal(status: int, payload: Any, *, extension: bool) -> ProviderError | None:
    """Find the error in an answer: known texts first, then the status, then any other text."""
    text = error_text(payload)
    rule = _OTHER_ERROR if text is None else _match_text(text)
    if text is not None and rule is not _OTHER_ERROR:
        return rule.error(rule.reason or _reason(text), key=rule.key)
    for status_rule in _STATUS_RULES:
        if status in status_rule.status and (extension or not status_rule.extension_only):
            return _status_error(status_rule, status)
    if text is not None:
        return _OTHER_ERROR.error(_reason(text), key=_OTHER_ERROR.key)
    if not 200 <= status < 300:  # noqa: PLR2004 - the 2xx range
        return TargetRejectedError(f"unexpected HTTP {status} from the PBX", key=KEY_UNEXPECTED)
    if payload is None:
        return TargetRejectedError("unexpected response from the PBX", key=KEY_UNEXPECTED)
    return None


def _succeeded(payload: Any) -> bool:
    """Tell whether the answer to a send is a JSON object that does not say it failed."""
    return isinstance(payload, dict) and str(payload.get("success", True)).lower() not in _NOT_SUCCESS


def _match_text(text: str) -> _TextRule:
    """Find the table row for an error text."""
    lowered = text.lower()
    for rule in _ERROR_TEXTS:
        if any(word in lowered for word in rule.words):
            return rule
    return _OTHER_ERROR


def _status_error(rule: _StatusRule, status: int) -> ProviderError:
    """Build the error of a status row."""
    return rule.error(rule.reason.format(status=status), key=rule.key)


def _reason(text: str) -> str:
    """Give the PBX's own error text, shortened if it is long."""
    return text if len(text) <= _MAX_REASON_LENGTH else f"{text[:_MAX_REASON_LENGTH]}…"


def encode_body(text: str) -> str:
    """Encode the text as the action API wants it: standard Base64 of UTF-8, with padding."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def normalize_url(raw: str) -> URL:
    """Turn what the user typed (an address, with or without scheme or index.php) into the base URL."""
    return base_url(raw, lambda path: path.rstrip("/").removesuffix(f"/{ACTION_PATH}"))


class PbxwareProvider(WebInterface, Provider):
    """One tenant of a Bicom PBXware server, reached with an API key."""

    key: ClassVar[str] = "pbxware"
    target_kinds: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.NUMBER, TargetKind.EXTENSION})
    options: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        url: str,
        api_key: str,
        server: str,
        timeout: float = DEFAULT_TIMEOUT,
        parallel: int = 1,
    ) -> None:
        """Keep the PBX address, the API key and the tenant id."""
        super().__init__(session, timeout=timeout, parallel=parallel)
        self._base = normalize_url(url)
        self._action_url = self._base.joinpath(ACTION_PATH)
        self._extension_url = self._base.joinpath(EXTENSION_PATH)
        self._api_key = api_key
        self._server = str(server).strip()

    @classmethod
    def from_config(
        cls, session: aiohttp.ClientSession, config: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT
    ) -> PbxwareProvider:
        """Build the client from the entry's settings."""
        return cls(
            session,
            url=config[CONF_URL],
            api_key=config[CONF_API_KEY],
            server=str(config[CONF_SERVER]),
            timeout=timeout,
            parallel=parallel_requests(config),
        )

    @property
    def host(self) -> str:
        """Return the PBX's host name or address."""
        return self._base.host or ""

    async def async_validate(self) -> AccountInfo:
        """List the tenant's extensions, or read the license: a permission error still proves the key."""
        verdict = await self._async_action(ACTION_EXT_LIST, {"server": self._server})
        if verdict.key == KEY_NO_PERMISSION:
            verdict = await self._async_action(ACTION_LICENSE, {})
        if verdict.key == KEY_NO_PERMISSION:
            _LOGGER.info(
                "The PBXware API key on %s may call neither %s nor %s: it is valid, but limited; "
                "missing SMS rights or settings will show at the first send",
                self.host,
                ACTION_EXT_LIST,
                ACTION_LICENSE,
            )
            return self.identity()
        if verdict.error is not None:
            raise verdict.error
        return self.identity()

    def identity(self) -> AccountInfo:
        """One account is one tenant reached with one API key (no serial in ext.list or license.info [assumed]).

        The key tells two PBXs apart whose tenant ids are the same (1 on single-tenant editions).
        """
        account = f"{self.key}:{self._server}".lower()
        return AccountInfo(
            unique_id=f"{account}:{secret_digest(self._api_key)}",
            account=account,
            title=f"PBXware tenant {self._server}",
        )

    async def async_send_one(self, sms: OutboundSms, target: Target) -> Receipt:
        """Send to a number through the action API, or to an extension through the notifications endpoint.

        A text too long for one request's query string goes out as numbered parts, in order; a part
        refused stops the rest, and a retry sends them all again (a duplicate rather than a loss).
        """
        if target.kind not in (TargetKind.NUMBER, TargetKind.EXTENSION):
            raise TargetRejectedError(f"PBXware cannot send to {target.kind} targets", key="unsupported_target")
        message_id: str | None = None
        for part in self.texts_sent(sms.text):
            if target.kind is TargetKind.NUMBER:
                fields = {"server": self._server, "to_number": target.value, "body": encode_body(part)}
                verdict = await self._async_action(ACTION_SEND, fields, target=target)
            else:
                verdict = await self._async_extension(target, part)
            if verdict.error is not None:
                raise verdict.error
            message_id = message_id or verdict.message_id
        return Receipt(target=target, outcome=Outcome.SENT, message_id=message_id)

    def texts_sent(self, text: str) -> list[str]:
        """Return the text whole where its request fits in a URL, else numbered parts that each fit."""
        if self._send_query_fits(text):
            return [text]
        limit = utf16_len(text)
        while True:
            limit = max(int(limit * _SHRINK), _SMALLEST_PART)
            parts = split_numbered(text, limit)
            if limit == _SMALLEST_PART or all(self._send_query_fits(part) for part in parts):
                return parts

    def _send_query_fits(self, text: str) -> bool:
        """Tell whether a send of this text has a query string of at most MAX_QUERY_BYTES."""
        fields = {"server": self._server, "to_number": _LONGEST_NUMBER, "body": encode_body(text)}
        return len(self._query(ACTION_SEND, fields)) <= MAX_QUERY_BYTES

    def _query(self, action: str, fields: Mapping[str, str]) -> bytes:
        """Form-encode the action's parameters, the key first, as the vendor's examples write them."""
        return form_body({"apikey": self._api_key, "action": action, **fields})

    async def _async_action(self, action: str, fields: dict[str, str], *, target: Target | None = None) -> Verdict:
        """GET one action, every parameter in the query string as documented, and classify the answer."""
        url = URL(f"{self._action_url}?{self._query(action, fields).decode()}", encoded=True)
        status, body, _ = await self._async_request("GET", url)
        verdict = classify(status, body, sending=target is not None)
        if target is not None:
            _LOGGER.debug("PBXware %s for %s: HTTP %s %s", action, mask_target(target), status, cut(body))
        else:
            # A listing names extensions, people and their numbers: log only what went wrong
            shown = cut(body) if verdict.error is not None else "(answer without error)"
            _LOGGER.debug("PBXware %s: HTTP %s %s", action, status, shown)
        return verdict

    async def _async_extension(self, target: Target, text: str) -> Verdict:
        """POST one notification to an extension's SMS number, the key in the X-API-Key header."""
        headers = {"X-API-Key": self._api_key, "Content-Type": "application/json"}
        payload = json.dumps({"extension": target.value, "message": text}).encode()
        status, body, _ = await self._async_request("POST", str(self._extension_url), data=payload, headers=headers)
        _LOGGER.debug("PBXware notification to %s: HTTP %s %s", target, status, cut(body))
        return classify(status, body, extension=True, sending=True)

    def redacted_view(self) -> dict[str, Any]:
        """Describe the client for diagnostics."""
        return {
            "provider": self.key,
            "scheme": self._base.scheme,
            "path": self._base.path,
            "timeout": self._timeout,
        }
