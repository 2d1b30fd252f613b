"""Config flow: a menu of providers, credential checks, reauth, reconfigure and recipients."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_NAME, CONF_PASSWORD, CONF_URL, CONF_USERNAME, CONF_VERIFY_SSL
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .api import PROVIDERS, ProviderKey
from .api.base import AccountInfo, AuthError, ProviderError, TransientError
from .api.brevisone import normalize_url
from .const import (
    CONF_FALLBACK_ENTRY,
    CONF_HANDOVER_MINUTES,
    CONF_MAX_AGE_HOURS,
    CONF_PROVIDER,
    CONF_TARGET,
    CONF_TELEGRAM,
    DEFAULT_HANDOVER_MINUTES,
    DEFAULT_MAX_AGE_HOURS,
    DOMAIN,
    LOGGER,
    SUBENTRY_RECIPIENT,
)
from .message import MessageError, parse_target

# A credential check must answer quickly in a form
VALIDATE_TIMEOUT = 20.0

_URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="current-password"))
_USERNAME = TextSelector(TextSelectorConfig(type=TextSelectorType.TEXT, autocomplete="username"))

SMS_GATEWAY_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_URL): _URL,
        vol.Required(CONF_USERNAME): _USERNAME,
        vol.Required(CONF_PASSWORD): _PASSWORD,
        vol.Required(CONF_VERIFY_SSL, default=True): bool,
        vol.Required(CONF_TELEGRAM, default=False): bool,
    }
)
SCHEMAS: dict[ProviderKey, vol.Schema] = {ProviderKey.SMS_GATEWAY: SMS_GATEWAY_SCHEMA}
URL_NORMALIZERS = {ProviderKey.SMS_GATEWAY: normalize_url}

REAUTH_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_USERNAME): _USERNAME,
        vol.Required(CONF_PASSWORD): _PASSWORD,
    }
)

RECIPIENT_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_NAME): TextSelector(),
        vol.Required(CONF_TARGET): TextSelector(TextSelectorConfig(type=TextSelectorType.TEL)),
    }
)


async def async_check_account(
    hass: HomeAssistant, key: ProviderKey, data: dict[str, Any]
) -> tuple[AccountInfo | None, dict[str, str]]:
    """Check the credentials against the provider without sending; return the account or form errors."""
    try:
        data[CONF_URL] = str(URL_NORMALIZERS[key](data[CONF_URL]))
    except ValueError:
        return None, {CONF_URL: "invalid_url"}
    session = async_get_clientsession(hass, verify_ssl=data.get(CONF_VERIFY_SSL, True))
    provider = PROVIDERS[key].from_config(session, data, timeout=VALIDATE_TIMEOUT)
    try:
        return await provider.async_validate(), {}
    except ProviderError as err:
        LOGGER.debug("Credential check failed: %s", err.reason)
        return None, {"base": form_error(err)}
    except Exception:  # noqa: BLE001 - a form must answer, whatever the device sent
        LOGGER.exception("Unexpected error while checking the credentials")
        return None, {"base": "unknown"}


# Causes that have a form error text of their own; others fall back by class, then to "unknown"
FORM_ERRORS = frozenset({"invalid_auth", "cannot_connect", "timeout", "no_api_permission", "ssl_error"})
_FALLBACK_ERRORS: dict[type[ProviderError], str] = {TransientError: "cannot_connect", AuthError: "invalid_auth"}


def form_error(err: ProviderError) -> str:
    """Pick the form error for a failed credential check."""
    if err.key in FORM_ERRORS:
        return err.key
    return _FALLBACK_ERRORS.get(type(err), "unknown")


class SmsAlertsConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a provider account."""

    VERSION = 1
    MINOR_VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> SmsAlertsOptionsFlow:
        """Fallback entry and how long messages wait."""
        return SmsAlertsOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(cls, config_entry: ConfigEntry) -> dict[str, type[ConfigSubentryFlow]]:
        """Recipients are subentries."""
        return {SUBENTRY_RECIPIENT: RecipientSubentryFlow}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Let the user pick the provider."""
        return self.async_show_menu(step_id="user", menu_options=[str(key) for key in PROVIDERS])

    async def async_step_sms_gateway(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Set up a brevis.one SMS Gateway."""
        return await self._async_step_account(ProviderKey.SMS_GATEWAY, user_input)

    async def _async_step_account(self, key: ProviderKey, user_input: dict[str, Any] | None) -> ConfigFlowResult:
        """Show the provider's form, check it, and create the entry."""
        errors: dict[str, str] = {}
        schema = SCHEMAS[key]
        if user_input is not None:
            data = {**user_input, CONF_PROVIDER: str(key)}
            info, errors = await async_check_account(self.hass, key, data)
            if info is not None:
                await self.async_set_unique_id(info.unique_id)
                self._abort_if_unique_id_configured()
                return self.async_create_entry(title=info.title, data=data)
            schema = self.add_suggested_values_to_schema(schema, user_input)
        return self.async_show_form(step_id=str(key), data_schema=schema, errors=errors)

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Change the address or login of an account (the same account only)."""
        entry = self._get_reconfigure_entry()
        key = ProviderKey(entry.data[CONF_PROVIDER])
        if user_input is None:
            suggested = {k: v for k, v in entry.data.items() if k != CONF_PASSWORD}
            return self.async_show_form(
                step_id="reconfigure",
                data_schema=self.add_suggested_values_to_schema(SCHEMAS[key], suggested),
            )
        return await self._async_step_account_reconfigure(key, user_input)

    async def _async_step_account_reconfigure(self, key: ProviderKey, user_input: dict[str, Any]) -> ConfigFlowResult:
        """Check a reconfigure form and update the entry."""
        data = {**user_input, CONF_PROVIDER: str(key)}
        info, errors = await async_check_account(self.hass, key, data)
        if info is not None:
            await self.async_set_unique_id(info.unique_id)
            self._abort_if_unique_id_mismatch(reason="wrong_account")
            return self._async_update_and_abort(self._get_reconfigure_entry(), data, "reconfigure_successful")
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(SCHEMAS[key], user_input),
            errors=errors,
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start reauthentication: the provider refused the credentials."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the login again and check it."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, **user_input}
            info, errors = await async_check_account(self.hass, ProviderKey(entry.data[CONF_PROVIDER]), data)
            if info is not None:
                await self.async_set_unique_id(info.unique_id)
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                return self._async_update_and_abort(entry, data, "reauth_successful")
        suggested = user_input or {CONF_USERNAME: entry.data.get(CONF_USERNAME)}
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=self.add_suggested_values_to_schema(REAUTH_SCHEMA, suggested),
            errors=errors,
            description_placeholders={"title": entry.title},
        )

    @callback
    def _async_update_and_abort(self, entry: ConfigEntry, data: dict[str, Any], reason: str) -> ConfigFlowResult:
        """Update the entry (its update listener reloads it) and finish.

        ConfigFlow.async_update_and_abort is missing on 2025.4; an entry left unloaded by an error is
        reloaded here even when nothing changed.
        """
        changed = self.hass.config_entries.async_update_entry(entry, data=data)
        if not changed and entry.state is not ConfigEntryState.LOADED:
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return self.async_abort(reason=reason)


def fallback_loops(hass: HomeAssistant, entry_id: str, fallback_id: str) -> bool:
    """Tell whether following fallbacks from fallback_id leads back to entry_id."""
    seen = {entry_id}
    current: str | None = fallback_id
    while current:
        if current in seen:
            return True
        seen.add(current)
        entry = hass.config_entries.async_get_entry(current)
        current = entry.options.get(CONF_FALLBACK_ENTRY) if entry is not None else None
    return False


class SmsAlertsOptionsFlow(OptionsFlow):
    """Choose the fallback entry and the outbox's timings."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show and check the options."""
        errors: dict[str, str] = {}
        if user_input is not None:
            fallback = user_input.get(CONF_FALLBACK_ENTRY) or ""
            if fallback and fallback_loops(self.hass, self.config_entry.entry_id, fallback):
                errors[CONF_FALLBACK_ENTRY] = "fallback_loop"
            else:
                return self.async_create_entry(data={**user_input, CONF_FALLBACK_ENTRY: fallback})
        others = [
            SelectOptionDict(value=entry.entry_id, label=entry.title)
            for entry in self.hass.config_entries.async_entries(DOMAIN)
            if entry.entry_id != self.config_entry.entry_id
        ]
        schema = vol.Schema(
            {
                vol.Optional(CONF_FALLBACK_ENTRY): SelectSelector(
                    SelectSelectorConfig(options=others, mode=SelectSelectorMode.DROPDOWN)
                ),
                vol.Required(CONF_HANDOVER_MINUTES, default=DEFAULT_HANDOVER_MINUTES): NumberSelector(
                    NumberSelectorConfig(
                        min=1, max=1440, step=1, unit_of_measurement="min", mode=NumberSelectorMode.BOX
                    )
                ),
                vol.Required(CONF_MAX_AGE_HOURS, default=DEFAULT_MAX_AGE_HOURS): NumberSelector(
                    NumberSelectorConfig(min=1, max=168, step=1, unit_of_measurement="h", mode=NumberSelectorMode.BOX)
                ),
            }
        )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or self.config_entry.options),
            errors=errors,
        )


