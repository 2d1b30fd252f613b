"""Delivery reports of one entry's provider: shown on the last send, and a failed delivery is a failed send."""

from __future__ import annotations

from dataclasses import replace

from ..api.base import mask_target
from ..const import LOGGER
from ..webhook_body import WarningLimiter, short
from . import notices
from .drain import Drain
from .lifecycle import ItemState
from .models import DELIVERY_FAILED, SendStatus
from .parts import Parts
from .settle import Settler


class DeliveryReports:
    """Matches a provider's delivery reports to the sends they are about."""

    def __init__(self, parts: Parts, settler: Settler, drain: Drain) -> None:
        """Take the delivery reports of one entry."""
        self._hass = parts.hass
        self._entry_id = parts.entry.entry_id
        self._title = parts.entry.title
        self._memory = parts.memory
        self._queue = parts.queue
        self._settler = settler
        self._drain = drain
        # Reports of messages not known here come as the provider sends them: one warning a minute, the rest in debug
        self._unknown = WarningLimiter(LOGGER)

    async def async_report(self, message_id: str, state: str, to: str = "") -> bool:
        """Act on a delivery report; a failed delivery counts as a failed send. False if the message is unknown."""
        failed = state.upper() == DELIVERY_FAILED
        item = self._memory.sent.get(message_id)
        if item is None:
            if failed and not self._memory.failure_known(message_id):
                # Sent too long ago to be remembered: it cannot be sent again, but it must not pass silently
                shown = short(message_id, 66)
                self._unknown.warning(
                    "%s: the provider reported the delivery of message %s to %s as failed; "
                    "the message is too old to be known here, so it cannot be sent again",
                    self._title,
                    shown,
                    short(mask_target(to), 40),
                )
                error = f"the provider reported the delivery as failed (message {shown}, no longer known)"
                notices.fire_failed(self._hass, self._entry_id, to, "", error)
            return False
        report = self._settler.last_report
        if report is not None and item.id in report.item_ids:
            self._settler.report(report.with_delivery(item.id, state))
        if failed:
            self._memory.failed_report(message_id)
            if not self._queue.unloaded():
                self._queue.store.unsent(message_id)
            # Sent, but not delivered: it comes back as a new message, for the fallback or to be given up
            item = replace(item, state=ItemState.NEW)
            result = await self._settler.async_fail(item, "the provider reported the delivery as failed")
            self._settler.update_report(item, result)
            # Forgotten as sent; kept if it now waits for a fallback being reloaded
            await self._queue.async_save()
            if result.status is SendStatus.QUEUED:
                self._queue.changed()
                self._drain.schedule()
        return True
