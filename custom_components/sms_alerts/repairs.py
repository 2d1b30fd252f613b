"""Fix flows for repair issues: a new IPEX webhook address to paste into SMS Chat, and a login with the right."""

from __future__ import annotations

import voluptuous as vol
from homeassistant.components.repairs import RepairsFlow
from homeassistant.const import CONF_WEBHOOK_ID
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResult
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN
from .outbox.gate import REAUTH_ISSUES
from .webhook_url import async_record_webhook_url, async_webhook_url


class WebhookUrlChangedFlow(RepairsFlow):
    """Show the new webhook address; once the user pasted it into SMS Chat, watch that one."""

    def __init__(self, entry_id: str) -> None:
        """Fix the issue of one entry."""
        self._entry_id = entry_id
        self._url: str | None = None

    async def async_step_init(self, user_input: dict[str, str] | None = None) -> FlowResult:
        """Start with the address."""
        return await self.async_step_confirm()

    async def async_step_confirm(self, user_input: dict[str, str] | None = None) -> FlowResult:
        """Show the address to paste; on submit, remember it as the one SMS Chat calls."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or entry.domain != DOMAIN or CONF_WEBHOOK_ID not in entry.data:
            return self.async_abort(reason="entry_removed")
        if user_input is not None and self._url is not None:
            async_record_webhook_url(self.hass, entry, self._url)
            return self.async_create_entry(data={})
        self._url = await async_webhook_url(self.hass, entry.data[CONF_WEBHOOK_ID])
        if self._url is None:
            return self.async_abort(reason="no_address")
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema({}),
            description_placeholders={"entry": entry.title, "webhook_url": self._url},
        )


class ReauthFlow(RepairsFlow):
    """Explain the refusal; on submit, start reauthentication, where a login that has the right is entered."""

    def __init__(self, entry_id: str) -> None:
        """Fix the issue of one entry."""
        self._entry_id = entry_id

    async def async_step_init(self, user_input: dict[str, str] | None = None) -> FlowResult:
        """Start with the explanation."""
        return await self.async_step_confirm()

    async def async_step_confirm(self, user_input: dict[str, str] | None = None) -> FlowResult:
        """Show what was refused and why; on submit, start reauthentication (Settings shows it at once)."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or entry.domain != DOMAIN:
            return self.async_abort(reason="entry_removed")
        if user_input is not None:
            entry.async_start_reauth(self.hass)
            return self.async_create_entry(data={})
        issue = ir.async_get(self.hass).async_get_issue(DOMAIN, self.issue_id)
        placeholders = dict(issue.translation_placeholders or {}) if issue is not None else {}
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema({}),
            description_placeholders={"entry": entry.title, "error": "", **placeholders},
        )


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Create the fix flow of a fixable issue: reauthentication for a refused right, else the webhook address."""
    entry_id = str((data or {})["entry_id"])
    if issue_id.removeprefix(f"{entry_id}_") in REAUTH_ISSUES:
        return ReauthFlow(entry_id)
    return WebhookUrlChangedFlow(entry_id)
