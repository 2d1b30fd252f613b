"""What a received SMS acknowledges: alert codes (A12) and references (#42), of its entry or one it stood in for.

A page names its alert's code (`Reply A12 to acknowledge`), and an entry with *Acknowledgement reference* ends
its alerts with a reference (`#42`); the recipient replies to the number the SMS came from. That is the entry's
own number, or, when the entry could not deliver and handed the SMS over, its fallback's: the reply then reaches
the fallback entry, whose own alerts may have no such code or reference, or another alert with the same one
(both are counted per entry). So a code or reference is looked for first among the alerts sent to the replying
number, on the entry that heard it and then on each entry that hands over to it (directly or through another
fallback); one no such alert has is the hearing entry's own, from whichever number (README, *Escalation* and
*Delivery reports and acknowledgement by reply*).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback

from .alerts.book import OpenAlert
from .alerts.paging import codes_in, mask_number, same_number, told
from .api.ipex_webhook import InboundSms
from .const import CONF_FALLBACK_ENTRY, DOMAIN, LOGGER
from .data import SmsAlertsConfigEntry
from .outbox import notices

if TYPE_CHECKING:
    from .alert_sources import AlertSources


async def async_acknowledge_codes(
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


@callback
def fire_reference_acknowledged(hass: HomeAssistant, entry: SmsAlertsConfigEntry, sms: InboundSms) -> None:
    """Fire sms_alerts_acknowledged, on the entry that gave the reference, when a reply quotes one (#42)."""
    found = [
        (owner, hit)
        for owner in (entry, *handing_over_to(hass, entry))
        if (hit := owner.runtime_data.outbox.async_acknowledged(sms.text)) is not None
    ]
    sent_to_sender = [(owner, hit) for owner, hit in found if any(same_number(sms.sender, to) for to in hit[2])]
    own = [(owner, hit) for owner, hit in found if owner is entry]
    if not (chosen := sent_to_sender or own):
        return
    owner, (reference, message, targets) = chosen[0]
    target = next((known for known in targets if same_number(known, sms.sender)), targets[0] if targets else sms.sender)
    LOGGER.info("%s: alert #%s acknowledged by reply", owner.title, reference)
    notices.fire_acknowledged(
        hass, owner.entry_id, reference=f"#{reference}", target=target, message=message, sender=sms.sender
    )


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
