"""The "Retry now" button of an entry (what waits in its outbox goes at once); the alert sources' buttons."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .data import SmsAlertsConfigEntry
from .entity import SmsAlertsEntity
from .source_entities import async_add_source_buttons

# Pressing only wakes the outbox, which keeps one request at a time itself
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SmsAlertsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the entry's button and each alert source's Acknowledge button."""
    async_add_entities([RetryNowButton(entry)])
    async_add_source_buttons(entry, async_add_entities)


class RetryNowButton(SmsAlertsEntity, ButtonEntity):
    """Sends the waiting messages now instead of at their next retry; held ones keep their time."""

    # Next to the queued messages sensor, for everyone who watches the outbox: no entity category
    _attr_translation_key = "retry_now"

    def __init__(self, entry: SmsAlertsConfigEntry) -> None:
        """Attach the button to the account device."""
        super().__init__(entry, "retry_now")

    async def async_press(self) -> None:
        """Wake the outbox; say so when refused credentials keep everything waiting for a new login."""
        if not self._entry.runtime_data.outbox.async_retry_now():
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="retry_needs_login",
                translation_placeholders={"entry": self._entry.title},
            )
