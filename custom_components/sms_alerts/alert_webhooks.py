"""The webhook of each alert source: the secret checked, the body read, and a 4xx for what cannot be taken.

Each source's webhook is listened on from the integration's start until its source or entry is removed, not
only while its entry is loaded: Home Assistant answers a webhook nobody listens on with 200 and drops the body,
so an alert posted while the entry reloads (an option or a recipient changed) or failed to set up would be lost
without a word to its sender. Here a request with the secret waits for an entry on its way to loaded, and gets
503 with `Retry-After` where it failed, is disabled or takes too long: Alertmanager and Grafana send it again
(their webhooks retry a 5xx: prometheus/alertmanager notify.Retrier).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import hdrs, web
from homeassistant.components import webhook
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_WEBHOOK_ID
from homeassistant.core import HomeAssistant, callback
from homeassistant.util.hass_dict import HassKey

from .alert_source_config import CONF_LOCAL_ONLY, CONF_TOKEN, SourceConfig, authorized
from .alerts.models import AlertParseError
from .alerts.parse import parse
from .const import DOMAIN, LOGGER, SUBENTRY_ALERT_SOURCE
from .webhook_body import BodyError, WarningLimiter, async_read_body

if TYPE_CHECKING:
    from .alerts.models import ParseResult

# How long a request waits for an entry on its way to loaded (a reload takes a second or two), and when a
# sender should try again after that
WAIT_FOR_ENTRY_SECONDS = 10.0
RETRY_AFTER_SECONDS = 30
DATA_SOURCE_HOOKS: HassKey[SourceHooks] = HassKey(f"{DOMAIN}_source_hooks")


class Processor(Protocol):
    """What a source's webhook hands a readable body to (the entry's alert sources)."""

    async def async_process(self, source: SourceConfig, result: ParseResult) -> None:
        """Act on one parsed body; return once its SMS are on disk."""


@dataclass
class _Hook:
    """One source's webhook: whose it is, and who takes its bodies while its entry is loaded."""

    entry_id: str
    subentry_id: str
    local_only: bool
    warnings: WarningLimiter = field(default_factory=lambda: WarningLimiter(LOGGER))
    processor: Processor | None = None
    source: SourceConfig | None = None
    # Set while a processor takes the bodies (a request made meanwhile waits for it a little)
    taking: asyncio.Event = field(default_factory=asyncio.Event)


class SourceHooks:
    """The webhooks of every alert source of the integration's entries, loaded or not."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Listen on nothing yet."""
        self._hass = hass
        self._hooks: dict[str, _Hook] = {}
        # Ids another integration listens on (told once)
        self._taken: set[str] = set()

    @callback
    def async_sync(self, entry: ConfigEntry[Any]) -> None:
        """Listen on the webhook of each source the entry has now; stop for sources it no longer has."""
        wanted = {
            str(sub.data[CONF_WEBHOOK_ID]): sub
            for sub in entry.subentries.values()
            if sub.subentry_type == SUBENTRY_ALERT_SOURCE and sub.data.get(CONF_WEBHOOK_ID)
        }
        for webhook_id, hook in list(self._hooks.items()):
            sub = wanted.get(webhook_id)
            if hook.entry_id == entry.entry_id and (
                sub is None or bool(sub.data.get(CONF_LOCAL_ONLY, True)) != hook.local_only
            ):
                webhook.async_unregister(self._hass, webhook_id)
                del self._hooks[webhook_id]
        for webhook_id, sub in wanted.items():
            if webhook_id in self._hooks:
                continue
            local_only = bool(sub.data.get(CONF_LOCAL_ONLY, True))
            try:
                webhook.async_register(
                    self._hass,
                    DOMAIN,
                    f"SMS Alerts {entry.title}: {sub.title}",
                    webhook_id,
                    self._async_handle,
                    local_only=local_only,
                    allowed_methods=("POST", "PUT"),
                )
            except ValueError:
                # Another integration listens on that id already (an id copied by hand): this source cannot
                if webhook_id not in self._taken:
                    self._taken.add(webhook_id)
                    LOGGER.error("%s: the alert source %s cannot listen on its webhook (taken)", entry.title, sub.title)
                continue
            self._hooks[webhook_id] = _Hook(entry.entry_id, sub.subentry_id, local_only)

    @callback
    def async_attach(
        self, entry: ConfigEntry[Any], sources: dict[str, SourceConfig], processor: Processor
    ) -> Callable[[], None]:
        """Hand the bodies of the entry's sources to `processor` until the returned callable is called."""
        self.async_sync(entry)
        for hook in self._hooks.values():
            if hook.entry_id == entry.entry_id and (source := sources.get(hook.subentry_id)) is not None:
                hook.processor, hook.source = processor, source
                hook.taking.set()

        @callback
        def detach() -> None:
            for hook in self._hooks.values():
                if hook.processor is processor:
                    hook.processor = hook.source = None
                    hook.taking.clear()

        return detach

    @callback
    def async_remove(self, entry_id: str) -> None:
        """Stop listening on the webhooks of a removed entry."""
        for webhook_id, hook in list(self._hooks.items()):
            if hook.entry_id == entry_id:
                webhook.async_unregister(self._hass, webhook_id)
                del self._hooks[webhook_id]

    async def _async_handle(self, hass: HomeAssistant, webhook_id: str, request: web.Request) -> web.Response:
        """Hand a request to its source; 503 (after the secret was checked) while its entry takes no alerts.

        While the entry is on its way to loaded (a reload, the start), a request with the secret waits for it up
        to WAIT_FOR_ENTRY_SECONDS: a sender that never tries again (Uptime Kuma) loses nothing either.
        """
        hook = self._hooks.get(webhook_id)
        if hook is None:
            return web.Response(status=HTTPStatus.NOT_FOUND)
        if hook.processor is not None and hook.source is not None:
            return await async_handle(hook.processor, hook.source, request, hook.warnings)
        entry = hass.config_entries.async_get_entry(hook.entry_id)
        sub = entry.subentries.get(hook.subentry_id) if entry is not None else None
        token = str(sub.data.get(CONF_TOKEN) or "") if sub is not None else ""
        if entry is None or sub is None or not authorized(request.headers.get(hdrs.AUTHORIZATION), token):
            name = sub.title if sub is not None else "A removed alert source"
            hook.warnings.warning("%s: refused a request without the source's secret (401)", name)
            return _unauthorized()
        if _coming(entry):
            # A reload, or the start: the entry takes alerts again in a moment, and the sender need not try again
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(WAIT_FOR_ENTRY_SECONDS):
                    await hook.taking.wait()
            if hook.processor is not None and hook.source is not None:
                return await async_handle(hook.processor, hook.source, request, hook.warnings)
        if entry.state is ConfigEntryState.LOADED:
            why = "its settings cannot be used (see the error logged when the entry started)"
        else:
            why = f"{entry.title} is not loaded ({entry.state.value})"
        hook.warnings.warning("%s: an alert came while %s; answered 503, for its sender to try again", sub.title, why)
        return web.Response(
            status=HTTPStatus.SERVICE_UNAVAILABLE,
            headers={hdrs.RETRY_AFTER: str(RETRY_AFTER_SECONDS)},
            text="Not taking alerts right now; send again later",
        )


