"""Reading what a device answers, whatever it sends: JSON and numbers that cannot break the reader; pure.

A device, a proxy in front of it or a cloud API answers what it likes. Python's JSON parser raises RecursionError
(not ValueError) for a body nested deeper than its stack, and float() OverflowError for an integer of hundreds of
digits: both are an answer we cannot read, as an HTML page is, never a fault of ours.
"""

from __future__ import annotations

import json
import math
from typing import Any


def parse_json(text: str | bytes) -> Any:
    """Parse JSON; raise ValueError for anything that is not JSON we can read, a body nested too deep too."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None


def raw_decode(decoder: json.JSONDecoder, text: str, start: int) -> Any:
    """Decode one JSON value at `start` of a longer text; ValueError as parse_json."""
    try:
        return decoder.raw_decode(text, start)[0]
    except RecursionError:
        raise ValueError("JSON nested too deep") from None


def finite_number(value: Any) -> float | None:
    """Read a JSON number as a finite float: None for anything else (a bool, text, an integer past float's range)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def ascii_digits(text: str) -> bool:
    """Tell whether a text is only the digits 0-9 (str.isdigit takes "²" and other digits int() refuses)."""
    return text.isascii() and text.isdigit()
