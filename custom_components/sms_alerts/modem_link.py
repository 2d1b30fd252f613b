"""A GSM modem entry's link: the port held open while the entry is loaded, its state as the entry's health.

The modem provider opens its port in the background and reopens it after an unplug. Here its link
state becomes the entry's reachability (down: the outbox hands alerts over sooner; up again: what
waits goes out at once), a PIN the SIM wants or refused starts reauthentication, a SIM missing or
locked and a network that refuses it are repair issues (modem_issues), and what the modem
receives takes the path the IPEX webhook's callbacks take (webhook.async_handle_events). Its signal and
registration are read (modem_status) once the link is up and every five minutes.
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store

from .api.base import AuthError, ProviderError
from .api.ipex_webhook import DeliveryReport, InboundSms
from .api.modem import ModemProvider
from .const import DOMAIN, LOGGER
from .coordinator import answered
from .data import SmsAlertsConfigEntry
from .entity import async_show_hardware
from .modem_issues import ModemIssues
from .modem_pin import async_load_refused, async_remove_refused, async_save_refused
from .modem_status import ModemStatusCoordinator
from .webhook import async_handle_events

REPORTS_VERSION = 1
# Awaited status reports are written a moment after they change: a burst of sends is one write
REPORTS_SAVE_DELAY = 5.0


def _reports_store(hass: HomeAssistant, entry_id: str) -> Store[list[list[object]]]:
    """Return the store of a modem entry's awaited status reports (part references -> message id)."""
    return Store(hass, REPORTS_VERSION, f"{DOMAIN}.{entry_id}.modem_reports", private=True, atomic_writes=True)


async def async_remove_link_store(hass: HomeAssistant, entry_id: str) -> None:
    """Delete a removed entry's awaited status reports and refused PIN."""
    await _reports_store(hass, entry_id).async_remove()
    await async_remove_refused(hass, entry_id)


async def async_start_link(hass: HomeAssistant, entry: SmsAlertsConfigEntry) -> None:
    """Start holding a modem entry's port (other providers hold no connection); stop at unload."""
    provider = entry.runtime_data.provider
    if not isinstance(provider, ModemProvider):
        return
    reachability = entry.runtime_data.health.reachability
    issues = ModemIssues(hass, entry)

    @callback
    def link_changed(up: bool, error: ProviderError | None) -> None:
        issues.link(up, error)
        if up:
            reachability.async_set(reachable=True)
            async_show_hardware(hass, entry)
            return
        reason = error.reason if error is not None else "the modem is not connected"
        reachability.async_set(reachable=error is not None and answered(error), error=reason)
        if isinstance(error, AuthError):
            LOGGER.warning("%s: %s; reauthentication started", entry.title, error.reason)
            entry.async_start_reauth(hass)

    @callback
    def received(events: list[InboundSms | DeliveryReport]) -> None:
        entry.async_create_background_task(
            hass, async_handle_events(hass, entry, events), f"{DOMAIN} modem inbound {entry.entry_id}"
        )

    # Status reports of messages sent before a restart still find their message
    store = _reports_store(hass, entry.entry_id)
    provider.inbound.restore(await store.async_load())

    @callback
    def reports_changed() -> None:
        store.async_delay_save(provider.inbound.stored, REPORTS_SAVE_DELAY)

    async def async_save_reports() -> None:
        await store.async_save(provider.inbound.stored())

    # A PIN the SIM refused is not entered again after a reload or a restart either: a third try locks the SIM
    provider.pin_refused = await async_load_refused(hass, entry.entry_id)

    @callback
    def pin_refused(digest: str) -> None:
        entry.async_create_background_task(
            hass, async_save_refused(hass, entry.entry_id, digest), f"{DOMAIN} modem pin {entry.entry_id}"
        )

    provider.on_pin_refused = pin_refused
    provider.on_link = link_changed
    provider.on_events = received
    provider.on_reports_changed = reports_changed
    async_setup_status(hass, entry, provider, issues)
    await provider.async_start()
    entry.async_on_unload(provider.async_stop)
    entry.async_on_unload(async_save_reports)


@callback
def async_setup_status(
    hass: HomeAssistant, entry: SmsAlertsConfigEntry, provider: ModemProvider, issues: ModemIssues
) -> None:
    """Read the modem's status from now on, first once its link is up; its registration may raise an issue."""
    coordinator = ModemStatusCoordinator(hass, entry, provider, issues)
    health = entry.runtime_data.health
    health.modem = coordinator

    @callback
    def linked() -> None:
        if health.reachability.reachable:
            entry.async_create_background_task(
                hass, coordinator.async_refresh(), f"{DOMAIN} modem status {entry.entry_id}"
            )

    entry.async_on_unload(health.reachability.async_add_listener(linked))
