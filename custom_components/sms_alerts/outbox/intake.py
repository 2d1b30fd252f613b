"""The first request of new messages: at once, behind those waiting for their targets, or to the fallback."""

from __future__ import annotations

from ..api.base import Outcome, Receipt
from .drain import Drain
from .lifecycle import ItemState
from .models import QueuedItem, SendStatus, TargetResult
from .parts import Parts
from .settle import Settler


class Intake:
    """Tries new messages of one entry at once, keeping the order of each target's queue."""

    def __init__(self, parts: Parts, settler: Settler, drain: Drain) -> None:
        """Take new messages for one entry."""
        self._title = parts.entry.title
        self._queue = parts.queue
        self._gate = parts.gate
        self._router = parts.router
        self._now = parts.clock
        self._known_down = parts.known_down
        self._policy = parts.policy
        self._today = parts.today
        self._settler = settler
        self._drain = drain

    async def async_take(
        self, items: list[QueuedItem], accepted: int, *, screened: bool = False
    ) -> dict[str, TargetResult]:
        """Try new items at once, unless the entry is blocked or their target has messages waiting.

        From now until each is settled (sent, queued, handed over, given up) they are under way:
        they are written to the journal now, while their request starts (the caller does not wait for
        the disk), so neither a crash nor a reload loses one; an unload meanwhile writes or hands them over.
        `accepted` is the journal line that wrote them (the caller started it). Items storm control
        `screened` are counted by it once sent or queued, just before the lines that settle them (its
        journal line goes with theirs, in the same write).
        """
        for item in items:
            if item.state is ItemState.NEW:
                self._queue.move(item, ItemState.IN_FLIGHT)
        results: dict[str, TargetResult] = {}
        try:
            async with self._queue.lock:
                results = await self._async_take_locked(items, accepted)
        finally:
            for item in items:
                if item.state is ItemState.IN_FLIGHT:
                    # Not settled here: the entry was unloaded under it (its next outbox sends it), or
                    # something unforeseen broke off the send (it waits for its next try, never lost)
                    self._queue.move(item, ItemState.RELEASED if self._queue.unloaded() else ItemState.WAITING)
            if screened:
                self._count(items, results)
            self._queue.write_settled(items)
        return results

    def _count(self, items: list[QueuedItem], results: dict[str, TargetResult]) -> None:
        """Let storm control count the items that went out or wait to go out (duplicates, rate limit, budget)."""
        today = self._today()
        for item in items:
            result = results.get(item.id)
            if result is not None and result.status in (SendStatus.SENT, SendStatus.QUEUED):
                self._policy.note_sent(item, item.created, today)

    async def _async_take_locked(self, items: list[QueuedItem], accepted: int) -> dict[str, TargetResult]:
        """Send, queue or hand over new items, with the lock held; stop where the entry was unloaded."""
        results: dict[str, TargetResult] = {}
        if self._queue.unloaded():
            # While they waited for the lock: the unload wrote them, or handed them over
            return self._unloaded(items)
        if self._gate.auth_refused:
            # Refused credentials are never tried again before reauth: new messages go elsewhere at once
            for item in items:
                if self._queue.unloaded():
                    break
                results[item.id] = await self._settler.async_fail(item, self._gate.block_error or "auth")
        else:
            was_down = self._known_down()
            await self._async_try_waiting_first(items, was_down)
            waiting = {item.target for item in self._queue.waiting()}
            await self._async_queue_behind([item for item in items if item.target in waiting], was_down, results)
            await self._async_send_direct([item for item in items if item.target not in waiting], was_down, results)
        if self._queue.unloaded():
            return {**results, **self._unloaded([item for item in items if item.id not in results])}
        await self._async_settle(results, accepted)
        return results

    async def _async_try_waiting_first(self, items: list[QueuedItem], was_down: bool) -> None:
        """Try the messages waiting for the targets of new items now, oldest first, so these need not queue.

        A device that answers again is found by the next alert, whatever its target. Not within
        RETRY_INITIAL of a failed request (a storm to a device that is down makes no request per
        alert), nor for a target whose alerts the fallback takes because the provider is known down.
        """
        if not self._gate.may_try_waiting(self._now()):
            return
        targets = {item.target for item in items if not (was_down and self._router.fallback(item))}
        tried = False
        while not self._queue.unloaded() and not self._gate.auth_refused:
            heads = [item for item in self._queue.heads() if item.target in targets]
            if not heads:
                break
            group = [item for item in heads if item.message_id == heads[0].message_id]
            tried = True
            for item, result in await self._drain.async_try_group(group):
                self._settler.update_report(item, result)
            if any(item.id in self._queue.items for item in group):
                break  # still waiting: the new items queue behind it
        if tried and not self._queue.unloaded():
            # What went out leaves the journal now: a crash must not send it again
            self._queue.flush()
            self._queue.changed()

    async def _async_queue_behind(
        self, items: list[QueuedItem], was_down: bool, results: dict[str, TargetResult]
    ) -> None:
        """Queue new items behind the messages waiting for their targets (or hand them all over, in order)."""
        for item in items:
            if was_down and self._router.fallback(item):
                # Waiting here behind messages to a provider that is down helps nobody: those go first
                await self._async_hand_over_waiting(item)
            if self._queue.unloaded():
                return
            if was_down and self._router.fallback(item) and not self._queue.waiting_for(item.target):
                results[item.id] = await self._settler.async_fail(item, f"{self._title} is unreachable")
                continue
            item.last_error = "waiting behind earlier messages to this target"
            self._queue.move(item, ItemState.WAITING)
            results[item.id] = self._settler.result(item, SendStatus.QUEUED, item.last_error)

    async def _async_hand_over_waiting(self, new: QueuedItem) -> None:
        """Hand the messages waiting for a target to the fallback, oldest first, up to one it may not take."""
        handed = False
        for item in [queued for queued in self._queue.waiting() if queued.target == new.target]:
            if self._queue.unloaded() or self._router.fallback(item) is None:
                break
            if item.id not in self._queue.items or item.state is not ItemState.WAITING:
                continue  # a drain pass took it meanwhile
            handed = True
            result = await self._settler.async_fail(item, item.last_error or f"{self._title} is unreachable")
            self._settler.update_report(item, result)
        if handed and not self._queue.unloaded():
            # Handed over: no longer this entry's, so a crash must not send it again from here
            self._queue.flush()
            self._queue.changed()

    async def _async_send_direct(
        self, items: list[QueuedItem], was_down: bool, results: dict[str, TargetResult]
    ) -> None:
        """Make the first request for new items and act on the answers."""
        if not items or self._queue.unloaded():
            return
        receipts = await self._settler.async_call(items)
        for index, (item, receipt) in enumerate(zip(items, receipts, strict=True)):
            if self._queue.unloaded():
                results.update(self._unloaded(items[index:], receipts[index:]))
                return
            if was_down and receipt.outcome is Outcome.TRANSIENT and self._router.fallback(item):
                # Known down before this try too: the fallback takes it now instead of after retries
                results[item.id] = await self._settler.async_fail(item, receipt.error or "provider unreachable")
            else:
                results[item.id] = await self._settler.async_handle(item, receipt)

    def _unloaded(self, items: list[QueuedItem], receipts: list[Receipt] | None = None) -> dict[str, TargetResult]:
        """Report new messages the entry was unloaded under: the unload wrote them, or handed them over.

        Whoever holds them now (the reloaded entry, the fallback) sends them; nothing more happens
        here. A request that went through is reported sent, though they may send it again.
        """
        results = {
            item.id: self._settler.result(item, SendStatus.QUEUED, f"{self._title} was unloaded meanwhile")
            for item in items
        }
        for item, receipt in zip(items, receipts or (), strict=False):
            if receipt.outcome is Outcome.SENT:
                results[item.id] = self._settler.result(item, SendStatus.SENT, None, receipt.message_id)
        return results

    async def _async_settle(self, results: dict[str, TargetResult], accepted: int | None = None) -> None:
        """Write what changed after new messages were tried, and plan the retries.

        Queued messages are on disk before the action returns: the journal line `accepted` holds them
        (written while their request ran, so mostly on disk already); without it, every line so far.
        """
        if self._queue.unloaded():
            # Unloaded meanwhile: the file belongs to the entry's next outbox now
            return
        if any(result.status is SendStatus.QUEUED for result in results.values()):
            self._queue.flush()
            await self._queue.store.async_written(accepted)
            self._queue.changed()
            self._drain.schedule()
