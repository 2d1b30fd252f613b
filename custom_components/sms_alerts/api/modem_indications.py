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

What the modem shows at once (+CMT, +CDS) it acknowledges to the network itself with message service 0
(`AT+CSMS=0`, §3.2.1). With 1 (left so by another program, or the only one it has) it waits for AT+CNMA, and
without one in time it sets <mt> and <ds> to 0: nothing more is announced (§3.4.4; a Motorola G24's manual: 60 s,
then the report is stored and <ds> is 0). So service 0 is asked for, AT+CNMA follows each +CMT and +CDS where
the modem keeps service 1 or does not say, and the setting is read again now and then (`announcements_dropped`).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Awaitable, Callable

from .base import ProviderError
from .modem_at import AtError, AtSession

_LOGGER = logging.getLogger(__name__)

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


async def async_message_service(at: AtSession) -> bool:
    """Ask for message service 0; True when the modem still wants AT+CNMA for what it shows (or does not say)."""
    with contextlib.suppress(AtError):
        await at.command("AT+CSMS=0")
    try:
        lines = await at.command("AT+CSMS?")
    except AtError:
        return True
    for line in lines:
        if line.startswith("+CSMS:"):
            return line[6:].split(",")[0].strip() != "0"
    return True


def _fields(text: str) -> list[str]:
    """Split the comma-separated fields of a setting or an answer, stripped."""
    return [item.strip() for item in text.split(",")]


def announcements_dropped(setting: str, lines: list[str]) -> bool:
    """Tell whether AT+CNMI?'s answer lost the <mt> or <ds> of the setting made (a modem that set them to 0).

    `setting` is the command made (`AT+CNMI=2,1,0,1,0`); an answer that cannot be read tells nothing (False).
    """
    wanted = _fields(setting.partition("=")[2])
    for line in lines:
        if line.startswith("+CNMI:"):
            now = _fields(line[6:])
            return any(
                index < len(wanted) and index < len(now) and wanted[index] != now[index] and now[index] == "0"
                for index in (1, 3)
            )
    return False


async def async_keep_announcing(
    run: Callable[[str, str], Awaitable[list[str]]], setting: str | None, port: str
) -> bool:
    """Ask again for the AT+CNMI setting made if the modem dropped it; True when asked (read what it stored since).

    `run(command, doing)` runs one command (ProviderError when it fails). A modem that waited for an AT+CNMA in
    vain sets <mt> and <ds> to 0: from then on no reply and no status report would be announced, and nothing
    would say so.
    """
    if setting is None:
        return False
    try:
        lines = await run("AT+CNMI?", "reading the SMS announcements")
    except ProviderError:
        return False
    if not announcements_dropped(setting, lines):
        return False
    _LOGGER.warning("GSM modem on %s stopped announcing received SMS and status reports; asked again", port)
    try:
        await run(setting, "asking for SMS announcements again")
    except ProviderError as err:
        _LOGGER.warning("GSM modem on %s: %s", port, err.reason)
        return False
    return True
