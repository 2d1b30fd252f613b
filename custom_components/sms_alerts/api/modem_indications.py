"""How a modem is asked to tell of what arrives: the AT+CNMI setting, 3GPP TS 27.005 §3.4.1.

The setting wanted, field by field, best first:
- <mode> 2: indications wait in the modem while the link is busy and come after (1 and 3 also reach us);
- <mt> 1: a received SMS is stored and announced (+CMTI), else 2: shown at once (+CMT);
- <bm> 0: no cell broadcasts;
- <ds> 1: a status report shown at once (+CDS), else 2: stored and announced (+CDSI), else 0: none;
- <bfr> 0: what waited in the modem comes when the setting is made, else 1: it is dropped (the listing at link
  time reads what was stored meanwhile).

A modem lists what it takes in answer to AT+CNMI=? (`+CNMI: (0-3),(0,1),(0,2,3),(0,2),(1)`), and the best
setting within those lists is tried first. A fixed setting does not suit every modem: a Cinterion MC75i takes
<ds> 0 or 2 and <bfr> 1 only, and refuses `AT+CNMI=2,1,0,2,0` with +CMS ERROR: 538 while it takes
`AT+CNMI=2,1,0,2` and `2,1,0,2,1` (gammu issue 1206; gammu chooses within AT+CNMI=?'s lists since its pull
request 1207). Then the fixed settings are tried in turn, for modems that do not answer AT+CNMI=?.
"""

from __future__ import annotations

import re

# Tried in turn after the setting chosen from AT+CNMI=? (or alone, without one): the last leaves <bfr> as it is
FIXED_SETTINGS = ("AT+CNMI=2,1,0,1,0", "AT+CNMI=2,1,0,2,0", "AT+CNMI=2,1,0,2", "AT+CNMI=2,1,0,0,0")
# Per field, the values wanted, best first; a field none of whose values the modem takes ends the setting there
_WANTED = ((2, 1, 3), (1, 2), (0,), (1, 2, 0), (0, 1))
# Fields that cannot be left to the modem: without <mode> and <mt>, nothing received is announced
_NEEDED = 2
_GROUP = re.compile(r"\(([^()]*)\)")
# No field has more values than this: a wider range is not an answer to read
MAX_RANGE = 255


def parse_ranges(lines: list[str]) -> list[frozenset[int]] | None:
    """Read AT+CNMI=?'s answer: the values each field takes; None when there is no such line or it cannot be read.

    `+CNMI: (0-3),(0,1),(0,2,3),(0,2),(1)` gives [{0,1,2,3}, {0,1}, {0,2,3}, {0,2}, {1}].
    """
    for line in lines:
        if not line.startswith("+CNMI:"):
            continue
        fields: list[frozenset[int]] = []
        for group in _GROUP.findall(line):
            values: set[int] = set()
            for item in (part.strip() for part in group.split(",")):
                low, _, high = item.partition("-")
                if not (low.isascii() and low.isdigit() and (not high or (high.isascii() and high.isdigit()))):
                    return None
                first, last = int(low), int(high or low)
                if last - first > MAX_RANGE:
                    return None
                values.update(range(first, last + 1))
            fields.append(frozenset(values))
        return fields or None
    return None


def best_setting(ranges: list[frozenset[int]]) -> str | None:
    """Choose the best AT+CNMI setting within what the modem takes; None when it cannot announce what it receives."""
    chosen: list[int] = []
    for allowed, wanted in zip(ranges, _WANTED, strict=False):
        value = next((item for item in wanted if item in allowed), None)
        if value is None:
            break
        chosen.append(value)
    if len(chosen) < _NEEDED:
        return None
    return "AT+CNMI=" + ",".join(map(str, chosen))


def settings_to_try(lines: list[str] | None) -> list[str]:
    """List the AT+CNMI settings to try in turn, given AT+CNMI=?'s answer (None: the modem did not answer it)."""
    ranges = parse_ranges(lines) if lines is not None else None
    best = best_setting(ranges) if ranges is not None else None
    return [best, *(setting for setting in FIXED_SETTINGS if setting != best)] if best else list(FIXED_SETTINGS)
