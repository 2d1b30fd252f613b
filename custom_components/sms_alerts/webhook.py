"""Inbound callbacks (IPEX SMS Chat): inbound SMS and delivery reports become events."""

from __future__ import annotations

from http import HTTPStatus

from aiohttp import web
from homeassistant.components import webhook
from homeassistant.const import CONF_WEBHOOK_ID, EVENT_CORE_CONFIG_UPDATE
from homeassistant.core import Event, HomeAssistant, callback

from .api.ipex_webhook import MAX_ITEMS, DeliveryReport, InboundSms, TooManyItemsError, parse_webhook
from .const import DOMAIN, LOGGER
from .data import SmsAlertsConfigEntry
from .outbox import notices
from .replies import async_acknowledge_codes, fire_reference_acknowledged
from .webhook_body import BodyError, WarningLimiter, async_read_body
from .webhook_url import async_check_callback_url


@callback
def async_register_webhook(hass: HomeAssistant, entry: SmsAlertsConfigEntry) -> None:
    """Listen on the entry's webhook (the cloud calls in, so not local only) until it unloads."""
    webhook_id: str = entry.data[CONF_WEBHOOK_ID]

    warnings = WarningLimiter(LOGGER)

    async def handle(hass: HomeAssistant, webhook_id: str, request: web.Request) -> web.Response:
        return await async_handle_callback(hass, entry, request, warnings)

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
        def cloud_connection_changed(_state: cloud.CloudConnectionState) -> None:
            # Connected: a cloudhook is there. Disconnected: the subscription may have ended.
            check()

        entry.async_on_unload(cloud.async_listen_connection_change(hass, cloud_connection_changed))


async def async_handle_callback(
    hass: HomeAssistant, entry: SmsAlertsConfigEntry, request: web.Request, warnings: WarningLimiter
) -> web.Response:
    """Fire one event per inbound SMS or delivery report; refuse what cannot be read with a 4xx, never a 500."""
    try:
        events = parse_webhook(await async_read_body(request))
    except BodyError as err:
        return _refuse(entry, warnings, err.status, err.reason)
    except TooManyItemsError:
        return _refuse(entry, warnings, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"more than {MAX_ITEMS} objects")
    except ValueError as err:  # parse_webhook's reasons name fields and types, never values
        return _refuse(entry, warnings, HTTPStatus.BAD_REQUEST, str(err)[:120])
    except Exception as err:  # noqa: BLE001 - a callback must never crash into a 500 or a traceback
        return _refuse(entry, warnings, HTTPStatus.BAD_REQUEST, f"unreadable ({type(err).__name__})")
    if not events:
        LOGGER.debug("Ignored a callback of unknown shape for %s", entry.title)
    await async_handle_events(hass, entry, events)
    return web.Response(status=HTTPStatus.OK)


async def async_handle_events(
    hass: HomeAssistant, entry: SmsAlertsConfigEntry, events: list[InboundSms | DeliveryReport]
) -> None:
    """Act on what a provider received: inbound SMS (event, acknowledgement) and delivery reports (outbox, event).

    The IPEX webhook and a GSM modem's unsolicited messages both come this way.
    """
    received = sum(isinstance(event, InboundSms) for event in events)
    if received:
        LOGGER.info("%s received %d SMS", entry.title, received)
    for event in events:
        if isinstance(event, InboundSms):
            notices.fire_received(hass, entry.entry_id, event.sender, event.to, event.text)
            fire_reference_acknowledged(hass, entry, event)
            # A reply naming an alert's code (A12) acknowledges it and stops its escalation (also one this entry
            # delivered as another's fallback)
            await async_acknowledge_codes(hass, entry, event.sender, event.text)
        else:
            await entry.runtime_data.outbox.async_delivery_report(event.id, event.state, event.to)
            notices.fire_delivery(hass, entry.entry_id, event.id, event.to, event.state)


def _refuse(entry: SmsAlertsConfigEntry, warnings: WarningLimiter, status: HTTPStatus, reason: str) -> web.Response:
    """Answer a callback that cannot be taken with a 4xx and one short, rate-limited warning."""
    warnings.warning("%s: refused a callback with %d: %s", entry.title, status, reason)
    return web.Response(status=status, text=reason)
