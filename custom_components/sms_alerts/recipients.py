"""An entry's recipients: their names and targets, and `notify.on_call` among an action's targets for its target."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er

from .const import CONF_TARGET, DOMAIN, SUBENTRY_RECIPIENT

_NOTIFY = "notify."


def recipient_names(entry: ConfigEntry[Any]) -> dict[str, str]:
    """Return the name of each of the entry's recipients, by subentry id."""
    return {sub.subentry_id: sub.title for sub in entry.subentries.values() if sub.subentry_type == SUBENTRY_RECIPIENT}


def recipient_targets(entry: ConfigEntry[Any]) -> dict[str, str]:
    """Return the target of each of the entry's recipients, by subentry id."""
    return {
        sub.subentry_id: str(sub.data[CONF_TARGET])
        for sub in entry.subentries.values()
        if sub.subentry_type == SUBENTRY_RECIPIENT and CONF_TARGET in sub.data
    }


def resolve_recipient_entities(hass: HomeAssistant, targets: list[str] | None) -> list[str] | None:
    """Replace each notify entity of an SMS Alerts recipient by the recipient's target; keep other targets.

    A recipient of any entry may be named: the entry that sends is the route, the recipient the person.
    """
    if not targets or not any(target.startswith(_NOTIFY) for target in targets):
        return targets
    registry = er.async_get(hass)
    resolved = []
    for target in targets:
        if not target.startswith(_NOTIFY):
            resolved.append(target)
            continue
        entity = registry.async_get(target)
        subentry = None
        if entity is not None and entity.platform == DOMAIN and entity.config_entry_id and entity.config_subentry_id:
            entry = hass.config_entries.async_get_entry(entity.config_entry_id)
            subentry = entry.subentries.get(entity.config_subentry_id) if entry is not None else None
        if subentry is None or CONF_TARGET not in subentry.data:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_recipient_entity",
                translation_placeholders={"entity_id": target},
            )
        resolved.append(subentry.data[CONF_TARGET])
    return resolved
