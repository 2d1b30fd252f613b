"""Provider health: reachability learned from sends for every provider, and the SMS Gateway's check.php poll."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .api.base import Provider, ProviderError, TransientError
from .api.brevisone import BrevisOneProvider, GatewayHealth
from .const import DOMAIN, LOGGER, SIGNAL_SEND_REPORT
from .outbox import Block, QueuedItem, SendReport, SendStatus

if TYPE_CHECKING:
    from .modem_status import ModemStatusCoordinator

# check.php is cheap, but the gateway is an appliance: every five minutes is plenty
HEALTH_INTERVAL = dt.timedelta(minutes=5)


class OutboxView(Protocol):
    """What reachability reads from an outbox: the waiting messages and why sending is held back."""

    @property
    def items(self) -> list[QueuedItem]:
        """The waiting messages, oldest first."""

    @property
    def block(self) -> Block | None:
        """Why the entry sends nothing for now, if it does not."""


class HealthOutbox(OutboxView, Protocol):
    """What the health needs of an outbox: to read it, and to tell it the provider answers again."""

    def async_recovered(self) -> None:
        """Try what waits now."""


class Reachability:
    """Whether the provider took requests lately: from each send and, for the SMS Gateway, from the health poll.

    None until something is known. The latest evidence wins, whichever source it comes from.
    """

    def __init__(self, provider_key: str, outbox: OutboxView) -> None:
        """Follow the sends of one entry's outbox."""
        self._provider_key = provider_key
        self._outbox = outbox
        self.reachable: bool | None = None
        self.error: str | None = None
        self._listeners: list[CALLBACK_TYPE] = []
        # Statuses of the last report by item id: a report sent again counts only with what changed
        self._message_id: str | None = None
        self._seen: dict[str, SendStatus] = {}

    @callback
    def async_add_listener(self, update_callback: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call back on every change; return the function that stops it."""
        self._listeners.append(update_callback)

        @callback
        def remove() -> None:
            self._listeners.remove(update_callback)

        return remove

    @callback
    def async_set(self, *, reachable: bool, error: str | None = None) -> None:
        """Record what was just learned and tell the listeners if it differs."""
        error = None if reachable else error
        if (reachable, error) == (self.reachable, self.error):
            return
        self.reachable = reachable
        self.error = error
        for listener in list(self._listeners):
            listener()

    @callback
    def async_report(self, report: SendReport) -> None:
        """Learn from a send report of the outbox.

        Sent means reachable. Queued after a try (the outbox keeps it with attempts) means a transient
        failure: not reachable. Messages queued behind earlier ones, or held back while the entry is
        blocked, were not tried and tell nothing. A failure in a new report is a refusal the provider
        answered with. Results a fallback entry of another provider gave are not about this provider.
        """
        fresh = report.message_id != self._message_id
        if fresh:
            self._message_id = report.message_id
            self._seen = {}
        pairs = list(zip(report.item_ids, report.results, strict=True))
        changed = [
            (item_id, result)
            for item_id, result in pairs
            if self._seen.get(item_id) is not result.status and result.provider == self._provider_key
        ]
        self._seen = {item_id: result.status for item_id, result in pairs}
        if any(result.status is SendStatus.SENT for _, result in changed):
            self.async_set(reachable=True)
            return
        if self._outbox.block is not None:
            return
        tried = {item.id for item in self._outbox.items if item.attempts > 0}
        waiting = [result for item_id, result in changed if result.status is SendStatus.QUEUED and item_id in tried]
        if waiting:
            self.async_set(reachable=False, error=waiting[0].error)
        elif fresh and any(result.status is SendStatus.FAILED for _, result in changed):
            self.async_set(reachable=True)

    def as_dict(self) -> dict[str, Any]:
        """Describe the state for diagnostics."""
        return {"reachable": self.reachable, "error": self.error}


def answered(err: ProviderError) -> bool:
    """Tell whether the provider answered a request that failed: not when it could not be reached or trusted."""
    return not isinstance(err, TransientError) and err.key not in ("ssl_error", "weak_tls")


class GatewayHealthCoordinator(DataUpdateCoordinator[GatewayHealth]):
    """Polls the SMS Gateway's login-free check.php; each outcome also tells whether the gateway is reachable."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        provider: BrevisOneProvider,
        reachability: Reachability,
    ) -> None:
        """Poll every five minutes while an entity listens."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{entry.title} health",
            update_interval=HEALTH_INTERVAL,
            always_update=False,
        )
        self._provider = provider
        self._reachability = reachability

    async def _async_update_data(self) -> GatewayHealth:
        """Read check.php; an unreachable gateway fails the update and marks the entry unreachable."""
        try:
            health = await self._provider.async_health()
        except ProviderError as err:
            self._reachability.async_set(reachable=answered(err), error=err.reason)
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="health_check_failed",
                translation_placeholders={"error": err.reason},
            ) from err
        self._reachability.async_set(reachable=True)
        return health


@dataclass(kw_only=True)
class Health:
    """An entry's health: reachability for every provider, and the check.php poll for the SMS Gateway."""

    reachability: Reachability
    coordinator: GatewayHealthCoordinator | None = None
    # A GSM modem's signal and registration (modem_status.ModemStatusCoordinator)
    modem: ModemStatusCoordinator | None = None

    def as_dict(self) -> dict[str, Any]:
        """Describe the state for diagnostics (no secrets: reasons and counters only)."""
        data: dict[str, Any] = {"reachability": self.reachability.as_dict()}
        if self.coordinator is not None:
            health = self.coordinator.data
            data["gateway"] = {
                "last_update_success": self.coordinator.last_update_success,
                "health": None if health is None else asdict(health),
            }
        if self.modem is not None:
            data["modem"] = {"last_update_success": self.modem.last_update_success, "status": self.modem.data}
        return data


async def async_setup_health(
    hass: HomeAssistant, entry: ConfigEntry[Any], provider: Provider, outbox: HealthOutbox
) -> Health:
    """Start following the health of an entry's provider, from its outbox's sends; never fails setup.

    Call it from async_setup_entry before the platforms are forwarded. The first check.php read runs in
    the background: a gateway that does not answer must not hold up Home Assistant's start.
    """
    reachability = Reachability(provider.key, outbox)
    entry.async_on_unload(
        async_dispatcher_connect(hass, SIGNAL_SEND_REPORT.format(entry.entry_id), reachability.async_report)
    )

    @callback
    def recovered() -> None:
        """Let the outbox try what waits as soon as the provider answers again (the status page, a send)."""
        if reachability.reachable:
            outbox.async_recovered()

    entry.async_on_unload(reachability.async_add_listener(recovered))
    health = Health(reachability=reachability)
    if isinstance(provider, BrevisOneProvider):
        health.coordinator = GatewayHealthCoordinator(hass, entry, provider, reachability)
        entry.async_create_background_task(
            hass, health.coordinator.async_refresh(), f"sms_alerts first health check {entry.entry_id}"
        )
    return health
