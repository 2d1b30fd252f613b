"""Reading a webhook body defensively: bounded size, depth and fields, and short, rate-limited warnings."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from email.message import Message
from email.parser import BytesParser
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import parse_qsl

# Far above any callback (Home Assistant itself lets a request body reach 16 MB)
MAX_BODY_BYTES = 256 * 1024
# Deepest nesting of a JSON body: a callback is a list of objects of strings (depth 3)
MAX_DEPTH = 32
# Most fields in a form body
MAX_FORM_FIELDS = 50
# One warning per webhook in this many seconds; the ones in between are counted, then named
WARNING_INTERVAL = 60.0
_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"


class _Stream(Protocol):
    """The part of a body stream used here (aiohttp's StreamReader, Home Assistant's MockStreamReader)."""

    async def read(self, n: int = -1, /) -> bytes:
        """Read up to n bytes; b"" at the end."""


class _Request(Protocol):
    """The part of a request used here: aiohttp's Request and the Home Assistant Cloud's MockRequest have it."""

    @property
    def headers(self) -> Any:
        """The request headers."""

    @property
    def content(self) -> _Stream:
        """The body as a stream."""


class BodyError(Exception):
    """A body refused with an HTTP status and a short reason, which never holds the body's own values."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        """Keep the status and the reason."""
        super().__init__(reason)
        self.status = status
        self.reason = reason


def short(value: object, limit: int = 32) -> str:
    """Return a value for a log line: printable, and cut to limit characters."""
    text = ascii(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


async def async_read_body(request: _Request) -> Any:
    """Read a JSON body, or form data as fallback; raise BodyError for what cannot be read."""
    message = Message()
    message["Content-Type"] = request.headers.get("Content-Type", "application/json")
    raw = await _async_read_bounded(request)
    if message.get_content_type() == _MULTIPART:
        return _multipart(message, raw)
    text = _decode(raw, message.get_content_charset("utf-8"))
    if message.get_content_type() == _FORM:
        return _form(text)
    if not text.strip():
        raise BodyError(HTTPStatus.BAD_REQUEST, "empty body")
    try:
        payload = json.loads(text)
    except RecursionError:
        raise BodyError(HTTPStatus.BAD_REQUEST, f"nested deeper than {MAX_DEPTH}") from None
    except ValueError as err:
        raise BodyError(HTTPStatus.BAD_REQUEST, f"not JSON ({type(err).__name__})") from None
    if _depth_over(payload, MAX_DEPTH):
        raise BodyError(HTTPStatus.BAD_REQUEST, f"nested deeper than {MAX_DEPTH}")
    return payload


async def _async_read_bounded(request: _Request) -> bytes:
    """Read the body, refusing it with 413 once it passes MAX_BODY_BYTES (announced or streamed)."""
    length = str(request.headers.get("Content-Length", ""))
    if length.isascii() and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise BodyError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY_BYTES} bytes")
    body = bytearray()
    stream = request.content  # once: MockRequest (a cloudhook call) makes a new stream at each access
    while chunk := await _async_read_chunk(stream, MAX_BODY_BYTES + 1 - len(body)):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BodyError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY_BYTES} bytes")
    return bytes(body)


async def _async_read_chunk(stream: _Stream, size: int) -> bytes:
    """Read up to size bytes of a body; 400 where the stream breaks (a bad chunk or compression)."""
    try:
        return await stream.read(size)
    except Exception as err:  # noqa: BLE001 - aiohttp's payload errors come in many classes
        raise BodyError(HTTPStatus.BAD_REQUEST, f"body unreadable ({type(err).__name__})") from None


def _decode(raw: bytes, charset: str) -> str:
    """Decode a body in its charset: 415 for a charset Python has no text codec for, 400 for bad bytes."""
    try:
        return raw.decode(charset)
    except LookupError:
        raise BodyError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"unknown charset {short(charset)}") from None
    except ValueError as err:  # UnicodeDecodeError and the like
        raise BodyError(HTTPStatus.BAD_REQUEST, f"not {short(charset)} text ({type(err).__name__})") from None


def _form(text: str) -> dict[str, str]:
    """Read a form body; 400 for too many fields."""
    try:
        return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS))
    except ValueError:
        raise BodyError(HTTPStatus.BAD_REQUEST, f"form of more than {MAX_FORM_FIELDS} fields") from None


def _multipart(message: Message, raw: bytes) -> dict[str, str]:
    """Read a multipart form body with the standard library's lenient MIME parser."""
    head = f"Content-Type: {message['Content-Type']}\r\n\r\n".encode("ascii", "replace")
    parts = BytesParser().parsebytes(head + raw).get_payload()
    if not isinstance(parts, list):
        raise BodyError(HTTPStatus.BAD_REQUEST, "multipart body without parts")
    if len(parts) > MAX_FORM_FIELDS:
        raise BodyError(HTTPStatus.BAD_REQUEST, f"form of more than {MAX_FORM_FIELDS} fields")
    fields: dict[str, str] = {}
    for part in parts:
        if not isinstance(part, Message):
            continue
        name = part.get_param("name", header="content-disposition")
        content = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(content, bytes):
            fields[name] = _decode(content, part.get_content_charset("utf-8"))
    return fields


def _depth_over(payload: Any, limit: int) -> bool:
    """Tell whether parsed JSON nests deeper than limit, without recursion."""
    stack: list[tuple[Any, int]] = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in value)
    return False


class WarningLimiter:
    """Log one warning per interval; the rest go to debug and are counted into the next warning."""

    def __init__(
        self, logger: logging.Logger, interval: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Start with nothing warned about; the interval is WARNING_INTERVAL unless given."""
        self._logger = logger
        self._interval = WARNING_INTERVAL if interval is None else interval
        self._clock = clock
        self._last: float | None = None
        self._held = 0

    def warning(self, text: str, *args: object) -> None:
        """Log a warning, or a debug line while a warning was given less than an interval ago."""
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            self._held += 1
            self._logger.debug(text, *args)
            return
        if self._held:
            text = f"{text} (and {self._held} more since the last warning, in the debug log)"
        self._logger.warning(text, *args)
        self._last = now
        self._held = 0
