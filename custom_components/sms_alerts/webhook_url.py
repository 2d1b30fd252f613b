"""Where the provider's cloud and the monitoring systems reach Home Assistant: webhook addresses and cloudhooks.

The address handed out is a Home Assistant Cloud webhook (cloudhook) where there is a subscription, else
the external URL. An IPEX entry remembers the address SMS Chat was given; a repair issue tells when it no
longer reaches Home Assistant, or when there is none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homeassistant.components import webhook
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_WEBHOOK_ID
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.network import NoURLAvailableError, get_url

from .const import CONF_WEBHOOK_URL, DOMAIN, LOGGER

ISSUE_NO_EXTERNAL_URL = "no_external_url"
ISSUE_WEBHOOK_URL_CHANGED = "webhook_url_changed"


async def _async_cloudhook(hass: HomeAssistant, webhook_id: str) -> str | None:
    """Return the webhook's Home Assistant Cloud address where there is a subscription and a connection."""
    if "cloud" not in hass.config.components:
        return None
    from homeassistant.components import cloud  # noqa: PLC0415 - loaded already; others never pay its import

    if not (cloud.async_active_subscription(hass) and cloud.async_is_connected(hass)):
        return None
    try:
        return await cloud.async_get_or_create_cloudhook(hass, webhook_id)
    except Exception as err:  # noqa: BLE001 - Home Assistant Cloud raises errors of its own library; the external URL remains
        LOGGER.warning("Home Assistant Cloud gave no webhook address (%s: %s)", type(err).__name__, err)
        return None


def _cloud_connecting(hass: HomeAssistant) -> bool:
    """Tell whether a Home Assistant Cloud subscription is there but not connected yet (as just after a start)."""
    if "cloud" not in hass.config.components:
        return False
    from homeassistant.components import cloud  # noqa: PLC0415 - loaded already; others never pay its import

    return cloud.async_active_subscription(hass) and not cloud.async_is_connected(hass)


def external_webhook_url(hass: HomeAssistant, webhook_id: str, *, prefer_cloud: bool = False) -> str | None:
    """Return the webhook's address from the internet (external URL or Home Assistant Cloud), or None."""
    try:
        base = get_url(hass, allow_internal=False, allow_ip=True, prefer_cloud=prefer_cloud)
    except NoURLAvailableError:
        return None
    return f"{base}{webhook.async_generate_path(webhook_id)}"


def placeholder_webhook_url(webhook_id: str) -> str:
    """Return the webhook's address with a placeholder host, for when there is no address."""
    return f"https://<your Home Assistant address>{webhook.async_generate_path(webhook_id)}"


@dataclass(frozen=True, slots=True)
class WebhookAddresses:
    """The address to hand out now, and every address that reaches the webhook now."""

    preferred: str | None
    reachable: frozenset[str]


async def async_webhook_addresses(hass: HomeAssistant, webhook_id: str) -> WebhookAddresses:
    """Return the webhook's addresses: its cloudhook, and the external URL and Remote UI addresses.

    As Home Assistant's own webhook flows do, a Home Assistant Cloud webhook (cloudhook) is handed out
    where there is a subscription, as it needs no port opened; otherwise the external URL.
    """
    cloudhook = await _async_cloudhook(hass, webhook_id)
    external = external_webhook_url(hass, webhook_id)
    remote = external_webhook_url(hass, webhook_id, prefer_cloud=True)
    reachable = frozenset(url for url in (cloudhook, external, remote) if url is not None)
    return WebhookAddresses(cloudhook or external, reachable)


async def async_webhook_url(hass: HomeAssistant, webhook_id: str) -> str | None:
    """Return the address the provider's cloud should call back on, or None where there is none."""
    return (await async_webhook_addresses(hass, webhook_id)).preferred