def _coming(entry: ConfigEntry[Any]) -> bool:
    """Tell whether an entry is on its way to loaded: reloading, or not set up yet (not disabled, no error)."""
    if entry.disabled_by is not None:
        return False
    return entry.state in (
        ConfigEntryState.NOT_LOADED,
        ConfigEntryState.SETUP_IN_PROGRESS,
        ConfigEntryState.UNLOAD_IN_PROGRESS,
    )


@callback
def source_hooks(hass: HomeAssistant) -> SourceHooks:
    """Return the integration's source webhooks (made once)."""
    if (hooks := hass.data.get(DATA_SOURCE_HOOKS)) is None:
        hooks = hass.data[DATA_SOURCE_HOOKS] = SourceHooks(hass)
    return hooks


def _unauthorized() -> web.Response:
    """401 with the challenge a sender needs."""
    return web.Response(status=HTTPStatus.UNAUTHORIZED, headers={hdrs.WWW_AUTHENTICATE: 'Bearer realm="sms_alerts"'})


async def async_handle(
    processor: Processor, source: SourceConfig, request: web.Request, warnings: WarningLimiter
) -> web.Response:
    """Check the secret, read the body, act on it; 401 without the secret, 4xx for a body that cannot be read."""
    if not authorized(request.headers.get(hdrs.AUTHORIZATION), source.token):
        warnings.warning("%s: refused a request without the source's secret (401)", source.name)
        return _unauthorized()
    try:
        result = parse(source.kind, await async_read_body(request), fields=source.fields)
    except BodyError as err:
        return _refuse(source, warnings, err.status, err.reason)
    except AlertParseError as err:
        return _refuse(source, warnings, HTTPStatus.BAD_REQUEST, err.reason)
    except Exception as err:  # noqa: BLE001 - a sender's body must never crash into a 500 or a traceback
        return _refuse(source, warnings, HTTPStatus.BAD_REQUEST, f"unreadable ({type(err).__name__})")
    try:
        await processor.async_process(source, result)
    except Exception:  # noqa: BLE001 - whatever broke, the sender must hear that its alerts were not taken
        # Our fault, not the sender's: its traceback, and a 5xx so that the sender tries again (Home Assistant
        # would answer 200 and the alerts would be lost without a word to it)
        LOGGER.exception("%s: an alert body could not be acted on; answered 500 for a retry", source.name)
        return web.Response(status=HTTPStatus.INTERNAL_SERVER_ERROR, text="Could not act on the alerts; send again")
    return web.Response(status=HTTPStatus.OK, text="OK")


def _refuse(source: SourceConfig, warnings: WarningLimiter, status: HTTPStatus, reason: str) -> web.Response:
    """Answer a body that cannot be taken with a 4xx and one short, rate-limited warning."""
    warnings.warning("%s: refused an alert body with %d: %s", source.name, status, reason)
    return web.Response(status=status, text=reason)
