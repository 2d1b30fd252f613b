"""The webhook of each alert source: the secret checked, the body read, and a 4xx for what cannot be taken."""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import hdrs, web
from homeassistant.components import webhook
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback

from .alert_source_config import SourceConfig, authorized
from .alerts.models import AlertParseError
from .alerts.parse import parse
from .const import DOMAIN, LOGGER
from .webhook_body import BodyError, WarningLimiter, async_read_body

if TYPE_CHECKING:
    from .alerts.models import ParseResult


class Processor(Protocol):
    """What a source's webhook hands a readable body to (the entry's alert sources)."""

    async def async_process(self, source: SourceConfig, result: ParseResult) -> None:
        """Act on one parsed body; return once its SMS are on disk."""


@callback
def async_register_source(
    hass: HomeAssistant, entry: ConfigEntry[Any], source: SourceConfig, processor: Processor
) -> None:
    """Listen on a source's webhook (local only unless the source allows more) until the entry unloads."""
    warnings = WarningLimiter(LOGGER)

    async def handle(hass: HomeAssistant, webhook_id: str, request: web.Request) -> web.Response:
        return await async_handle(processor, source, request, warnings)

    webhook.async_register(
        hass,
        DOMAIN,
        f"SMS Alerts {entry.title}: {source.name}",
        source.webhook_id,
        handle,
        local_only=source.local_only,
        allowed_methods=("POST", "PUT"),
    )
    entry.async_on_unload(lambda: webhook.async_unregister(hass, source.webhook_id))


async def async_handle(
    processor: Processor, source: SourceConfig, request: web.Request, warnings: WarningLimiter
) -> web.Response:
    """Check the secret, read the body, act on it; 401 without the secret, 4xx for a body that cannot be read."""
    if not authorized(request.headers.get(hdrs.AUTHORIZATION), source.token):
        warnings.warning("%s: refused a request without the source's secret (401)", source.name)
        return web.Response(
            status=HTTPStatus.UNAUTHORIZED, headers={hdrs.WWW_AUTHENTICATE: 'Bearer realm="sms_alerts"'}
        )
    try:
        result = parse(source.kind, await async_read_body(request), fields=source.fields)
    except BodyError as err:
        return _refuse(source, warnings, err.status, err.reason)
    except AlertParseError as err:
        return _refuse(source, warnings, HTTPStatus.BAD_REQUEST, err.reason)
    except Exception as err:  # noqa: BLE001 - a sender's body must never crash into a 500 or a traceback
        return _refuse(source, warnings, HTTPStatus.BAD_REQUEST, f"unreadable ({type(err).__name__})")
    await processor.async_process(source, result)
    return web.Response(status=HTTPStatus.OK, text="OK")


def _refuse(source: SourceConfig, warnings: WarningLimiter, status: HTTPStatus, reason: str) -> web.Response:
    """Answer a body that cannot be taken with a 4xx and one short, rate-limited warning."""
    warnings.warning("%s: refused an alert body with %d: %s", source.name, status, reason)
    return web.Response(status=status, text=reason)
