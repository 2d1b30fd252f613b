"""SMS Alerts: alerts from Home Assistant as SMS through gateways and PBXs a company already owns."""

from __future__ import annotations

from typing import Any

from homeassistant.const import CONF_NAME, CONF_WEBHOOK_ID, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import discovery
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.typing import ConfigType
from homeassistant.util.hass_dict import HassKey

from .alert_sources import AlertSources
from .alert_store import async_remove_alert_store
from .alert_webhooks import source_hooks
from .api import PROVIDERS, ProviderKey
from .api.base import AuthError, ProviderError
from .api.brevisone_rest import API_LEGACY, CONF_API
from .const import CONF_PROVIDER, CONF_WEBHOOK_URL, DOMAIN, LOGGER, REQUEST_TIMEOUT
from .coordinator import answered, async_setup_health
from .data import SmsAlertsConfigEntry, SmsAlertsData
from .modem_link import async_remove_link_store, async_start_link
from .notify import CONF_ENTRY_ID
from .outbox import Outbox, async_remove_store
from .services import async_setup_services
from .session import async_entry_session
from .webhook import async_register_webhook
from .webhook_url import async_remove_cloudhook

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.EVENT,
    Platform.NOTIFY,
    Platform.SENSOR,
    Platform.SWITCH,
]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)
DATA_HASS_CONFIG: HassKey[ConfigType] = HassKey(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Keep the configuration for the legacy notify platform and register the actions."""
    hass.data[DATA_HASS_CONFIG] = config
    async_setup_services(hass)
    # The alert sources' webhooks answer from now on, before and between their entries' loads
    hooks = source_hooks(hass)
    for entry in hass.config_entries.async_entries(DOMAIN):
        hooks.async_sync(entry)
    return True


async def async_migrate_entry(hass: HomeAssistant, entry: SmsAlertsConfigEntry) -> bool:
    """Bring older entries up to date.

    1.2: SMS Gateway entries of 1.1 used api.php, and keep it until reconfigured.
    1.3: the unique id no longer holds the address, so that reconfigure can change it.
    """
    if entry.version > 1:
        return False
    if entry.minor_version < 2:  # noqa: PLR2004 - 1.2 stores the SMS Gateway's API
        data = dict(entry.data)
        if data.get(CONF_PROVIDER) == ProviderKey.SMS_GATEWAY:
            data.setdefault(CONF_API, API_LEGACY)
        hass.config_entries.async_update_entry(entry, data=data, minor_version=2)
        LOGGER.debug("Migrated %s to version 1.2", entry.title)
    if entry.minor_version < 3:  # noqa: PLR2004 - 1.3 names the account without its address
        hass.config_entries.async_update_entry(
            entry, unique_id=_unique_id_without_address(hass, entry), minor_version=3
        )
        LOGGER.debug("Migrated %s to version 1.3", entry.title)
    return True


def _unique_id_without_address(hass: HomeAssistant, entry: SmsAlertsConfigEntry) -> str | None:
    """Return the account's unique id without the address; the old one where another entry has that account.

    The title, and with it the entity ids and the legacy notify service, stay as they are.
    """
    key = ProviderKey(entry.data[CONF_PROVIDER])
    if key is ProviderKey.IPEX:
        return entry.unique_id  # the sender number or login: no address in it
    unique_id = PROVIDERS[key].from_config(async_entry_session(hass, entry.data), entry.data).identity().unique_id
    other = hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, unique_id)
    if other is not None and other.entry_id != entry.entry_id:
        LOGGER.warning(
            "%s is the same account as %s (the same device under two addresses?); it keeps its old id. "
            "Remove one of them",
            entry.title,
            other.title,
        )
        return entry.unique_id
    return unique_id


async def async_setup_entry(hass: HomeAssistant, entry: SmsAlertsConfigEntry) -> bool:
    """Set up an entry; an unreachable provider never fails it, so alerts can still be handled."""
    provider_cls = PROVIDERS[ProviderKey(entry.data[CONF_PROVIDER])]
    session = async_entry_session(hass, entry.data)
    provider = provider_cls.from_config(session, {**entry.data, **entry.options}, timeout=REQUEST_TIMEOUT)
    outbox = Outbox(hass, entry, provider, known_down=lambda: _known_down(entry))
    entry.runtime_data = SmsAlertsData(provider=provider, outbox=outbox, settings=settings_of(entry))
    entry.runtime_data.health = await async_setup_health(hass, entry, provider, outbox)
    # A modem's port is held open from now on (other providers hold no connection)
    await async_start_link(hass, entry)
    # Messages kept across restarts go out as soon as the entry is up
    await outbox.async_load()
    entry.runtime_data.alert_sources = AlertSources(hass, entry, outbox, provider)
    await entry.runtime_data.alert_sources.async_load()
    if CONF_WEBHOOK_ID in entry.data:
        async_register_webhook(hass, entry)

    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    hass.async_create_task(
        discovery.async_load_platform(
            hass,
            Platform.NOTIFY,
            DOMAIN,
            {CONF_NAME: entry.title, CONF_ENTRY_ID: entry.entry_id},
            hass.data[DATA_HASS_CONFIG],
        )
    )
    entry.async_on_unload(entry.add_update_listener(_async_update_listener))
    entry.async_create_background_task(
        hass, _async_check_credentials(hass, entry), f"{DOMAIN} credential check {entry.entry_id}"
    )
    return True


def _known_down(entry: SmsAlertsConfigEntry) -> bool:
    """Tell whether the entry's health finds its provider unreachable (its outbox then hands alerts over sooner)."""
    return entry.runtime_data.health.reachability.reachable is False


async def _async_check_credentials(hass: HomeAssistant, entry: SmsAlertsConfigEntry) -> None:
    """Find refused credentials at start, before the first alert needs them; never block the start.

    Its outcome is also the first word on whether the provider is reachable.
    """
    reachability = entry.runtime_data.health.reachability
    try:
        await entry.runtime_data.provider.async_validate()
    except AuthError:
        LOGGER.warning("%s refused the credentials; reauthentication started", entry.title)
        reachability.async_set(reachable=True)
        entry.async_start_reauth(hass)
    except ProviderError as err:
        LOGGER.debug("Start-up check of %s did not pass: %s", entry.title, err.reason)
        reachability.async_set(reachable=answered(err), error=err.reason)
    else:
        reachability.async_set(reachable=True)


def settings_of(entry: SmsAlertsConfigEntry) -> tuple[Any, ...]:
    """Return what a loaded entry is built from: its title, data, options and recipients.

    The webhook address given to the user is bookkeeping, so it is left out.
    """
    return (
        entry.title,
        {key: value for key, value in entry.data.items() if key != CONF_WEBHOOK_URL},
        dict(entry.options),
        {key: (sub.subentry_type, sub.title, sub.unique_id, dict(sub.data)) for key, sub in entry.subentries.items()},
    )


async def _async_update_listener(hass: HomeAssistant, entry: SmsAlertsConfigEntry) -> None:
    """Reload after the entry, its options or its recipients changed."""
    if settings_of(entry) == entry.runtime_data.settings:
        return
    hass.config_entries.async_schedule_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: SmsAlertsConfigEntry) -> bool:
    """Unload the platforms and write the outbox; the legacy service is unregistered by its own unload hook.

    The alert sources' webhooks answer 503 from the start of the unload until the entry is loaded again.
    """
    sources = entry.runtime_data.alert_sources
    await sources.async_stop_taking()
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.outbox.async_unload()
        await sources.async_unload()
    else:
        sources.resume_taking()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: SmsAlertsConfigEntry) -> None:
    """Delete the outbox (its waiting messages go to the fallback or are given up), the issues and any cloudhook."""
    await async_remove_store(hass, entry)
    await async_remove_alert_store(hass, entry.entry_id)
    source_hooks(hass).async_remove(entry.entry_id)
    await async_remove_link_store(hass, entry.entry_id)
    if CONF_WEBHOOK_ID in entry.data:
        await async_remove_cloudhook(hass, entry.data[CONF_WEBHOOK_ID])
    registry = ir.async_get(hass)
    for domain, issue_id in list(registry.issues):
        if domain == DOMAIN and issue_id.startswith(f"{entry.entry_id}_"):
            ir.async_delete_issue(hass, DOMAIN, issue_id)
