"""The SMS of an escalation: a page with its reply hint, the acknowledgement notice, codes found in a reply; pure.

A page reads `FIRING critical DiskFull db1: / at 97% - Reply A12 to acknowledge` (`… - Ack A12 in Home
Assistant` where replies cannot reach it) and stays one SMS where the alert's own text allows: the alert's text
is cut, never the hint. An acknowledgement is announced as
`ACK A12 DiskFull db1 by +49170...567`.
"""

from __future__ import annotations

import re

from ..message import GSM_SINGLE, UCS2_SINGLE, Encoding, encoding_of, sms_info, truncate, truncate_gsm
from .book import OpenAlert
from .models import Alert
from .render import where

# An alert's code in a reply: "A12", "a12", "ACK A12" (the code stands alone: not part of a word or a number)
_CODE = re.compile(r"(?<![A-Za-z0-9#])[Aa](\d{1,9})(?![A-Za-z0-9])")
# A number long enough to be worth masking (shorter ones are extensions or short codes)
_MIN_MASKED_DIGITS = 7
# Digits compared when one number is written with its country code and the other without
_SAME_TAIL = 8
SEPARATOR = " - "
ACK_BY_HOME_ASSISTANT = "Home Assistant"


def hint(code: str, *, replies: bool = True) -> str:
    """Tell how to acknowledge: `Reply A12 to acknowledge`, where a reply can reach Home Assistant.

    Where it cannot (the provider receives no SMS for it), `Ack A12 in Home Assistant`: the code to look for there.
    """
    return f"Reply {code} to acknowledge" if replies else f"Ack {code} in Home Assistant"


def told(alert: OpenAlert, number: str) -> bool:
    """Tell whether an SMS about an open alert went to this number (its firing SMS or a page)."""
    return any(same_number(number, target) for target in (*alert.notified, *alert.earlier))


def label(alert: Alert) -> str:
    """Name an alert and where it is, as `DiskFull db1`."""
    place = where(alert)
    return alert.name if not place or place in alert.name else f"{alert.name} {place}"


def page_text(text: str, code: str, *, replies: bool = True) -> str:
    """End an alert's text with the hint (a reply's, with `replies`), the text cut so that both make one SMS."""
    tail = f"{SEPARATOR}{hint(code, replies=replies)}"
    full = f"{text}{tail}"
    return full if sms_info(full).parts <= 1 else _cut(text, tail)


def _cut(text: str, tail: str) -> str:
    """Cut `text` so that it and the (ASCII) tail make one SMS."""
    if encoding_of(text) is Encoding.GSM7:
        return truncate_gsm(text, GSM_SINGLE - len(tail)) + tail
    return truncate(text, UCS2_SINGLE - len(tail)) + tail


def ack_text(code: str, name: str, by: str) -> str:
    """Write the notice of an acknowledgement: `ACK A12 DiskFull db1 by +49170...567`."""
    return f"ACK {code} {name} by {by}"


def codes_in(text: str) -> list[str]:
    """Find the alert codes a reply names, in order, each once (upper case)."""
    return list(dict.fromkeys(f"A{int(match.group(1))}" for match in _CODE.finditer(text)))


def mask_number(number: str) -> str:
    """Mask a phone number for an SMS to others: `+49170...567` (GSM-7 only, unlike the log's mask)."""
    value = "".join(char for char in number if char.isdigit() or char == "+")
    digits = len(value.lstrip("+"))
    if digits < _MIN_MASKED_DIGITS:
        return number.strip()
    return f"{value[:6]}...{value[-3:]}"


def _digits(number: str) -> str:
    """Keep the digits of a number, without the international prefix 00."""
    digits = "".join(char for char in number if char.isdigit())
    return digits.removeprefix("00")


def same_number(first: str, second: str) -> bool:
    """Tell whether two ways of writing a number name the same phone (+49170..., 0049170..., 0170...)."""
    one, two = _digits(first), _digits(second)
    if not one or not two:
        return first.strip() == second.strip()
    if one == two:
        return True
    return min(len(one), len(two)) >= _SAME_TAIL and one[-_SAME_TAIL:] == two[-_SAME_TAIL:]
