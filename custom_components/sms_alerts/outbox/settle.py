"""What becomes of a message after an answer: sent, tried again, held back, handed over or given up."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from homeassistant.util import dt as dt_util

from ..api.base import Receipt, mask_target
from ..const import LOGGER
from . import notices
from .dispatch import Verdict, async_call, interpret
from .lifecycle import ItemState
from .models import QueuedItem, SendReport, SendStatus, TargetResult
from .parts import Parts
from .router import FALLBACK_WAIT, not_loaded

# The error of a message the user dropped (the list_waiting and drop_waiting actions)
DROPPED_BY_USER = "dropped by the user"


class Settler:
    """Acts on provider answers and failures for one entry, and keeps the last send report up to date."""

    def __init__(self, parts: Parts, recovered: Callable[[], None]) -> None:
        """Settle the messages of one entry; `recovered` is called when a success ends a time of failures."""
        self._hass = parts.hass
        self._entry_id = parts.entry.entry_id
        self._title = parts.entry.title
        self._provider = parts.provider
        self._queue = parts.queue
        self._gate = parts.gate
        self._router = parts.router
        self._memory = parts.memory
        self._now = parts.clock
        self._recovered = recovered
        self.last_report: SendReport | None = None

    async def async_call(self, items: list[QueuedItem]) -> list[Receipt]:
        """Make one provider call for the items of one message."""
        # An unloaded entry makes no new request: its next outbox owns these messages now
        return await async_call(
            self._provider, items, dt_util.get_default_time_zone(), lambda: not self._queue.unloaded()
        )

    def result(
        self, item: QueuedItem, status: SendStatus, error: str | None, message_id: str | None = None
    ) -> TargetResult:
        """Build the result of one target as this entry reports it."""
        return TargetResult(
            target=str(item.target),
            status=status,
            provider=self._provider.key,
            error=error,
            parts=item.parts,
            message_id=message_id,
            encoding=item.encoding,
        )

    async def async_handle(self, item: QueuedItem, receipt: Receipt) -> TargetResult:
        """Act on one provider answer for an item under way or waiting."""
        now = self._now()
        answer = interpret(receipt, item.attempts, now)
        if answer.device_failed:
            self._gate.failed(now)
        if answer.verdict is Verdict.SENT:
            if self._gate.succeeded():
                self._recovered()
            self._queue.move(item, ItemState.SENT)
            if receipt.message_id:
                self.remember_sent(receipt.message_id, item)
            return self.result(item, SendStatus.SENT, None, receipt.message_id)
        if answer.verdict is Verdict.RETRY:
            item.attempts += 1
            item.last_error = answer.error
            item.next_attempt = answer.next_attempt
            self._gate.retry_not_before(item.next_attempt)
            self._queue.move(item, ItemState.WAITING)
            LOGGER.info(
                "%s: message to %s queued after try %s (%s); next try in %.0f s",
                self._title,
                mask_target(item.target),
                item.attempts,
                answer.error,
                item.next_attempt - now,
            )
            return self.result(item, SendStatus.QUEUED, answer.error)
        if answer.verdict is Verdict.BLOCK and answer.block is not None:
            self._gate.set_block(answer.block, receipt, now)
            if item.state is ItemState.WAITING:
                # Waits without requests until the credentials or the account are fixed
                item.last_error = answer.error
                self._queue.move(item, ItemState.WAITING)
                return self.result(item, SendStatus.QUEUED, answer.error)
        return await self.async_fail(item, answer.error)

    async def async_fail(self, item: QueuedItem, error: str) -> TargetResult:
        """Hand a message this entry cannot deliver to the fallback entry; give it up where none can.

        A fallback entry being set up (at start) or reloaded takes it in a moment: the message waits
        here for it, held, until it is loaded or the message's lifetime ends.
        """
        fallback = self._router.fallback(item)
        if fallback is None and self._router.coming_for(item):
            pending = self._router.pending(item)
            item.hold_until, item.last_error = self._now() + FALLBACK_WAIT, error
            self._queue.move(item, ItemState.HELD_FALLBACK)
            title = pending.title if pending is not None else ""
            return self.result(item, SendStatus.QUEUED, f"waiting for {title} to be loaded: {error}")
        if fallback is not None:
            LOGGER.info(
                "%s hands the message to %s over to %s (%s)",
                self._title,
                mask_target(item.target),
                fallback.title,
                error,
            )
            self._queue.move(item, ItemState.HANDED_OVER)
            # Shielded: the fallback owns the message now, even if this side is cancelled (an unload)
            return (await asyncio.shield(fallback.async_take_over([item])))[0]
        self.give_up(item, error)
        return self.result(item, SendStatus.FAILED, error)

    def give_up(self, item: QueuedItem, error: str) -> None:
        """Give a message up for good: logged once, and the event automations escalate on fired once."""
        self._queue.move(item, ItemState.GIVEN_UP)
        missing = self._router.pending(item)
        LOGGER.warning(
            "Message to %s via %s failed: %s%s",
            mask_target(item.target),
            self._title,
            error,
            "" if missing is None else f"; its fallback {not_loaded(missing)}",
        )
        notices.fire_failed(self._hass, self._entry_id, str(item.target), item.text, error)

    def drop(self, item: QueuedItem) -> None:
        """Drop a waiting message on purpose: logged once, sms_alerts_failed fired once, the last report follows."""
        state = item.state
        self._queue.move(item, ItemState.DROPPED)
        LOGGER.warning(
            "Message to %s via %s %s (it was %s; tries: %s; last error: %s)",
            mask_target(item.target),
            self._title,
            DROPPED_BY_USER,
            state,
            item.attempts,
            item.last_error,
        )
        notices.fire_failed(self._hass, self._entry_id, str(item.target), item.text, DROPPED_BY_USER)
        self.update_report(item, self.result(item, SendStatus.FAILED, DROPPED_BY_USER))

    def remember_sent(self, message_id: str, item: QueuedItem) -> None:
        """Keep the latest provider message ids, to match delivery reports to their sends.

        Where the provider reports deliveries, they are kept on disk too: a report may come hours
        later, after a restart or a reload, and a FAILED one must still find its message.
        """
        self._memory.remember_sent(message_id, item)
        if self._provider.reports_delivery and not self._queue.unloaded():
            self._queue.store.sent(message_id, item.to_stored())

    def report(self, report: SendReport) -> None:
        """Make a report the last one, and tell the sensors."""
        self.last_report = report
        notices.send_report(self._hass, self._entry_id, report)

    def update_report(self, item: QueuedItem, result: TargetResult) -> None:
        """Let the last report follow a message that was delivered, handed over or given up later."""
        report = self.last_report
        if report is None or result.status is SendStatus.QUEUED:
            return
        ids = [item_id for item_id in (item.id, *item.merged) if item_id in report.item_ids]
        if not ids:
            return
        for item_id in ids:
            report = report.with_result(item_id, result)
        self.report(report)
