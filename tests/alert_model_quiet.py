"""Quiet hours in the alert-model test, as the README's "## Alert storms, severity and quiet hours" tells them; pure.

"During them `info` and `warning` alerts to that recipient wait (...) and go out when they end, several as one
summary", the summary as the rate limit's: `7 alerts: FIRE in hall B | Freezer warm | …`, "most severe first,
then newest, cut to one SMS". Critical alerts "always go at once".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from homeassistant.util import dt as dt_util

from .alert_model_specs import SEVERITY_RANK

# One SMS of GSM-7 text; a longer summary is cut with "..." (README "Long alerts": cut ending with an ellipsis)
ONE_SMS = 160


@dataclass
class Held:
    """One SMS waiting for the end of its recipient's quiet hours, and the alerts it tells of (their firing SMS)."""

    text: str
    severity: str
    created: dt.datetime
    until: dt.datetime
    fingerprints: tuple[str, ...] = ()


def quiet_until(hours: tuple[dt.time, dt.time] | None, now: dt.datetime) -> dt.datetime | None:
    """When the quiet hours around `now` end (in Home Assistant's time zone; they may span midnight), else None."""
    if hours is None or hours[0] == hours[1]:
        return None
    local = dt_util.as_local(now)
    start, end = (local.replace(hour=t.hour, minute=t.minute, second=0, microsecond=0) for t in hours)
    if start < end:
        return end if start <= local < end else None
    if local >= start:
        return end + dt.timedelta(days=1)
    return end if local < end else None


def summary(held: list[Held]) -> str:
    """One SMS for several held alerts: `3 alerts: A | B | C`, most severe first, then newest; one SMS at most."""
    ordered = sorted(held, key=lambda item: (SEVERITY_RANK[item.severity], -item.created.timestamp()))
    text = f"{len(held)} alerts: " + " | ".join(item.text for item in ordered)
    return text if len(text) <= ONE_SMS else text[: ONE_SMS - 3].rstrip() + "..."
