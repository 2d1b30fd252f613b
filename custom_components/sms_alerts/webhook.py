"""Inbound callbacks (IPEX SMS Chat): inbound SMS and delivery reports become events."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from homeassistant.components import webhook
from homeassistant.const import CONF_WEBHOOK_ID, EVENT_CORE_CONFIG_UPDATE
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.network import NoURLAvailableError, get_url

from .api.ipex import DeliveryReport, InboundSms, parse_webhook
from .const import DOMAIN, EVENT_ACKNOWLEDGED, EVENT_DELIVERY, EVENT_RECEIVED, LOGGER
from .data import SmsAlertsConfigEntry

ISSUE_NO_EXTERNAL_URL = "no_external_url"


@callback
def async_register_webhook(hass: HomeAssistant, entry: SmsAlertsConfigEntry) -> None:
    """Listen on the entry's webhook (the cloud calls in, so not local only) until it unloads."""
    webhook_id: str = entry.data[CONF_WEBHOOK_ID]

    async def handle(hass: HomeAssistant, webhook_id: str, request: web.Request) -> web.Response:
        return await async_handle_callback(hass, entry, request)

    webhook.async_register(
        hass, DOMAIN, f"SMS Alerts {entry.title}", webhook_id, handle, local_only=False, allowed_methods=("POST",)
    )
    entry.async_on_unload(lambda: webhook.async_unregister(hass, webhook_id))

    @callback
    def check() -> None:
        entry.async_create_background_task(hass, async_check_callback_url(hass, entry), f"{DOMAIN} webhook address")

    @callback
    def core_config_updated(_event: Event) -> None:
        check()

    check()
    entry.async_on_unload(hass.bus.async_listen(EVENT_CORE_CONFIG_UPDATE, core_config_updated))
    if "cloud" in hass.config.components:
        from homeassistant.components import cloud  # noqa: PLC0415 - loaded already; others never pay its import

        @callback
        def cloud_connection_changed(state: cloud.CloudConnectionState) -> None:
            if state is cloud.CloudConnectionState.CLOUD_CONNECTED:
                check()

        entry.async_on_unload(cloud.async_listen_connection_change(hass, cloud_connection_changed))


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


def external_webhook_url(hass: HomeAssistant, webhook_id: str) -> str | None:
    """Return the webhook's address from the internet (external URL or Home Assistant Cloud), or None."""
    try:
        base = get_url(hass, allow_internal=False, allow_ip=True)
    except NoURLAvailableError:
        return None
    return f"{base}{webhook.async_generate_path(webhook_id)}"


async def async_webhook_url(hass: HomeAssistant, webhook_id: str) -> str | None:
    """Return the address the provider's cloud calls back on, or None where there is none.

    As Home Assistant's own webhook flows do: a Home Assistant Cloud webhook (cloudhook) where there is
    a subscription, which needs no port opened; otherwise the external URL.
    """
    return await _async_cloudhook(hass, webhook_id) or external_webhook_url(hass, webhook_id)


async def async_shown_webhook_url(hass: HomeAssistant, webhook_id: str) -> str:
    """Return the address to paste into the SMS Chat settings (with a placeholder host if there is none)."""
    url = await async_webhook_url(hass, webhook_id)
    return url or f"https://<your Home Assistant address>{webhook.async_generate_path(webhook_id)}"


async def async_check_callback_url(hass: HomeAssistant, entry: SmsAlertsConfigEntry) -> None:
    """Raise a repair issue while the provider's cloud has no address to call Home Assistant back on."""
    issue_id = f"{entry.entry_id}_{ISSUE_NO_EXTERNAL_URL}"
    if await async_webhook_url(hass, entry.data[CONF_WEBHOOK_ID]) is not None:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    if _cloud_connecting(hass):
        return  # checked again once Home Assistant Cloud is connected
    LOGGER.debug("%s: Home Assistant has no external URL; replies and delivery reports cannot arrive", entry.title)
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="no_external_url",
        translation_placeholders={"entry": entry.title},
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


def _fire_acknowledged(hass: HomeAssistant, entry: SmsAlertsConfigEntry, sms: InboundSms) -> None:
    """Fire sms_alerts_acknowledged when a reply quotes an alert's reference."""
    found = entry.runtime_data.outbox.async_acknowledged(sms.text)
    if found is None:
        return
    reference, message, targets = found
    target = next((known for known in targets if known == sms.sender), targets[0] if targets else sms.sender)
    LOGGER.info("%s: alert #%s acknowledged by reply", entry.title, reference)
    hass.bus.async_fire(
        EVENT_ACKNOWLEDGED,
        {
            "entry_id": entry.entry_id,
            "reference": f"#{reference}",
            "target": target,
            "message": message,
            "from": sms.sender,
        },
    )


async def _async_read(request: web.Request) -> Any:
    """Read a JSON body, or form data as fallback; raise ValueError when it is neither."""
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return {key: str(value) for key, value in (await request.post()).items()}
    text = await request.text()
    if not text.strip():
        raise ValueError("empty body")
    return json.loads(text)


async def async_handle_callback(hass: HomeAssistant, entry: SmsAlertsConfigEntry, request: web.Request) -> web.Response:
    """Fire one event per inbound SMS or delivery report; never answer 500 and never log a traceback."""
    try:
        events = parse_webhook(await _async_read(request))
    except ValueError as err:
        LOGGER.debug("Ignored a malformed callback for %s: %s", entry.title, err)
        return web.Response(status=400, text="malformed payload")
    except Exception as err:  # noqa: BLE001 - a callback must never crash into a 500
        LOGGER.error("Could not read a callback for %s: %s", entry.title, type(err).__name__)
        return web.Response(status=400, text="unreadable payload")
    if not events:
        LOGGER.debug("Ignored a callback of unknown shape for %s", entry.title)
    for event in events:
        if isinstance(event, InboundSms):
            LOGGER.info("%s received an SMS", entry.title)
            hass.bus.async_fire(
                EVENT_RECEIVED,
                {"entry_id": entry.entry_id, "from": event.sender, "to": event.to, "text": event.text},
            )
            _fire_acknowledged(hass, entry, event)
        elif isinstance(event, DeliveryReport):
            await entry.runtime_data.outbox.async_delivery_report(event.id, event.state)
            hass.bus.async_fire(
                EVENT_DELIVERY,
                {"entry_id": entry.entry_id, "id": event.id, "to": event.to, "state": event.state},
            )
    return web.Response(status=200)
