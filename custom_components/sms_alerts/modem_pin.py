"""A PIN a modem entry's SIM refused, kept across reloads and restarts so that it is never entered again.

A SIM locks after its third wrong PIN (then only its PUK, typed in a phone, frees it). The provider enters a PIN
it was refused once only while it runs; this keeps the refusal (a digest, never the PIN) for the next provider of
the entry. A PIN a flow has just checked against the SIM (reauthentication, reconfigure) is no refused one.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .api.modem import ModemProvider, pin_digest
from .const import DOMAIN

PIN_VERSION = 1
_CONFIRMED = f"{DOMAIN}_confirmed_pins"
_REFUSED = "refused"


def _store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, str]]:
    """Return the store of the digest of a PIN an entry's SIM refused."""
    return Store(hass, PIN_VERSION, f"{DOMAIN}.{entry_id}.modem_pin", private=True, atomic_writes=True)


def confirm_pin(hass: HomeAssistant, entry_id: str, pin: str | None) -> None:
    """Note that a flow checked this PIN against the entry's SIM just now: no refusal of the entry stands any more.

    The running provider may enter it again (the entry is not reloaded where its data did not change), the store
    forgets the refusal, and a start that reads the store before that is done takes the confirmation instead.
    """
    if not pin:
        return
    confirmed: dict[str, str] = hass.data.setdefault(_CONFIRMED, {})
    confirmed[entry_id] = pin_digest(pin)
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is not None and entry.state is ConfigEntryState.LOADED:
        provider = getattr(entry.runtime_data, "provider", None)
        if isinstance(provider, ModemProvider):
            provider.pin_refused = None
    hass.async_create_task(_store(hass, entry_id).async_remove(), f"{DOMAIN} modem pin confirmed")


async def async_load_refused(hass: HomeAssistant, entry_id: str) -> str | None:
    """Return the digest of the PIN the entry's SIM refused, unless a flow has confirmed that PIN since."""
    store = _store(hass, entry_id)
    stored: Any = await store.async_load()
    refused = stored.get(_REFUSED) if isinstance(stored, dict) else None
    confirmed = hass.data.get(_CONFIRMED, {}).pop(entry_id, None)
    if refused is not None and refused == confirmed:
        await store.async_remove()
        return None
    return refused if isinstance(refused, str) else None


async def async_save_refused(hass: HomeAssistant, entry_id: str, digest: str) -> None:
    """Keep the digest of a PIN the entry's SIM refused."""
    await _store(hass, entry_id).async_save({_REFUSED: digest})


async def async_remove_refused(hass: HomeAssistant, entry_id: str) -> None:
    """Delete a removed entry's refused PIN."""
    await _store(hass, entry_id).async_remove()
