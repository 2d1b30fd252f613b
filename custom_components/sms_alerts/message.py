"""Targets, title folding, GSM-7 or UCS-2, and SMS parts; imports nothing from Home Assistant."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import gsm0338  # noqa: F401 - registers the "gsm03.38" codec
import phonenumbers

from .api.base import Target, TargetKind
from .api.text import utf16_len

_LOGGER = logging.getLogger(__name__)

GSM_SINGLE = 160
GSM_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67
# A generous bound on what one alert may hold: about 30 SMS parts of plain text.
MAX_MESSAGE_LENGTH = 4590
# Characters past the Basic Multilingual Plane take a surrogate pair in UTF-16
_BMP_LAST = 0xFFFF

# ESC encodes in GSM 03.38, but as the escape to the extension table, not a character: alone it breaks the text
_ESC = "\x1b"
_UNWRITABLE = "?"
# Categories dropped by to_gsm7: combining marks (accents left after NFC, variation selectors, the keycap),
# format characters (zero-width joiner and spaces, soft hyphen, byte order mark, bidi marks, emoji tags)
_DROPPED_CATEGORIES = frozenset({"Mn", "Me", "Cf"})
# Emoji skin tone modifiers belong to the emoji before them
_SKIN_TONES = range(0x1F3FB, 0x1F400)
# Typographic characters and the letters that NFKD does not take apart, with their GSM-7 look-alikes
_LOOKALIKES: dict[str, str] = {
    # single quotes, primes, apostrophes (U+2019 is also Wildix's look-alike for ')
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u2039": "'",
    "\u203a": "'",
    "\u02bc": "'",
    "\u00b4": "'",
    "`": "'",
    # double quotes and guillemets, double prime (U+2033 is Wildix's look-alike for ")
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    # hyphens, dashes, minus
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u2043": "-",
    # slashes (U+2215 and U+29F5 are Wildix's look-alikes for / and \)
    "\u2215": "/",
    "\u2044": "/",
    "\u29f5": "\\",
    # the rest of the punctuation
    "\u2026": "...",
    "\u2022": "*",
    "\u2023": "*",
    "\u00b7": ".",
    "\u00d7": "x",
    "\u00a9": "(c)",
    "\u00ae": "(R)",
    # The degree sign becomes "deg" as in unidecode: "-18 °C" reads "-18 degC"; an "o" could pass for a zero
    "\u00b0": "deg",
    # the micro sign is a "u" in ASCII units ("5 µs"), not the Greek capital M that the Greek rule below would give
    "\u00b5": "u",
    "\t": " ",
    # letters with a stroke or ligatures that have no Unicode decomposition; æ Æ ø Ø ß are GSM-7 already
    "\u0142": "l",
    "\u0141": "L",
    "\u0111": "d",
    "\u0110": "D",
    "\u0127": "h",
    "\u0126": "H",
    "\u0131": "i",
    "\u0153": "oe",
    "\u0152": "OE",
    "\u00f0": "d",
    "\u00d0": "D",
    "\u00fe": "th",
    "\u00de": "TH",
    # Greek capitals outside GSM-7 that look like Latin ones; lowercase Greek is first made uppercase
    "\u0391": "A",
    "\u0392": "B",
    "\u0395": "E",
    "\u0396": "Z",
    "\u0397": "H",
    "\u0399": "I",
    "\u039a": "K",
    "\u039c": "M",
    "\u039d": "N",
    "\u039f": "O",
    "\u03a1": "P",
    "\u03a4": "T",
    "\u03a5": "Y",
    "\u03a7": "X",
}
# What truncate strips before its marker: whitespace and a zero-width joiner or variation selector left dangling
_CUT_TAIL = re.compile(r"[\s\u200d\ufe00-\ufe0f]+\Z")

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
    # The length of a text longer than MAX_MESSAGE_LENGTH, which was cut to it
    cut_from: int | None = None
    # Targets as given that could not be read, each with why; the others are still sent to
    rejected: tuple[tuple[str, MessageError], ...] = ()


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
    parsed = _parse_number(text, None if text.startswith("+") else region)
    if parsed is None:
        raise MessageError("invalid_number", target=raw)
    e164, valid = parsed
    if not valid and e164 not in _WARNED_NUMBERS:
        # Once per number: a reminder sent every few minutes must not repeat it at each alert
        if len(_WARNED_NUMBERS) < _WARNED_MAX:
            _WARNED_NUMBERS.add(e164)
        _LOGGER.warning("%s…%s is not a known valid number; sending anyway", e164[:6], e164[-3:])
    return e164


# Numbers the log has called unknown already
_WARNED_NUMBERS: set[str] = set()
_WARNED_MAX = 1024


@lru_cache(maxsize=1024)
def _parse_number(text: str, region: str | None) -> tuple[str, bool] | None:
    """E.164 of a cleaned number and whether it is a known valid one; None when it cannot be a number.

    Alerts go to the same few numbers again and again: parsing each once keeps phonenumbers off the send path.
    """
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, phonenumbers.is_valid_number(number)


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


@lru_cache(maxsize=8192)
def _septets(char: str) -> int:
    """Septets one character takes in GSM 03.38 (2 through the extension table), or 0 when it has none."""
    try:
        return len(char.encode("gsm03.38"))
    except UnicodeEncodeError:
        return 0


def encoding_of(text: str) -> Encoding:
    """Tell GSM-7 from UCS-2: one character outside GSM 03.38 makes the whole text UCS-2."""
    return Encoding.GSM7 if all(map(_septets, set(text))) else Encoding.UCS2


def _units(char: str, encoding: Encoding) -> int:
    """Cost of one character: septets (2 for the escape table) or UTF-16 units (2 outside the BMP)."""
    if encoding is Encoding.GSM7:
        return _septets(char)
    return 2 if ord(char) > _BMP_LAST else 1


def _limits(encoding: Encoding) -> tuple[int, int]:
    """Units of a single SMS and of one part of a long one."""
    return (GSM_SINGLE, GSM_PART) if encoding is Encoding.GSM7 else (UCS2_SINGLE, UCS2_PART)


def _count_units(text: str, encoding: Encoding) -> int:
    """Units of a whole text in its encoding."""
    if encoding is Encoding.GSM7:
        return sum(map(_septets, text))
    return utf16_len(text)


def split_parts(text: str) -> list[str]:
    """Cut a text into the SMS parts it will travel as, never splitting an escape or a surrogate pair."""
    encoding = encoding_of(text)
    single, part = _limits(encoding)
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
    """Count encoding units and parts of a text (cutting it into parts only when it needs more than one)."""
    encoding = encoding_of(text)
    units = _count_units(text, encoding)
    parts = (1 if text else 0) if units <= _limits(encoding)[0] else len(split_parts(text))
    return SmsInfo(encoding=encoding, units=units, parts=parts)


def prepare(
    message: str,
    title: str | None,
    raw_targets: Iterable[str],
    *,
    region: str | None,
    supported: Iterable[TargetKind],
) -> PreparedMessage:
    """Check everything before anything is sent: text, then every target.

    Raise MessageError for a text that cannot be sent, or when no target can be read; targets
    that cannot be read beside others that can are returned as rejected.
    """
    text = fold_title(message, title)
    if not text:
        raise MessageError("empty_message")
    cut_from = None
    if len(text) > MAX_MESSAGE_LENGTH:
        # An alert is better cut than refused: its head says what happened. A GSM-7 text ends in
        # "..." rather than "…", which would make all of it UCS-2 and more than double its parts
        cut = truncate_gsm if encoding_of(text) is Encoding.GSM7 else truncate
        cut_from, text = len(text), cut(text, MAX_MESSAGE_LENGTH)
    kinds = frozenset(supported)
    targets: list[Target] = []
    rejected: list[tuple[str, MessageError]] = []
    for raw in raw_targets:
        try:
            target = parse_target(raw, region, kinds)
        except MessageError as err:
            # One mistyped number among several must not keep the alert from the others
            rejected.append((raw.strip(), err))
            continue
        if target not in targets:
            targets.append(target)
    if not targets:
        raise rejected[0][1] if rejected else MessageError("no_targets")
    return PreparedMessage(
        text=text, targets=tuple(targets), info=sms_info(text), cut_from=cut_from, rejected=tuple(rejected)
    )


def _encodes(char: str) -> bool:
    """Tell whether one character is a GSM-7 character (ESC, the escape to the extension table, is not)."""
    return char != _ESC and _septets(char) > 0


def _lookalike(char: str) -> str | None:
    """GSM-7 text for one character from the table alone: itself, a look-alike, a plain space or newline."""
    if _encodes(char):
        return char
    if char in _LOOKALIKES:
        return _LOOKALIKES[char]
    category = unicodedata.category(char)
    if category == "Zs":
        return " "
    if category in {"Zl", "Zp"}:
        return "\n"
    return None


@lru_cache(maxsize=4096)
def _transliterate(char: str) -> str | None:
    """GSM-7 text for one character, or None when nothing readable exists."""
    direct = _lookalike(char)
    if direct is not None:
        return direct
    # NFKD takes accents off (ř → r + caron) and spells out compatibility forms (ﬁ → fi, ℃ → °C,
    # ½ → 1, fraction slash, 2); the uppercase try turns lowercase Greek into capitals,
    # most of which GSM-7 has or resembles.
    for form in (char, char.upper()):
        pieces = [
            _lookalike(piece) for piece in unicodedata.normalize("NFKD", form) if not unicodedata.combining(piece)
        ]
        written = [piece for piece in pieces if piece is not None]
        if written and len(written) == len(pieces):
            return "".join(written)
    return None


def _is_dropped(char: str) -> bool:
    """Tell the marks, joiners and modifiers that to_gsm7 leaves out (or folds into the "?" before them)."""
    return unicodedata.category(char) in _DROPPED_CATEGORIES or ord(char) in _SKIN_TONES


def to_gsm7(text: str) -> str:
    """Transliterate a text so that it encodes in GSM 03.38, for receivers that cannot show UCS-2.

    GSM-7 characters stay as they are (umlauts, ß, é, Ç, the extension table); typographic quotes, dashes,
    spaces and Wildix's look-alikes become ASCII; other letters lose their accents; whatever is left (emoji,
    CJK, control characters) becomes "?", one "?" for a whole run with its joiners and variation selectors.
    """
    # A surrogate pair that came in as two code points is joined into one character first
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    out: list[str] = []
    in_run = False
    for char in unicodedata.normalize("NFC", joined):
        if _is_dropped(char):
            continue
        written = _transliterate(char)
        if written is None:
            if not in_run:
                out.append(_UNWRITABLE)
            in_run = True
        else:
            out.append(written)
            in_run = False
    return "".join(out)


def _truncate(text: str, limit: int, cost: Callable[[str], int], marker: str) -> str:
    """Cut a text to `limit` units counted by `cost`, the marker included, at a late word boundary if any."""
    if limit < 0:
        raise ValueError("limit must not be negative")
    costs = [cost(char) for char in text]
    if sum(costs) <= limit:
        return text
    room = limit - sum(cost(char) for char in marker)
    if room < 0:
        # Not even the marker fits; every marker character costs one unit
        return marker[:limit]
    end = used = 0
    for char_cost in costs:
        if used + char_cost > room:
            break
        used += char_cost
        end += 1
    head = text[:end]
    if not text[end].isspace():
        boundary = max((index for index, char in enumerate(head) if char.isspace()), default=0)
        # A word boundary counts only in the last 20 % of the room; earlier, cutting the word wastes less
        if boundary and 5 * sum(costs[:boundary]) >= 4 * room:
            head = head[:boundary]
    return _CUT_TAIL.sub("", head) + marker


def truncate(text: str, limit: int) -> str:
    """Cut a text to at most `limit` UTF-16 units, ending with "…" when it was cut (the "…" counts).

    The cut falls on a word boundary when one lies in the last 20 % of the room, never inside a surrogate pair.
    A text that fits comes back unchanged.
    """
    return _truncate(text, limit, lambda char: _units(char, Encoding.UCS2), "\u2026")


def truncate_gsm(text: str, septets: int) -> str:
    """Cut a GSM-7 text to at most `septets` septets, ending with "..." when it was cut, so it stays GSM-7.

    Extension characters (€ [ ] { } ~ | ^ backslash, form feed) count two septets and are never split.
    """
    if encoding_of(text) is not Encoding.GSM7:
        raise ValueError("text is not GSM-7")
    return _truncate(text, septets, lambda char: _units(char, Encoding.GSM7), "...")
