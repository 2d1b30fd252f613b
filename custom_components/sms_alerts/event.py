"""Event entities of an entry: inbound SMS, delivery reports, acknowledgements and given-up messages."""

from __future__ import annotations

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.const import CONF_WEBHOOK_ID
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import SIGNAL_ENTRY_EVENT
from .data import SmsAlertsConfigEntry
from .entity import SmsAlertsEntity
from .outbox.notices import EVENT_TYPES, EntryEvent, EventKind
from .source_entities import async_add_source_events

# Event entities only listen to the entry's signal
PARALLEL_UPDATES = 0

# Replies and delivery reports reach an entry through its webhook (IPEX SMS Chat) or its SIM (a GSM modem)
_INBOUND = (EventKind.RECEIVED, EventKind.DELIVERY, EventKind.ACKNOWLEDGED)


def _description(kind: EventKind) -> EventEntityDescription:
    """Describe the event entity that shows one kind of the entry's bus events."""
    return EventEntityDescription(key=kind, translation_key=kind, event_types=list(EVENT_TYPES[kind]))


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SmsAlertsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the given-up event entity, those of replies and delivery reports where they can arrive, and each source's."""
    hears = CONF_WEBHOOK_ID in entry.data or entry.runtime_data.provider.receives_replies(entry.data)
    kinds = [*_INBOUND, EventKind.GIVEN_UP] if hears else [EventKind.GIVEN_UP]
    async_add_entities(SmsAlertsEventEntity(entry, _description(kind)) for kind in kinds)
    async_add_source_events(entry, async_add_entities)


class SmsAlertsEventEntity(SmsAlertsEntity, EventEntity):
    """Shows one kind of the entry's bus events, with the same data (bounded, without the entry id)."""

    def __init__(self, entry: SmsAlertsConfigEntry, description: EventEntityDescription) -> None:
        """Attach the entity to the account device."""
        super().__init__(entry, f"event_{description.key}")
        self.entity_description = description

    async def async_added_to_hass(self) -> None:
        """Follow the entry's events."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(self.hass, SIGNAL_ENTRY_EVENT.format(self._entry.entry_id), self._async_event)
        )

    @callback
    def _async_event(self, event: EntryEvent) -> None:
        """Show an event of this entity's kind."""
        if event.kind != self.entity_description.key:
            return
        self._trigger_event(event.event_type, event.attributes)
        self.async_write_ha_state()
