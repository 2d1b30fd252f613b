"""Which open alerts a received SMS acknowledges: the codes it names, on the entry that heard it or one it stood in for.

A page names its alert's code (`Reply A12 to acknowledge`); the recipient replies to the number the page came
from. That is the entry's own number, or, when the entry could not deliver and handed the page over, its
fallback's: the reply then reaches the fallback entry, whose own sources may know no A12, or another alert by
that code. So a code is looked for first among the alerts the replying number was told of, on the entry that
heard it and then on each entry that hands over to it (directly or through another fallback); a code no such
alert has acknowledges the hearing entry's own alert by that code, from whichever number (README, *Escalation*).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant

from .alerts.book import OpenAlert
from .alerts.paging import codes_in, mask_number, told
from .const import CONF_FALLBACK_ENTRY, DOMAIN
from .data import SmsAlertsConfigEntry

if TYPE_CHECKING:
    from .alert_sources import AlertSources


async def async_acknowledge_reply(
    hass: HomeAssistant, entry: SmsAlertsConfigEntry, sender: str, text: str
) -> list[OpenAlert]:
    """Acknowledge the open alerts whose codes a received SMS names (`A12`, `ack a12`); return them."""
    codes = codes_in(text)
    if not codes:
        return []
    own = _sources(entry)
    chain = [own] if own is not None else []
    chain += [sources for other in handing_over_to(hass, entry) if (sources := _sources(other)) is not None]
    found = []
    for code in codes:
        where = next((sources for sources in chain if _told_of(sources, code, sender)), own)
        if where is None:
            continue
        alert = await where.async_acknowledge(fingerprint=None, code=code, by=mask_number(sender), sender=sender)
        if alert is not None:
            found.append(alert)
    return found


def handing_over_to(hass: HomeAssistant, entry: SmsAlertsConfigEntry) -> list[SmsAlertsConfigEntry]:
    """Return the loaded entries whose messages may reach `entry` as their fallback, the nearest first."""
    entries: list[SmsAlertsConfigEntry] = hass.config_entries.async_entries(DOMAIN)
    reached = {entry.entry_id}
    found: list[SmsAlertsConfigEntry] = []
    while more := [
        other
        for other in entries
        if other.entry_id not in reached and other.options.get(CONF_FALLBACK_ENTRY) in reached
    ]:
        reached.update(other.entry_id for other in more)
        found += more
    return [other for other in found if other.state is ConfigEntryState.LOADED]


def _sources(entry: SmsAlertsConfigEntry) -> AlertSources | None:
    """Return an entry's alert sources (none yet while a modem's entry is being set up and already hears SMS)."""
    return getattr(getattr(entry, "runtime_data", None), "alert_sources", None)


def _told_of(sources: AlertSources, code: str, sender: str) -> bool:
    """Tell whether the open alert with this code was sent to the replying number (its SMS or a page)."""
    alert = sources.book.find(code=code)
    return alert is not None and told(alert, sender)
