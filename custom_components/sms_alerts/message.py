"""Targets, title folding, GSM-7 or UCS-2, and SMS parts; imports nothing from Home Assistant."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import gsm0338  # noqa: F401 - registers the "gsm03.38" codec
import phonenumbers

from .api.base import Target, TargetKind

_LOGGER = logging.getLogger(__name__)

GSM_SINGLE = 160
GSM_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67
# A generous bound on what one alert may hold: about 30 SMS parts of plain text.
MAX_MESSAGE_LENGTH = 4590
# Characters past the Basic Multilingual Plane take a surrogate pair in UTF-16
_BMP_LAST = 0xFFFF

_NUMBER_NOISE = re.compile(r"[\s.\-()/\[\]]")
_PREFIXES: dict[str, TargetKind] = {
    "group": TargetKind.GROUP,
    "contact": TargetKind.CONTACT,
    "ext": TargetKind.EXTENSION,
}


class MessageError(ValueError):
    """Bad input: a key naming the problem and the values its text needs."""

    def __init__(self, key: str, **placeholders: str) -> None:
        """Keep the translation key and its placeholders."""
        super().__init__(key)
        self.key = key
        self.placeholders = placeholders


class Encoding(StrEnum):
    """The two SMS alphabets."""

    GSM7 = "gsm7"
    UCS2 = "ucs2"


@dataclass(frozen=True, kw_only=True)
class SmsInfo:
    """How a text travels as SMS."""

    encoding: Encoding
    units: int
    parts: int


@dataclass(frozen=True, kw_only=True)
class PreparedMessage:
    """A message checked and ready for the outbox."""

    text: str
    targets: tuple[Target, ...]
    info: SmsInfo


def normalize_number(raw: str, region: str | None) -> str:
    """Return a phone number as E.164, with the region used for numbers written without a country code."""
    text = _NUMBER_NOISE.sub("", raw.strip())
    if text.startswith("00"):
        # phonenumbers reads 00 only where it is the region's international prefix
        text = f"+{text[2:]}"
    if not text:
        raise MessageError("invalid_number", target=raw)
    if not text.startswith("+") and region is None:
        raise MessageError("missing_country", target=raw)
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException as err:
        raise MessageError("invalid_number", target=raw) from err
    if not phonenumbers.is_possible_number(number):
        raise MessageError("invalid_number", target=raw)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not phonenumbers.is_valid_number(number):
        _LOGGER.warning("%s…%s is not a known valid number; sending anyway", e164[:6], e164[-3:])
    return e164


def parse_target(raw: str, region: str | None, supported: Iterable[TargetKind]) -> Target:
    """Read one target as users write it and check that the provider can serve its form."""
    text = raw.strip()
    kinds = frozenset(supported)
    prefix, sep, rest = text.partition(":")
    if sep and not prefix.lstrip("+").isdigit():
        kind = _PREFIXES.get(prefix.strip().lower())
        if kind is None:
            raise MessageError("unknown_target_kind", target=raw, kinds=", ".join(sorted(_PREFIXES)))
        value = rest.strip()
        if not value:
            raise MessageError("invalid_target", target=raw)
        target = Target(kind=kind, value=value)
    else:
        target = Target(kind=TargetKind.NUMBER, value=normalize_number(text, region))
    if target.kind not in kinds:
        raise MessageError("unsupported_target", target=raw, kind=str(target.kind))
    return target


def fold_title(message: str, title: str | None) -> str:
    """Put the title on its own line before the message."""
    body = message.strip()
    head = (title or "").strip()
    return f"{head}\n{body}" if head and body else head or body


def encoding_of(text: str) -> Encoding:
    """Tell GSM-7 from UCS-2: one character outside GSM 03.38 makes the whole text UCS-2."""
    try:
        text.encode("gsm03.38")
    except UnicodeEncodeError:
        return Encoding.UCS2
    return Encoding.GSM7


def _units(char: str, encoding: Encoding) -> int:
    """Cost of one character: septets (2 for the escape table) or UTF-16 units (2 outside the BMP)."""
    if encoding is Encoding.GSM7:
        return len(char.encode("gsm03.38"))
    return 2 if ord(char) > _BMP_LAST else 1


def split_parts(text: str) -> list[str]:
    """Cut a text into the SMS parts it will travel as, never splitting an escape or a surrogate pair."""
    encoding = encoding_of(text)
    single, part = (GSM_SINGLE, GSM_PART) if encoding is Encoding.GSM7 else (UCS2_SINGLE, UCS2_PART)
    costs = [_units(char, encoding) for char in text]
    if sum(costs) <= single:
        return [text] if text else []
    parts: list[str] = []
    start = used = 0
    for index, cost in enumerate(costs):
        if used + cost > part:
            parts.append(text[start:index])
            start, used = index, 0
        used += cost
    parts.append(text[start:])
    return parts


def sms_info(text: str) -> SmsInfo:
    """Count encoding units and parts of a text."""
    encoding = encoding_of(text)
    units = sum(_units(char, encoding) for char in text)
    return SmsInfo(encoding=encoding, units=units, parts=len(split_parts(text)))


def prepare(
    message: str,
    title: str | None,
    raw_targets: Iterable[str],
    *,
    region: str | None,
    supported: Iterable[TargetKind],
) -> PreparedMessage:
    """Check everything before anything is sent: text, then every target."""
    text = fold_title(message, title)
    if not text:
        raise MessageError("empty_message")
    if len(text) > MAX_MESSAGE_LENGTH:
        raise MessageError("message_too_long", length=str(len(text)), limit=str(MAX_MESSAGE_LENGTH))
    kinds = frozenset(supported)
    targets: list[Target] = []
    for raw in raw_targets:
        target = parse_target(raw, region, kinds)
        if target not in targets:
            targets.append(target)
    if not targets:
        raise MessageError("no_targets")
    return PreparedMessage(text=text, targets=tuple(targets), info=sms_info(text))