class RecipientSubentryFlow(ConfigSubentryFlow):
    """Add or change a recipient: a name and a target."""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Add a recipient."""
        return await self._async_step_recipient("user", user_input)

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Rename a recipient or change its target."""
        return await self._async_step_recipient("reconfigure", user_input)

    async def _async_step_recipient(self, step_id: str, user_input: dict[str, Any] | None) -> SubentryFlowResult:
        """Check the target against the entry's provider and refuse duplicates."""
        entry = self._get_entry()
        reconfiguring = step_id == "reconfigure"
        current = self._get_reconfigure_subentry() if reconfiguring else None
        errors: dict[str, str] = {}
        if user_input is not None:
            provider = PROVIDERS[ProviderKey(entry.data[CONF_PROVIDER])]
            try:
                target = parse_target(user_input[CONF_TARGET], self.hass.config.country, provider.target_kinds)
            except MessageError as err:
                errors[CONF_TARGET] = err.key
            else:
                unique_id = str(target)
                taken = any(
                    sub.unique_id == unique_id and sub is not current
                    for sub in entry.subentries.values()
                    if sub.subentry_type == SUBENTRY_RECIPIENT
                )
                if taken:
                    return self.async_abort(reason="already_configured")
                name = user_input[CONF_NAME].strip() or unique_id
                data = {CONF_TARGET: unique_id}
                if current is not None:
                    return self.async_update_and_abort(entry, current, unique_id=unique_id, title=name, data=data)
                return self.async_create_entry(title=name, data=data, unique_id=unique_id)
        suggested = user_input or (
            {CONF_NAME: current.title, CONF_TARGET: current.data[CONF_TARGET]} if current is not None else {}
        )
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(RECIPIENT_SCHEMA, suggested),
            errors=errors,
        )
