"""Config flow: a menu of providers, credential checks, reauth, reconfigure and recipients."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import voluptuous as vol
from homeassistant.components import webhook
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_NAME, CONF_PASSWORD, CONF_URL, CONF_USERNAME, CONF_VERIFY_SSL, CONF_WEBHOOK_ID
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import section
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
    TimeSelector,
)
from homeassistant.helpers.service_info.usb import UsbServiceInfo
from homeassistant.util import slugify
from yarl import URL

from .api import PROVIDERS, ProviderKey, brevisone, ipex, pbxware, tls, wildix
from .api.base import (
    CONF_PARALLEL_REQUESTS,
    DEFAULT_PARALLEL_REQUESTS,
    MAX_PARALLEL_REQUESTS,
    AccountInfo,
    AuthError,
    Provider,
    ProviderError,
    TlsError,
    TransientError,
    netloc,
    web_url,
)
from .api.brevisone_rest import CONF_API
from .api.modem import CONF_BAUDRATE, CONF_PIN, CONF_PORT, DEFAULT_BAUDRATE
from .config_flow_modem import FORM_ERRORS as MODEM_FORM_ERRORS
from .config_flow_modem import (
    MODEM_SCHEMA,
    USB_CONFIRM_SCHEMA,
    UsbModem,
    async_find_command_port,
    async_modem_schema,
    holds_modem,
    modem_entry_ports,
    normalize_modem,
    usb_modem,
)
from .config_flow_modem import REAUTH_SCHEMA as MODEM_REAUTH_SCHEMA
from .const import (
    CONF_ACK_REFERENCE,
    CONF_DAILY_BUDGET,
    CONF_DEDUP_MINUTES,
    CONF_FALLBACK_ENTRY,
    CONF_GSM_ONLY,
    CONF_HANDOVER_MINUTES,
    CONF_LONG_MESSAGES,
    CONF_MAX_AGE_HOURS,
    CONF_PROVIDER,
    CONF_QUIET_END,
    CONF_QUIET_START,
    CONF_RATE_LIMIT,
    CONF_SEVERITY,
    CONF_TARGET,
    CONF_TELEGRAM,
    CONF_WEBHOOK_URL,
    DEFAULT_DAILY_BUDGET,
    DEFAULT_DEDUP_MINUTES,
    DEFAULT_HANDOVER_MINUTES,
    DEFAULT_MAX_AGE_HOURS,
    DEFAULT_RATE_LIMIT,
    DEFAULT_SEVERITY,
    DOMAIN,
    LOGGER,
    LONG_SINGLE,
    LONG_SPLIT,
    SEVERITIES,
    SUBENTRY_ALERT_SOURCE,
    SUBENTRY_RECIPIENT,
)
from .data import SmsAlertsConfigEntry
from .message import MessageError, parse_target
from .modem_pin import confirm_pin
from .session import async_entry_session
from .source_flow import AlertSourceSubentryFlow
from .webhook_url import async_entry_webhook_url, async_webhook_url, placeholder_webhook_url

# A credential check must answer quickly in a form
VALIDATE_TIMEOUT = 20.0
# How long the check for plain HTTP on an https port waits, for the handshake and for the answer each
PROBE_TIMEOUT = 5.0
# Opening a Wildix reauth form waits this long at most to tell a PBX that now takes only API keys
KEYS_ONLY_CHECK_TIMEOUT = 5.0

CONF_API_KEY = "api_key"
CONF_SERVER = "server"
CONF_GSM = "gsm"
CONF_API_TOKEN = "api_token"  # noqa: S105 - the name of a field, not a secret
CONF_AUTH_URL = "auth_url"
CONF_INSTANT_URL = "instant_url"
CONF_SENDER = "sender"
CONF_SHORTNAME = "shortname"
CONF_MODE = "mode"
CONF_MAX_LENGTH = "max_length"
CONF_LOOKALIKE_CHARS = "lookalike_chars"

_URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="current-password"))
_SECRET = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_USERNAME = TextSelector(TextSelectorConfig(type=TextSelectorType.TEXT, autocomplete="username"))
_TEXT = TextSelector()
# The entry's name (its title): empty takes the device's or account's own name
_NAME: dict[vol.Marker, Any] = {vol.Optional(CONF_NAME): _TEXT}

SMS_GATEWAY_SCHEMA = vol.Schema(
    {
        **_NAME,
        vol.Required(CONF_URL): _URL,
        vol.Required(CONF_USERNAME): _USERNAME,
        vol.Required(CONF_PASSWORD): _PASSWORD,
        vol.Required(CONF_VERIFY_SSL, default=True): bool,
        vol.Required(CONF_TELEGRAM, default=False): bool,
        vol.Required(brevisone.CONF_LEGACY_TLS, default=False): bool,
    }
)
# The sender's login, or instead a Company API key (a PBX that takes only keys)
WILDIX_CREDENTIALS: dict[vol.Marker, Any] = {
    vol.Optional(CONF_USERNAME): _USERNAME,
    vol.Optional(CONF_PASSWORD): _PASSWORD,
    vol.Optional(CONF_API_KEY): _SECRET,
}
WILDIX_SCHEMA = vol.Schema(
    {
        **_NAME,
        vol.Required(CONF_URL): _URL,
        **WILDIX_CREDENTIALS,
        vol.Required(CONF_VERIFY_SSL, default=True): bool,
        vol.Optional(CONF_GSM): _TEXT,
    }
)
PBXWARE_SCHEMA = vol.Schema(
    {
        **_NAME,
        vol.Required(CONF_URL): _URL,
        vol.Required(CONF_API_KEY): _SECRET,
        vol.Required(CONF_SERVER, default="1"): _TEXT,
        vol.Required(CONF_VERIFY_SSL, default=True): bool,
    }
)
IPEX_SCHEMA = vol.Schema(
    {
        **_NAME,
        vol.Required(CONF_URL, default=ipex.DEFAULT_URL): _URL,
        vol.Optional(CONF_USERNAME): _USERNAME,
        vol.Optional(CONF_PASSWORD): _PASSWORD,
        vol.Optional(CONF_API_TOKEN): _SECRET,
        vol.Required(CONF_AUTH_URL, default=ipex.DEFAULT_AUTH_URL): _URL,
        vol.Required(CONF_INSTANT_URL, default=ipex.DEFAULT_INSTANT_URL): _URL,
    }
)
LOGIN_SCHEMA = vol.Schema({vol.Required(CONF_USERNAME): _USERNAME, vol.Required(CONF_PASSWORD): _PASSWORD})
REAUTH_SCHEMAS: dict[ProviderKey, vol.Schema] = {
    ProviderKey.SMS_GATEWAY: LOGIN_SCHEMA,
    ProviderKey.WILDIX: vol.Schema(WILDIX_CREDENTIALS),
    ProviderKey.PBXWARE: vol.Schema({vol.Required(CONF_API_KEY): _SECRET}),
    ProviderKey.IPEX: vol.Schema(
        {
            vol.Optional(CONF_USERNAME): _USERNAME,
            vol.Optional(CONF_PASSWORD): _PASSWORD,
            vol.Optional(CONF_API_TOKEN): _SECRET,
        }
    ),
    ProviderKey.MODEM: MODEM_REAUTH_SCHEMA,
}
SCHEMAS: dict[ProviderKey, vol.Schema] = {
    ProviderKey.SMS_GATEWAY: SMS_GATEWAY_SCHEMA,
    ProviderKey.WILDIX: WILDIX_SCHEMA,
    ProviderKey.PBXWARE: PBXWARE_SCHEMA,
    ProviderKey.IPEX: IPEX_SCHEMA,
    ProviderKey.MODEM: MODEM_SCHEMA,
}
# Reconfigure changes the address and login; the name is changed where Home Assistant renames entries
RECONFIGURE_SCHEMAS: dict[ProviderKey, vol.Schema] = {
    key: vol.Schema({marker: value for marker, value in schema.schema.items() if str(marker) != CONF_NAME})
    for key, schema in SCHEMAS.items()
}
# Never shown back in a form
SECRETS = frozenset({CONF_PASSWORD, CONF_API_KEY, CONF_API_TOKEN, CONF_PIN})

RECIPIENT_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_NAME): TextSelector(),
        vol.Required(CONF_TARGET): TextSelector(TextSelectorConfig(type=TextSelectorType.TEL)),
        vol.Optional(CONF_QUIET_START): TimeSelector(),
        vol.Optional(CONF_QUIET_END): TimeSelector(),
        vol.Required(CONF_SEVERITY, default=DEFAULT_SEVERITY): SelectSelector(
            SelectSelectorConfig(options=list(SEVERITIES), translation_key="severity", mode=SelectSelectorMode.LIST)
        ),
    }
)


def _http_url(raw: str) -> str:
    """Return an http(s) address with https as default scheme; raise ValueError otherwise."""
    return str(web_url(raw))


def _normalize_sms_gateway(data: dict[str, Any]) -> dict[str, str]:
    """Tidy an SMS Gateway form."""
    data[CONF_URL] = str(brevisone.normalize_url(data[CONF_URL]))
    return {}


def _normalize_wildix(data: dict[str, Any]) -> dict[str, str]:
    """Tidy a Wildix form: a login or an API key; the gateway MAC becomes 12 lower-case hex digits."""
    data[CONF_URL] = str(wildix.normalize_url(data[CONF_URL]))
    if CONF_API_KEY in data and CONF_PASSWORD not in data:
        data[CONF_API_KEY] = data[CONF_API_KEY].strip()
        data.pop(CONF_USERNAME, None)  # a username left from the login is no part of a key
    elif CONF_API_KEY in data or not (data.get(CONF_USERNAME) and data.get(CONF_PASSWORD)):
        return {"base": "wildix_credentials"}
    if CONF_GSM in data:
        try:
            data[CONF_GSM] = wildix.normalize_gsm(data[CONF_GSM])
        except ValueError:
            return {CONF_GSM: "invalid_gsm"}
    return {}


def _normalize_pbxware(data: dict[str, Any]) -> dict[str, str]:
    """Tidy a PBXware form."""
    data[CONF_URL] = str(pbxware.normalize_url(data[CONF_URL]))
    data[CONF_SERVER] = str(data.get(CONF_SERVER, "")).strip()
    return {}


def _normalize_ipex(data: dict[str, Any]) -> dict[str, str]:
    """Tidy an IPEX form: a pasted token, or a username with its password."""
    data[CONF_URL] = _http_url(data.get(CONF_URL, ipex.DEFAULT_URL))
    for field, default in ((CONF_AUTH_URL, ipex.DEFAULT_AUTH_URL), (CONF_INSTANT_URL, ipex.DEFAULT_INSTANT_URL)):
        try:
            data[field] = _http_url(data.get(field, default))
        except ValueError:
            return {field: "invalid_url"}
    if CONF_API_TOKEN in data:
        data.pop(CONF_USERNAME, None)
        data.pop(CONF_PASSWORD, None)
    elif not (data.get(CONF_USERNAME) and data.get(CONF_PASSWORD)):
        return {"base": "missing_credentials"}
    return {}


_NORMALIZERS: dict[ProviderKey, Callable[[dict[str, Any]], dict[str, str]]] = {
    ProviderKey.SMS_GATEWAY: _normalize_sms_gateway,
    ProviderKey.WILDIX: _normalize_wildix,
    ProviderKey.PBXWARE: _normalize_pbxware,
    ProviderKey.IPEX: _normalize_ipex,
    ProviderKey.MODEM: normalize_modem,
}


def _normalize(key: ProviderKey, data: dict[str, Any]) -> dict[str, str]:
    """Tidy what the user typed, in place; return field errors."""
    for field in [name for name, value in data.items() if isinstance(value, str) and not value.strip()]:
        del data[field]  # an emptied optional field is no value
    try:
        return _NORMALIZERS[key](data)
    except (ValueError, KeyError):
        return {CONF_URL: "invalid_url"}


def _provider(hass: HomeAssistant, key: ProviderKey, data: dict[str, Any]) -> Provider:
    """Build a short-lived client for a credential check."""
    return PROVIDERS[key].from_config(async_entry_session(hass, data), data, timeout=VALIDATE_TIMEOUT)


def _ipex(hass: HomeAssistant, data: dict[str, Any]) -> ipex.IpexProvider:
    """Build a short-lived IPEX client, for the sender step."""
    return ipex.IpexProvider.from_config(async_get_clientsession(hass), data, timeout=VALIDATE_TIMEOUT)


async def async_check_account(
    hass: HomeAssistant, key: ProviderKey, data: dict[str, Any]
) -> tuple[AccountInfo | None, dict[str, str]]:
    """Check the credentials against the provider without sending; return the account or form errors."""
    errors = _normalize(key, data)
    if errors:
        return None, errors
    try:
        return await _provider(hass, key, data).async_validate(), {}
    except ProviderError as err:
        LOGGER.debug("Credential check failed: %s", err.reason)
        return None, {"base": await _async_form_error(data, err)}
    except Exception:  # noqa: BLE001 - a form must answer, whatever the device sent
        LOGGER.exception("Unexpected error while checking the credentials")
        return None, {"base": "unknown"}


# Causes that have a form error text of their own; others fall back by class, then to "unknown"
FORM_ERRORS = frozenset(
    {
        "invalid_auth",
        "cannot_connect",
        "timeout",
        "no_api_permission",
        *tls.CASES,
        "no_sms_api",
        "redirected",
        "basic_disabled",
        "api_key_scope",
        *MODEM_FORM_ERRORS,
    }
)
_FALLBACK_ERRORS: dict[type[ProviderError], str] = {TransientError: "cannot_connect", AuthError: "invalid_auth"}


def form_error(err: ProviderError) -> str:
    """Pick the form error for a failed credential check."""
    if isinstance(err, TlsError):
        return err.case
    if err.key in FORM_ERRORS:
        return err.key
    return _FALLBACK_ERRORS.get(type(err), "unknown")


async def _async_form_error(data: dict[str, Any], err: ProviderError) -> str:
    """Pick the form error; where an https address failed before any answer, ask its port in plain HTTP.

    A device without TLS on that port may refuse the handshake in a way OpenSSL does not name, cut
    the connection, or wait for more: if it answers a plain HTTP request, the fix is its http:// address.
    """
    key = form_error(err)
    probe = key in (tls.FAILED, "cannot_connect", "timeout") and CONF_URL in data
    if probe and await tls.async_answers_plain_http(URL(data[CONF_URL]), PROBE_TIMEOUT):
        return tls.PLAIN_HTTP
    return key


class SmsAlertsConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a provider account."""

    VERSION = 1
    MINOR_VERSION = 3

    def __init__(self) -> None:
        """Keep a checked IPEX account while its sender is chosen."""
        self._pending: dict[str, Any] = {}
        self._numbers: list[str] = []
        self._name = ""
        # A USB modem discovered, and its port that answered AT
        self._usb: UsbModem | None = None
        self._usb_port = ""

    def _name_taken(self, name: str) -> bool:
        """Tell whether another entry has this name: the legacy notify service notify.<name> would be shared."""
        return bool(name) and any(
            slugify(entry.title) == slugify(name) for entry in self.hass.config_entries.async_entries(DOMAIN)
        )

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: SmsAlertsConfigEntry) -> SmsAlertsOptionsFlow:
        """Fallback entry, how long messages wait, and provider options."""
        return SmsAlertsOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: SmsAlertsConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Recipients and alert sources are subentries."""
        return {SUBENTRY_RECIPIENT: RecipientSubentryFlow, SUBENTRY_ALERT_SOURCE: AlertSourceSubentryFlow}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Let the user pick the provider."""
        return self.async_show_menu(step_id="user", menu_options=[str(key) for key in PROVIDERS])

    async def async_step_sms_gateway(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Set up a brevis.one SMS Gateway."""
        return await self._async_step_account(ProviderKey.SMS_GATEWAY, user_input)

    async def async_step_wildix(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Set up a Wildix PBX with a GSM gateway."""
        return await self._async_step_account(ProviderKey.WILDIX, user_input)

    async def async_step_pbxware(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Set up a Bicom PBXware tenant."""
        return await self._async_step_account(ProviderKey.PBXWARE, user_input)

    async def async_step_ipex(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Set up an IPEX / Voipex account; the sender is chosen next."""
        return await self._async_step_account(ProviderKey.IPEX, user_input)

    async def async_step_modem(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Set up a GSM modem on a serial or USB port."""
        return await self._async_step_account(ProviderKey.MODEM, user_input, await async_modem_schema(self.hass))

    async def async_step_usb(self, discovery_info: UsbServiceInfo) -> ConfigFlowResult:
        """Take a USB modem plugged in: find its command port among its sibling ports, then ask to confirm."""
        info = discovery_info
        modem = await self.hass.async_add_executor_job(
            usb_modem, info.device, info.vid, info.pid, info.serial_number, info.manufacturer, info.description
        )
        await self.async_set_unique_id(modem.unique_id)
        self._abort_if_unique_id_configured()
        # An entry set up by hand has its port as its id: the same modem is found by its ports
        if await self.hass.async_add_executor_job(holds_modem, modem_entry_ports(self.hass), modem):
            return self.async_abort(reason="already_configured")
        self._usb = modem
        self.context["title_placeholders"] = {"name": modem.name}
        self._usb_port = await async_find_command_port(modem.ports) or ""
        if not self._usb_port:
            # None answered: the port form, with the port reported, to choose another or another baud rate
            schema = await async_modem_schema(self.hass)
            return self.async_show_form(
                step_id=str(ProviderKey.MODEM),
                data_schema=self.add_suggested_values_to_schema(schema, {CONF_PORT: modem.ports[0]}),
                errors={"base": "no_answer"},
            )
        return await self.async_step_usb_confirm()

    async def async_step_usb_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Confirm the discovered modem, with its SIM PIN and SMS centre if it needs them."""
        assert self._usb is not None  # noqa: S101 - reached from async_step_usb only
        if user_input is not None:
            data = {**user_input, CONF_PORT: self._usb_port, CONF_BAUDRATE: str(DEFAULT_BAUDRATE)}
            return await self._async_step_account(ProviderKey.MODEM, data, await async_modem_schema(self.hass))
        return self.async_show_form(
            step_id="usb_confirm",
            data_schema=USB_CONFIRM_SCHEMA,
            description_placeholders={"name": self._usb.name, "port": self._usb_port},
        )

    async def _async_step_account(
        self, key: ProviderKey, user_input: dict[str, Any] | None, form: vol.Schema | None = None
    ) -> ConfigFlowResult:
        """Show the provider's form, check it, and create the entry."""
        errors: dict[str, str] = {}
        schema = form if form is not None else SCHEMAS[key]
        if user_input is not None:
            data = {**user_input, CONF_PROVIDER: str(key)}
            name = str(data.pop(CONF_NAME, "")).strip()
            info: AccountInfo | None = None
            errors = {CONF_NAME: "name_taken"} if self._name_taken(name) else {}
            if not errors and key is ProviderKey.MODEM:
                # A port an entry holds open is not opened a second time for a check
                errors = normalize_modem(data)
                if not errors:
                    await self.async_set_unique_id(_provider(self.hass, key, data).identity().unique_id)
                    self._abort_if_unique_id_configured()
            if not errors:
                info, errors = await async_check_account(self.hass, key, data)
            if info is not None and key is ProviderKey.IPEX:
                self._pending = data
                self._name = name
                return await self._async_ipex_numbers()
            if info is not None:
                await self.async_set_unique_id(info.unique_id)
                self._abort_if_unique_id_configured()
                if self._name_taken(name or info.title):
                    errors = {CONF_NAME: "name_taken"}
                else:
                    return self.async_create_entry(title=name or info.title, data={**data, **info.data})
            schema = self.add_suggested_values_to_schema(schema, _without_secrets(user_input))
        return self.async_show_form(step_id=str(key), data_schema=schema, errors=errors)

    async def _async_ipex_numbers(self) -> ConfigFlowResult:
        """Read the account's SMS numbers for the sender step."""
        try:
            self._numbers = await _ipex(self.hass, self._pending).async_allowed_numbers()
        except ProviderError as err:
            return self.async_show_form(
                step_id="ipex",
                data_schema=self.add_suggested_values_to_schema(IPEX_SCHEMA, _without_secrets(self._pending)),
                errors={"base": form_error(err)},
            )
        return await self.async_step_sender()

    async def async_step_sender(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose the number to send from: an SMS Chat number, or a trunk number for instant SMS."""
        if user_input is not None:
            mode = ipex.MODE_CHAT if self._numbers else ipex.MODE_INSTANT
            data = {**self._pending, **user_input, CONF_MODE: mode, CONF_WEBHOOK_ID: webhook.async_generate_id()}
            info = _ipex(self.hass, data).identity()
            await self.async_set_unique_id(info.unique_id)
            self._abort_if_unique_id_configured()
            url = await async_webhook_url(self.hass, data[CONF_WEBHOOK_ID])
            if url is not None:
                data[CONF_WEBHOOK_URL] = url  # what SMS Chat will call, watched from now on
            return self.async_create_entry(
                title=self._name or info.title,
                data=data,
                description="webhook",
                description_placeholders={"webhook_url": url or placeholder_webhook_url(data[CONF_WEBHOOK_ID])},
            )
        return self.async_show_form(step_id="sender", data_schema=self._sender_schema(), last_step=True)

    def _sender_schema(self, current: Mapping[str, Any] | None = None) -> vol.Schema:
        """Return the sender form: one of the account's SMS Chat numbers, or a trunk number for instant SMS."""
        if self._numbers:
            chosen = str((current or {}).get(CONF_SENDER, ""))
            return vol.Schema(
                {
                    vol.Required(CONF_SENDER, default=chosen if chosen in self._numbers else self._numbers[0]): (
                        SelectSelector(SelectSelectorConfig(options=self._numbers, mode=SelectSelectorMode.LIST))
                    )
                }
            )
        schema = vol.Schema(
            {
                vol.Required(CONF_SENDER): TextSelector(TextSelectorConfig(type=TextSelectorType.TEL)),
                vol.Optional(CONF_SHORTNAME): _TEXT,
            }
        )
        if current is not None and current.get(CONF_MODE) == ipex.MODE_INSTANT:
            schema = self.add_suggested_values_to_schema(schema, current)
        return schema

    async def async_step_reconfigure_sender(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose the number an IPEX entry sends from anew (its webhook, recipients, sources and ids stay)."""
        entry = self._get_reconfigure_entry()
        if user_input is not None:
            mode = ipex.MODE_CHAT if self._numbers else ipex.MODE_INSTANT
            data = {k: v for k, v in self._pending.items() if k != CONF_SHORTNAME}
            data = {**data, **user_input, CONF_MODE: mode}
            info = _ipex(self.hass, data).identity()
            await self.async_set_unique_id(info.unique_id)
            if info.unique_id != entry.unique_id:
                # Another entry sends from that number already
                self._abort_if_unique_id_configured()
            return self._async_update_and_abort(entry, data, "reconfigure_successful")
        return self.async_show_form(
            step_id="reconfigure_sender",
            data_schema=self._sender_schema(entry.data),
            description_placeholders={"title": entry.title},
            last_step=True,
        )

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Change the address or login of an account (the same account only); its name, recipients and ids stay."""
        entry = self._get_reconfigure_entry()
        key = ProviderKey(entry.data[CONF_PROVIDER])
        errors: dict[str, str] = {}
        suggested: Mapping[str, Any] = _without_secrets(entry.data)
        if user_input is not None:
            # The API a gateway offers is found again (CONF_API left out), as after a firmware change
            kept = {k: v for k, v in entry.data.items() if k not in SCHEMAS[key].schema and k != CONF_API}
            if not user_input.get(CONF_PIN) and entry.data.get(CONF_PIN):
                # A SIM PIN is never shown again: left empty, the stored one stays (else the next power cut locks)
                kept[CONF_PIN] = entry.data[CONF_PIN]
            data = {**kept, **user_input, CONF_PROVIDER: str(key)}
            if not data.get(CONF_PIN):
                data.pop(CONF_PIN, None)
            info, errors = await async_check_account(self.hass, key, data)
            if info is not None and key is ProviderKey.IPEX:
                # An IPEX entry is its sender number: chosen again from what the account may send from
                self._pending = {**data, **info.data}
                try:
                    self._numbers = await _ipex(self.hass, self._pending).async_allowed_numbers()
                except ProviderError as err:
                    errors = {"base": form_error(err)}
                else:
                    return await self.async_step_reconfigure_sender()
            elif info is not None:
                await self._async_check_same_account(entry, info, data)
                return self._async_update_and_abort(entry, {**data, **info.data}, "reconfigure_successful")
            suggested = _without_secrets(user_input)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(RECONFIGURE_SCHEMAS[key], suggested),
            errors=errors,
            description_placeholders={"title": entry.title},
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start reauthentication: the provider refused the credentials."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the secret again and check it."""
        entry = self._get_reauth_entry()
        key = ProviderKey(entry.data[CONF_PROVIDER])
        errors: dict[str, str] = {}
        if user_input is not None:
            login = {k: v for k, v in entry.data.items() if k not in (CONF_USERNAME, CONF_API, *SECRETS)}
            data = {**login, **user_input}
            info, errors = await async_check_account(self.hass, key, data)
            if info is not None:
                await self._async_check_same_account(entry, info, data)
                return self._async_update_and_abort(entry, {**data, **info.data}, "reauth_successful")
        elif key is ProviderKey.WILDIX:
            errors = await self._async_wildix_keys_only(entry)
        suggested = _without_secrets(user_input or entry.data)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=self.add_suggested_values_to_schema(REAUTH_SCHEMAS[key], suggested),
            errors=errors,
            description_placeholders={"title": entry.title},
        )

    async def _async_check_same_account(
        self, entry: SmsAlertsConfigEntry, info: AccountInfo, data: dict[str, Any]
    ) -> None:
        """Abort unless the settings are the entry's account, and no other entry has it already.

        The address and login may change; a new key or a switch between a Wildix login and an API key
        only at the same address, since the key is all that names such an account.
        """
        key = ProviderKey(entry.data[CONF_PROVIDER])
        old = _provider(self.hass, key, dict(entry.data)).identity()
        await self.async_set_unique_id(info.unique_id)
        if info.unique_id != entry.unique_id:
            # The same device under another name (localhost, 127.0.0.1) must not become two entries
            self._abort_if_unique_id_configured()
        same_address = _address(entry.data) == _address(data)
        if info.unique_id == old.unique_id or (same_address and info.account_id == old.account_id):
            return
        if key is ProviderKey.MODEM and self.source == SOURCE_RECONFIGURE:
            # A modem entry is its port's: moved to another port (as the modem_unsupported issue asks), it is the
            # same entry with its recipients, sources and ids; another entry on that port aborted above
            return
        if key is ProviderKey.WILDIX and wildix.switches_auth(entry.data, data):
            return
        self._abort_if_unique_id_mismatch(reason="wrong_account")

    async def _async_wildix_keys_only(self, entry: SmsAlertsConfigEntry) -> dict[str, str]:
        """Say at once when the PBX of a login entry now takes only API keys."""
        if CONF_API_KEY in entry.data:
            return {}
        try:
            async with asyncio.timeout(KEYS_ONLY_CHECK_TIMEOUT):
                _, errors = await async_check_account(self.hass, ProviderKey.WILDIX, dict(entry.data))
        except TimeoutError:
            return {}
        return errors if errors.get("base") == "basic_disabled" else {}

    @callback
    def _async_update_and_abort(
        self, entry: SmsAlertsConfigEntry, data: dict[str, Any], reason: str
    ) -> ConfigFlowResult:
        """Update the entry (its update listener reloads it) and finish.

        ConfigFlow.async_update_and_abort is missing on 2025.4; an entry left unloaded by an error is
        reloaded here even when nothing changed.
        """
        # A SIM PIN the check just entered is no refused one any more (modem_pin)
        confirm_pin(self.hass, entry.entry_id, data.get(CONF_PIN))
        changed = self.hass.config_entries.async_update_entry(entry, data=data, unique_id=self.unique_id)
        if not changed and entry.state is not ConfigEntryState.LOADED:
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return self.async_abort(reason=reason)


def _address(data: Mapping[str, Any]) -> str:
    """Return the host and non-default port a setting points at (a modem's: its serial port)."""
    if CONF_PORT in data:
        return str(data[CONF_PORT])
    return netloc(web_url(str(data.get(CONF_URL, ""))))


def _without_secrets(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return what a form may show back: everything but passwords, keys and tokens."""
    return {key: value for key, value in data.items() if key not in SECRETS}


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


SECTION_FALLBACK = "fallback"
SECTION_STORM = "storm_control"
SECTION_TEXT = "text"
SECTION_REPLIES = "replies"
# Sections a user rarely opens start collapsed; the fallback and the webhook address stay in view
_COLLAPSED = frozenset({SECTION_STORM, SECTION_TEXT})


def _flat(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return the options of a sectioned form as the flat mapping the entry stores."""
    flat: dict[str, Any] = {}
    for key, value in user_input.items():
        if isinstance(value, Mapping):
            flat.update(value)
        else:
            flat[key] = value
    return flat


def _nested(options: Mapping[str, Any], sections: Mapping[str, Mapping[vol.Marker, Any]]) -> dict[str, Any]:
    """Return stored flat options in the form's sections, as suggested values."""
    return {
        name: {str(key): options[str(key)] for key in fields if str(key) in options}
        for name, fields in sections.items()
    }


class SmsAlertsOptionsFlow(OptionsFlow):
    """Choose the fallback entry, storm control and the text; stored flat, shown in sections."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show and check the options (on IPEX with its webhook address: a step of its own)."""
        if CONF_WEBHOOK_ID in self.config_entry.data:
            return await self.async_step_webhook(user_input)
        return await self._async_form("init", user_input)

    async def async_step_webhook(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show and check the options of an entry that receives replies, with the address to paste.

        A step of its own, because the frontend of 2025.4 gives description placeholders to a step's
        description, not to a section's.
        """
        return await self._async_form("webhook", user_input)

    async def _async_form(self, step_id: str, user_input: dict[str, Any] | None) -> ConfigFlowResult:
        """Show and check the options in the step `step_id`."""
        errors: dict[str, str] = {}
        if user_input is not None:
            options = _flat(user_input)
            fallback = options.get(CONF_FALLBACK_ENTRY) or ""
            if fallback and fallback_loops(self.hass, self.config_entry.entry_id, fallback):
                errors["base"] = "fallback_loop"
            else:
                return self.async_create_entry(data={**options, CONF_FALLBACK_ENTRY: fallback})
        sections = self._sections()
        schema = vol.Schema(
            {
                vol.Required(name): section(vol.Schema(fields), {"collapsed": name in _COLLAPSED})
                for name, fields in sections.items()
            }
        )
        placeholders: dict[str, str] = {}
        if CONF_WEBHOOK_ID in self.config_entry.data:
            placeholders["webhook_url"] = await async_entry_webhook_url(self.hass, self.config_entry)
        stored = dict(self.config_entry.options)
        fallback_id = stored.get(CONF_FALLBACK_ENTRY)
        if not fallback_id or self.hass.config_entries.async_get_entry(fallback_id) is None:
            # None chosen (stored as ""), or that entry was deleted: suggested, the selector would refuse it
            stored.pop(CONF_FALLBACK_ENTRY, None)
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(schema, user_input or _nested(stored, sections)),
            errors=errors,
            description_placeholders=placeholders,
        )

    def _sections(self) -> dict[str, dict[vol.Marker, Any]]:
        """Return the fields of each section, only those that apply to the entry's provider."""
        data = self.config_entry.data
        provider = PROVIDERS[ProviderKey(data[CONF_PROVIDER])]
        others = [
            SelectOptionDict(value=entry.entry_id, label=entry.title)
            for entry in self.hass.config_entries.async_entries(DOMAIN)
            if entry.entry_id != self.config_entry.entry_id
        ]
        fallback: dict[vol.Marker, Any] = {
            vol.Optional(CONF_FALLBACK_ENTRY): SelectSelector(
                SelectSelectorConfig(options=others, mode=SelectSelectorMode.DROPDOWN)
            ),
            vol.Required(CONF_HANDOVER_MINUTES, default=DEFAULT_HANDOVER_MINUTES): NumberSelector(
                NumberSelectorConfig(min=1, max=1440, step=1, unit_of_measurement="min", mode=NumberSelectorMode.BOX)
            ),
            vol.Required(CONF_MAX_AGE_HOURS, default=DEFAULT_MAX_AGE_HOURS): NumberSelector(
                NumberSelectorConfig(min=1, max=168, step=1, unit_of_measurement="h", mode=NumberSelectorMode.BOX)
            ),
        }
        storm: dict[vol.Marker, Any] = {
            vol.Required(CONF_DEDUP_MINUTES, default=DEFAULT_DEDUP_MINUTES): NumberSelector(
                NumberSelectorConfig(min=0, max=1440, step=1, unit_of_measurement="min", mode=NumberSelectorMode.BOX)
            ),
            vol.Required(CONF_RATE_LIMIT, default=DEFAULT_RATE_LIMIT): NumberSelector(
                NumberSelectorConfig(min=0, max=1000, step=1, mode=NumberSelectorMode.BOX)
            ),
            vol.Required(CONF_DAILY_BUDGET, default=DEFAULT_DAILY_BUDGET): NumberSelector(
                NumberSelectorConfig(min=0, max=100000, step=1, mode=NumberSelectorMode.BOX)
            ),
        }
        if provider.sends_in_parallel:
            storm[vol.Required(CONF_PARALLEL_REQUESTS, default=DEFAULT_PARALLEL_REQUESTS)] = NumberSelector(
                NumberSelectorConfig(min=1, max=MAX_PARALLEL_REQUESTS, step=1, mode=NumberSelectorMode.BOX)
            )
        text: dict[vol.Marker, Any] = {
            vol.Required(CONF_LONG_MESSAGES, default=LONG_SPLIT): SelectSelector(
                SelectSelectorConfig(
                    options=[LONG_SPLIT, LONG_SINGLE], translation_key="long_messages", mode=SelectSelectorMode.LIST
                )
            ),
            vol.Required(CONF_GSM_ONLY, default=False): bool,
        }
        if provider.key == ProviderKey.WILDIX:
            text[vol.Required(CONF_MAX_LENGTH, default=str(wildix.DEFAULT_MAX_LENGTH))] = SelectSelector(
                SelectSelectorConfig(
                    options=[str(wildix.DEFAULT_MAX_LENGTH), str(wildix.LEGACY_MAX_LENGTH)],
                    translation_key="max_length",
                    mode=SelectSelectorMode.LIST,
                )
            )
            text[vol.Required(CONF_LOOKALIKE_CHARS, default=True)] = bool
        sections = {SECTION_FALLBACK: fallback, SECTION_STORM: storm, SECTION_TEXT: text}
        if CONF_WEBHOOK_ID in data:
            # The webhook address is shown here; a reference helps only where replies come back
            sections[SECTION_REPLIES] = (
                {vol.Required(CONF_ACK_REFERENCE, default=False): bool} if provider.receives_replies(data) else {}
            )
        elif provider.receives_replies(data):
            # Replies reach the entry without a webhook (a modem's SIM)
            sections[SECTION_REPLIES] = {vol.Required(CONF_ACK_REFERENCE, default=False): bool}
        return sections


def _recipient_name_error(entry: SmsAlertsConfigEntry, name: str, current: ConfigSubentry | None) -> str | None:
    """Refuse a name that routes and escalation steps could not tell apart: another's (any case), or one with , or |.

    They name recipients in lines like `severity=critical -> On call, Night` and `On call | 10`.
    """
    if any(mark in name for mark in (",", "|")) or "->" in name:
        return "name_separator"
    taken = any(
        sub.title.strip().casefold() == name.casefold() and sub is not current
        for sub in entry.subentries.values()
        if sub.subentry_type == SUBENTRY_RECIPIENT
    )
    return "name_taken" if taken else None


class RecipientSubentryFlow(ConfigSubentryFlow):
    """Add or change a recipient: a name, a target, quiet hours and the severity of its notify entity."""

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
                data = {CONF_TARGET: unique_id, CONF_SEVERITY: user_input.get(CONF_SEVERITY, DEFAULT_SEVERITY)}
                quiet = {key: user_input[key] for key in (CONF_QUIET_START, CONF_QUIET_END) if user_input.get(key)}
                data.update(quiet)
                if name_error := _recipient_name_error(entry, name, current):
                    errors[CONF_NAME] = name_error
                elif len(quiet) == 1:
                    errors["base"] = "quiet_hours_incomplete"
                elif current is not None:
                    return self.async_update_and_abort(entry, current, unique_id=unique_id, title=name, data=data)
                else:
                    return self.async_create_entry(title=name, data=data, unique_id=unique_id)
        suggested = user_input or ({CONF_NAME: current.title, **current.data} if current is not None else {})
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(RECIPIENT_SCHEMA, suggested),
            errors=errors,
        )
