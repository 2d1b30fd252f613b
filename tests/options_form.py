"""Fill the sectioned options form from flat options, as the frontend sends it."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import section


def form_sections(result: ConfigFlowResult) -> dict[str, list[str]]:
    """Return the fields of each section of a shown form, in order."""
    schema: vol.Schema = result["data_schema"]  # type: ignore[assignment]
    found: dict[str, list[str]] = {}
    for key, value in schema.schema.items():
        assert isinstance(value, section), f"{key} is outside a section"
        found[str(key)] = [str(field) for field in value.schema.schema]
    return found


def nest(result: ConfigFlowResult, options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Put flat options into the form's sections; an option the form does not show is an error."""
    sections = form_sections(result)
    where = {field: name for name, fields in sections.items() for field in fields}
    unknown = set(options) - set(where)
    assert not unknown, f"the form does not show {unknown}"
    nested: dict[str, dict[str, Any]] = {name: {} for name in sections}
    for key, value in options.items():
        nested[where[key]][key] = value
    return nested


async def submit_options(hass: HomeAssistant, entry_id: str, **options: Any) -> ConfigFlowResult:
    """Open the options form and submit the given options, each in its section."""
    result = await hass.config_entries.options.async_init(entry_id)
    return await hass.config_entries.options.async_configure(result["flow_id"], nest(result, options))