async def async_entry_webhook_url(hass: HomeAssistant, entry: ConfigEntry[Any]) -> str:
    """Return the address to paste into SMS Chat: the one given before while it still works, else the new one."""
    webhook_id: str = entry.data[CONF_WEBHOOK_ID]
    addresses = await async_webhook_addresses(hass, webhook_id)
    if (given := entry.data.get(CONF_WEBHOOK_URL)) in addresses.reachable:
        return str(given)
    return addresses.preferred or placeholder_webhook_url(webhook_id)


@callback
def async_record_webhook_url(hass: HomeAssistant, entry: ConfigEntry[Any], url: str) -> None:
    """Remember the address the user was given; the entry is not reloaded for it."""
    hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_WEBHOOK_URL: url})


@callback
def replies_arrive(hass: HomeAssistant, entry: ConfigEntry[Any]) -> bool:
    """Tell whether the provider's calls reach Home Assistant now: no repair issue of the entry says they cannot."""
    issues = ir.async_get(hass)
    return all(
        issues.async_get_issue(DOMAIN, f"{entry.entry_id}_{key}") is None
        for key in (ISSUE_NO_EXTERNAL_URL, ISSUE_WEBHOOK_URL_CHANGED)
    )


async def async_check_callback_url(hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
    """Raise a repair issue while SMS Chat cannot reach Home Assistant: no address, or a changed one.

    SMS Chat keeps calling the address it was given. When that address stops reaching Home Assistant
    (the cloud subscription ended, the external URL changed), replies and delivery reports would
    stop without a word; a fixable issue shows the new address to paste.
    """
    no_url_issue = f"{entry.entry_id}_{ISSUE_NO_EXTERNAL_URL}"
    changed_issue = f"{entry.entry_id}_{ISSUE_WEBHOOK_URL_CHANGED}"
    addresses = await async_webhook_addresses(hass, entry.data[CONF_WEBHOOK_ID])
    given: str | None = entry.data.get(CONF_WEBHOOK_URL)
    if addresses.preferred is None:
        if _cloud_connecting(hass):
            return  # checked again once Home Assistant Cloud is connected
        ir.async_delete_issue(hass, DOMAIN, changed_issue)
        LOGGER.debug("%s: Home Assistant has no external URL; replies and delivery reports cannot arrive", entry.title)
        ir.async_create_issue(
            hass,
            DOMAIN,
            no_url_issue,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="no_external_url",
            translation_placeholders={"entry": entry.title},
        )
        return
    ir.async_delete_issue(hass, DOMAIN, no_url_issue)
    if given is None:
        # Made without an address, or before addresses were remembered: the one shown from now on
        async_record_webhook_url(hass, entry, addresses.preferred)
        return
    if given in addresses.reachable:
        ir.async_delete_issue(hass, DOMAIN, changed_issue)
        return
    if _cloud_connecting(hass):
        return  # a cloudhook given before may work again once Home Assistant Cloud is connected
    if ir.async_get(hass).async_get_issue(DOMAIN, changed_issue) is None:
        LOGGER.warning(
            "%s: the webhook address SMS Chat was given no longer reaches Home Assistant; "
            "replies and delivery reports cannot arrive until the new one is pasted (see Repairs)",
            entry.title,
        )
    ir.async_create_issue(
        hass,
        DOMAIN,
        changed_issue,
        is_fixable=True,
        is_persistent=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key="webhook_url_changed",
        translation_placeholders={"entry": entry.title},
        data={"entry_id": entry.entry_id},
    )


async def async_remove_cloudhook(hass: HomeAssistant, webhook_id: str) -> None:
    """Delete the entry's Home Assistant Cloud webhook, if it has one."""
    if "cloud" not in hass.config.components:
        return
    from homeassistant.components import cloud  # noqa: PLC0415 - loaded already; others never pay its import

    if not cloud.async_is_logged_in(hass):
        return
    try:
        await cloud.async_delete_cloudhook(hass, webhook_id)
    except ValueError:
        return  # it never had one
    except Exception as err:  # noqa: BLE001 - Home Assistant Cloud raises errors of its own library
        LOGGER.warning("Could not delete the Home Assistant Cloud webhook (%s: %s)", type(err).__name__, err)
