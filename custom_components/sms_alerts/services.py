"""The actions: sms_alerts.send, and list_waiting and drop_waiting to look into an outbox and clear it by hand."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ID
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse, callback
from homeassistant.exceptions import ServiceValidationError, Unauthorized, UnknownUser
from homeassistant.helpers import config_validation as cv

from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_FLASH,
    ATTR_GSM,
    ATTR_MESSAGE,
    ATTR_POSTPONE,
    ATTR_RING,
    ATTR_SEVERITY,
    ATTR_TARGET,
    ATTR_TELEGRAM,
    ATTR_TELEGRAM_ONLY,
    ATTR_TITLE,
    DEFAULT_SEVERITY,
    DOMAIN,
    SERVICE_ACKNOWLEDGE,
    SERVICE_DROP_WAITING,
    SERVICE_LIST_WAITING,
    SERVICE_SEND,
    SEVERITIES,
)
from .data import SmsAlertsConfigEntry
from .outbox import OPTION_NAMES, SendOptions
from .recipients import resolve_recipient_entities
from .submit import async_submit, raise_for_failures

# How long an alert waits for its entry to be set up (at start) or reloaded before it fails as not loaded
LOAD_WAIT = 30.0

# How each send option (the fields of SendOptions, defined there once) is validated
_OPTION_VALIDATORS: dict[str, Any] = {
    ATTR_TELEGRAM: cv.boolean,
    ATTR_TELEGRAM_ONLY: cv.boolean,
    ATTR_RING: cv.boolean,
    ATTR_FLASH: cv.boolean,
    ATTR_POSTPONE: cv.datetime,
    ATTR_GSM: cv.string,
}
# Provider options, shared by the action and the legacy notify service's `data`
OPTIONS_SCHEMA: dict[vol.Marker, Any] = {
    **{vol.Optional(name): _OPTION_VALIDATORS[name] for name in OPTION_NAMES},
    vol.Optional(ATTR_SEVERITY, default=DEFAULT_SEVERITY): vol.In(SEVERITIES),
}

SEND_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(ATTR_MESSAGE): cv.string,
        vol.Optional(ATTR_TARGET): vol.All(cv.ensure_list, [cv.string]),
        vol.Optional(ATTR_TITLE): cv.string,
        **OPTIONS_SCHEMA,
    }
)

LIST_WAITING_SCHEMA = vol.Schema({vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string})
DROP_WAITING_SCHEMA = vol.Schema({vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string, vol.Required(ATTR_ID): cv.string})
ATTR_FINGERPRINT = "fingerprint"
ATTR_REFERENCE = "reference"
# One of fingerprint and reference is needed: checked by the action, for a translated error
ACKNOWLEDGE_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_FINGERPRINT): cv.string,
        vol.Optional(ATTR_REFERENCE): cv.string,
    }
)
SERVICE_SNOOZE = "snooze"
ATTR_MINUTES = "minutes"
SNOOZE_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_FINGERPRINT): cv.string,
        vol.Optional(ATTR_REFERENCE): cv.string,
        vol.Required(ATTR_MINUTES): vol.All(vol.Coerce(int), vol.Range(min=1, max=24 * 60)),
    }
)


def _alert_key(call: ServiceCall) -> tuple[str | None, str | None]:
    """Return the fingerprint and reference an action names an alert by; a translated error when it names none."""
    fingerprint, reference = call.data.get(ATTR_FINGERPRINT) or None, call.data.get(ATTR_REFERENCE) or None
    if fingerprint is None and reference is None:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="alert_key_missing")
    return fingerprint, reference


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions (once, from async_setup)."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_SEND,
        _async_send,
        schema=SEND_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_LIST_WAITING,
        _async_list_waiting,
        schema=LIST_WAITING_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(DOMAIN, SERVICE_DROP_WAITING, _async_drop_waiting, schema=DROP_WAITING_SCHEMA)
    hass.services.async_register(DOMAIN, SERVICE_ACKNOWLEDGE, _async_acknowledge, schema=ACKNOWLEDGE_SCHEMA)
    hass.services.async_register(DOMAIN, SERVICE_SNOOZE, _async_snooze, schema=SNOOZE_SCHEMA)


async def async_loaded_entry(hass: HomeAssistant, entry_id: str) -> SmsAlertsConfigEntry:
    """Return a loaded SMS Alerts entry, or raise a translated validation error.

    An entry is not loaded for a moment while Home Assistant starts, or while it is reloaded (after a
    change of its options, a new login): an alert sent then waits for it instead of failing.
    """
    entry: SmsAlertsConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_found",
            translation_placeholders={"entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LOAD_WAIT):
                # Home Assistant is starting and has not set the entry up yet
                await hass.config_entries.async_wait_component(entry)
                if entry.setup_lock.locked():
                    # A reload is under way
                    async with entry.setup_lock:
                        pass
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"entry": entry.title},
        )
    return entry


async def _async_send(call: ServiceCall) -> ServiceResponse:
    """Send a message through an entry and answer with one result per target."""
    entry = await async_loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    report = await async_submit(
        entry.runtime_data.outbox,
        call.data[ATTR_MESSAGE],
        call.data.get(ATTR_TITLE),
        resolve_recipient_entities(call.hass, call.data.get(ATTR_TARGET)),
        SendOptions.from_data(call.data),
        call.data[ATTR_SEVERITY],
    )
    # Partial failures are returned to a caller who asked for the results; otherwise they must not pass silently
    if len(report.failed) == len(report.results) or not call.return_response:
        raise_for_failures(report)
    if not call.return_response:
        return None
    return {"results": [result.as_dict() for result in report.results]}


async def _async_require_admin(call: ServiceCall) -> None:
    """Let only administrators (and automations, which call as no user) look into or clear an outbox.

    As core's admin actions do; written out because `async_register_admin_service` takes no response on 2025.4.
    """
    if call.context.user_id is None:
        return
    user = await call.hass.auth.async_get_user(call.context.user_id)
    if user is None:
        raise UnknownUser(context=call.context)
    if not user.is_admin:
        raise Unauthorized(context=call.context)


async def _async_list_waiting(call: ServiceCall) -> ServiceResponse:
    """Answer with the messages that wait or are held in an entry's outbox, oldest first.

    Targets are shown as stored (a number in full): the caller is an administrator, and only log lines mask them.
    """
    await _async_require_admin(call)
    entry = await async_loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    return {"messages": [message.as_dict() for message in entry.runtime_data.outbox.waiting_messages()]}


async def _async_drop_waiting(call: ServiceCall) -> None:
    """Drop one waiting or held message on purpose; it is logged and sms_alerts_failed is fired for it."""
    await _async_require_admin(call)
    entry = await async_loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    if not await entry.runtime_data.outbox.async_drop(call.data[ATTR_ID]):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="message_not_waiting",
            translation_placeholders={"id": call.data[ATTR_ID], "entry": entry.title},
        )


async def _async_acknowledge(call: ServiceCall) -> None:
    """Mark an open alert of an entry's alert sources acknowledged (by fingerprint or reference)."""
    fingerprint, reference = _alert_key(call)
    entry = await async_loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    if await entry.runtime_data.alert_sources.async_acknowledge(fingerprint=fingerprint, code=reference) is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="alert_not_open",
            translation_placeholders={"alert": fingerprint or reference or "", "entry": entry.title},
        )


async def _async_snooze(call: ServiceCall) -> None:
    """Hold the escalation of an open alert for some minutes (by fingerprint or reference)."""
    fingerprint, reference = _alert_key(call)
    entry = await async_loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    found, held = await entry.runtime_data.alert_sources.async_snooze(
        fingerprint=fingerprint, code=reference, minutes=call.data[ATTR_MINUTES]
    )
    if found is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="alert_not_open",
            translation_placeholders={"alert": fingerprint or reference or "", "entry": entry.title},
        )
    if not held:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="alert_not_escalating",
            translation_placeholders={"alert": found.code, "entry": entry.title},
        )
