"""The one way out: every alert of an entry is taken here, kept while it waits, and followed to its end."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.util import dt as dt_util

from ..api.base import Provider, mask_target
from ..const import DEFAULT_SEVERITY, DOMAIN, LOGGER, SUBENTRY_RECIPIENT
from ..errors import validation_error
from ..message import MessageError, PreparedMessage
from ..outbox_store import OutboxStore
from . import notices
from .compose import Composer
from .drain import Drain
from .entry import OutboxEntry
from .gate import Gate
from .intake import Intake
from .lifecycle import ItemState
from .memory import Memory
from .models import (
    Accepted,
    Block,
    OutboxClosedError,
    QueuedItem,
    SendOptions,
    SendReport,
    SendStatus,
    TargetResult,
    WaitingMessage,
    interrupted_sends,
    new_id,
    parse_items,
)
from .parts import Parts
from .policy import Policy
from .queue import Queue
from .reports import DeliveryReports
from .router import Router
from .screen import Screen
from .settings import OutboxSettings
from .settle import Settler


def _now() -> float:
    """Return the current time as a timestamp (frozen in tests)."""
    return dt_util.utcnow().timestamp()


def _today() -> str:
    """Return today's date in Home Assistant's time zone."""
    return dt_util.now().date().isoformat()


def read_settings(entry: OutboxEntry) -> OutboxSettings:
    """Read an entry's outbox settings from its options and recipients."""
    recipients = [sub.data for sub in entry.subentries.values() if sub.subentry_type == SUBENTRY_RECIPIENT]
    return OutboxSettings.read(entry.options, recipients)


async def async_remove_store(hass: HomeAssistant, entry: OutboxEntry) -> None:
    """Delete the outbox file of a removed entry, whose waiting messages must not vanish with it.

    They go to the entry's fallback entry where there is one (as after a refused login); the others
    are given up for good, each with sms_alerts_failed and a warning, as at the end of their lifetime.
    """
    store = OutboxStore(hass, entry.entry_id)
    items, _skipped = parse_items(await store.async_load())
    dropped = Router(hass, entry.title, read_settings(entry)).hand_over(items or [], "removed")
    if dropped:
        LOGGER.warning(
            "%s was removed with %s message(s) waiting and no fallback to take them; "
            "sms_alerts_failed is fired for each",
            entry.title,
            len(dropped),
        )
        for item in dropped:
            error = f"{entry.title} was removed before the message could be sent"
            notices.fire_failed(hass, entry.entry_id, str(item.target), item.text, error)
    await store.async_remove()


class Outbox:
    """Takes, keeps, retries and reports the alerts of one entry; the only place retries live.

    Its parts follow one alert: `compose` shapes it, `policy` applies storm control, `intake` makes its
    first request, `queue` keeps it (in one state of `lifecycle`, written to the journal), `drain`
    tries it again, `settle` acts on each answer, `router` hands it to the fallback, `gate` says
    whether the entry may send at all.
    """

    def __init__(
        self, hass: HomeAssistant, entry: OutboxEntry, provider: Provider, *, known_down: Callable[[], bool]
    ) -> None:
        """Bind the outbox to its entry and provider; `known_down` tells whether the entry's health finds it down."""
        self._hass = hass
        self._entry = entry
        self._provider = provider
        self.settings = settings = read_settings(entry)
        self._memory = Memory()
        self._queue = Queue(hass, entry.entry_id, self._memory, with_sent=provider.reports_delivery)
        self._gate = Gate(hass, entry)
        self._router = Router(hass, entry.title, settings)
        self._composer = Composer(provider, settings, entry.title)
        self._policy = Policy(settings, self._memory)
        parts = Parts(
            hass=hass,
            entry=entry,
            provider=provider,
            settings=settings,
            queue=self._queue,
            gate=self._gate,
            router=self._router,
            memory=self._memory,
            composer=self._composer,
            policy=self._policy,
            clock=_now,
            today=_today,
            known_down=known_down,
        )
        self._settler = Settler(parts, self.async_recovered)
        self._drain = Drain(parts, self._settler)
        self._intake = Intake(parts, self._settler, self._drain)
        self._screen = Screen(parts, self._settler, self._drain)
        self._reports = DeliveryReports(parts, self._settler, self._drain)
        self._unsub_fallback: CALLBACK_TYPE | None = None

    @property
    def title(self) -> str:
        """The entry's title."""
        return self._entry.title

    @property
    def items(self) -> list[QueuedItem]:
        """The waiting and held messages, oldest first (a copy)."""
        return list(self._queue.items.values())

    @property
    def block(self) -> Block | None:
        """Why the entry sends nothing for now, if it does not."""
        return self._gate.block

    @property
    def last_report(self) -> SendReport | None:
        """The report of the last send, following its messages to their end."""
        return self._settler.last_report

    # Life cycle

    async def async_load(self) -> None:
        """Read the waiting messages; skip what cannot be read, loudly; then start draining."""
        stored = await self._queue.store.async_load()
        items, skipped = parse_items(stored)
        if stored is not None and items is None:
            LOGGER.error("The outbox of %s holds no list of messages; it starts empty", self.title)
        self._queue.load(items or [])
        self._memory.load(stored)
        if interrupted := interrupted_sends(stored):
            LOGGER.warning(
                "%s was sending %s message(s) when it last stopped; sending them again, "
                "so a recipient may get one twice",
                self.title,
                interrupted,
            )
        if skipped:
            LOGGER.error("Skipped %s unreadable message(s) in the outbox of %s", skipped, self.title)
        if self._queue.items:
            LOGGER.info("%s has %s message(s) waiting; sending them now", self.title, len(self._queue.items))
        if (fallback := self._router.entry()) is not None:
            self._unsub_fallback = fallback.async_on_state_change(self._on_fallback_state)
        self._queue.changed()
        self._drain.schedule()

    @callback
    def _on_fallback_state(self) -> None:
        """Let the fallback entry take what waits for it as soon as it is loaded again (or give up on it)."""
        if self._router.loaded():
            self._drain.fallback_loaded()
        if self._queue.items and not self._queue.unloaded():
            self._drain.start()

    async def async_unload(self) -> None:
        """Stop retrying and write the waiting messages at once, with any new send still under way.

        Such a send finishes here, but the entry's next outbox owns the file and sends it again:
        a duplicate is possible, a loss is not. (A drain pass under way is cancelled and awaited
        by the unload, so its last write comes before the next outbox reads the file.)
        """
        self._queue.closed = True
        if self._unsub_fallback is not None:
            self._unsub_fallback()
            self._unsub_fallback = None
        self._drain.stop()
        self._release_when_disabled()
        await self._queue.async_close()

    def _release_when_disabled(self) -> None:
        """Let the fallback take the messages of an entry being disabled (not those held for quiet hours).

        Say what stays.
        """
        if self._entry.disabled_by is None:
            return
        # Held only until the minute ends: summed up now, they go too
        self._drain.release_held(early=ItemState.HELD_RATE)
        queue = self._queue
        # New messages under way go too: their request may still go through, so a duplicate is possible
        waiting = [item for item in queue.items.values() if item.state in (ItemState.WAITING, ItemState.HELD_FALLBACK)]
        waiting += queue.in_flight.values()
        left = {item.id for item in self._router.hand_over(waiting, "disabled")}
        for item in waiting:
            if item.id not in left:
                queue.move(item, ItemState.HANDED_OVER)
        if kept := len(queue.items) + len(queue.in_flight):
            LOGGER.warning(
                "%s was disabled with %s message(s) waiting; they are kept and sent when it is enabled again",
                self.title,
                kept,
            )

    # Taking alerts

    async def async_submit(
        self,
        message: str,
        title: str | None,
        targets: Iterable[str] | None,
        options: SendOptions,
        severity: str = DEFAULT_SEVERITY,
    ) -> SendReport:
        """Prepare and send: the entry point of the action and both notify paths; bad input raises MessageError."""
        prepared = self._composer.prepare(message, title, targets, options, self._hass.config.country)
        return await self.async_send(prepared, options, severity)

    async def async_send(
        self, prepared: PreparedMessage, options: SendOptions, severity: str = DEFAULT_SEVERITY
    ) -> SendReport:
        """Send a prepared message to its targets and report the outcome of each.

        Shielded: once taken, an alert is sent, kept or handed over even if its caller is cancelled
        meanwhile (an automation in restart mode, triggered again while the device is slow). The send
        runs as a task of its own, which hands its report to the caller's future itself: a cancelled
        caller cancels only that future (as `asyncio.shield` would, without its extra turn of the loop).
        """
        answer: asyncio.Future[SendReport] = self._hass.loop.create_future()
        self._hass.async_create_task(self._async_send_to(answer, prepared, options, severity), f"{DOMAIN} send")
        return await answer

    async def async_accept(
        self,
        message: str,
        title: str | None,
        targets: Iterable[str] | None,
        options: SendOptions,
        severity: str = DEFAULT_SEVERITY,
        *,
        written: bool = True,
    ) -> Accepted:
        """Take an alert and return once it is on disk, while its first request still runs.

        For callers that must answer at once (a monitoring system's webhook): they need not wait for
        the device. What is returned names the alert's items (one per target, in order) and holds the
        report once the first send ended; the caller must take its result or exception. Bad input
        raises MessageError here. With `written` False it returns once the alert is taken, and the
        caller waits for `async_written(accepted.line)` itself (the lines of several alerts are then
        synced together).
        """
        prepared = self._composer.prepare(message, title, targets, options, self._hass.config.country)
        answer: asyncio.Future[SendReport] = self._hass.loop.create_future()
        accepted: asyncio.Future[tuple[int, tuple[str, ...]]] = self._hass.loop.create_future()
        self._hass.async_create_task(
            self._async_send_to(answer, prepared, options, severity, accepted), f"{DOMAIN} send"
        )
        try:
            line, item_ids = await accepted
        except BaseException:
            if answer.done() and not answer.cancelled():
                answer.exception()  # the same error, raised here: taken, so that it is not reported unretrieved
            raise
        if written:
            await self._queue.store.async_written(line)
        return Accepted(item_ids=item_ids, report=answer, line=line)

    async def async_written(self, line: int) -> None:
        """Wait until journal line `line` (an alert accepted without waiting for the disk) is on disk."""
        await self._queue.store.async_written(line)

    async def _async_send_to(
        self,
        answer: asyncio.Future[SendReport],
        prepared: PreparedMessage,
        options: SendOptions,
        severity: str,
        accepted: asyncio.Future[tuple[int, tuple[str, ...]]] | None = None,
    ) -> None:
        """Send, and hand the report (or the error) to the caller, unless the caller is gone."""
        try:
            report = await self._async_send(prepared, options, severity, accepted)
        except asyncio.CancelledError:
            # The send itself was cancelled (Home Assistant stopping): so is its caller's wait
            answer.cancel()
            if accepted is not None:
                accepted.cancel()
            raise
        except Exception as err:  # noqa: BLE001 - the caller's to raise, as through asyncio.shield
            for future in (answer, accepted):
                if future is not None and not future.done():
                    future.set_exception(err)
            return
        if not answer.done():
            answer.set_result(report)

    async def _async_send(
        self,
        prepared: PreparedMessage,
        options: SendOptions,
        severity: str,
        accepted: asyncio.Future[tuple[int, tuple[str, ...]]] | None = None,
    ) -> SendReport:
        """Send a prepared message to its targets and report the outcome of each.

        `accepted`, when given, gets the number of the journal line that holds the new items, and their ids.
        """
        if self._queue.closed:
            # The entry unloads (its closing write may be done): taken now, the alert would be in no file
            raise OutboxClosedError(self.title)
        now = _now()
        message_id = new_id()
        if self.settings.ack_reference:
            targets = tuple(str(target) for target in prepared.targets)
            reference = self._memory.new_reference(prepared.text, targets)
            self._queue.store.reference(reference, prepared.text, list(targets))
            prepared = self._composer.with_reference(prepared, reference)
        items = [
            QueuedItem(
                id=new_id(),
                message_id=message_id,
                text=prepared.text,
                target=target,
                options=options,
                parts=prepared.info.parts,
                encoding=str(prepared.info.encoding),
                severity=severity,
                created=now,
                visited=(self._entry.entry_id,),
            )
            for target in prepared.targets
        ]
        if LOGGER.isEnabledFor(logging.DEBUG):
            LOGGER.debug(
                "Sending %s %s part(s) to %s",
                prepared.info.encoding,
                prepared.info.parts,
                ", ".join(mask_target(target) for target in prepared.targets),
            )
        # On disk from now on: written while storm control decides and the first request starts
        self._queue.admit(items)
        line = self._queue.write_new(items)
        if accepted is not None and not accepted.done():
            accepted.set_result((line, tuple(item.id for item in items)))
        # Taken to go out: their parts count against the budget until their send ends (alerts at once share it)
        reserved: list[QueuedItem] = []
        try:
            results = await self._screen.async_screen(items, reserved)
            self._queue.write_settled([item for item in items if item.id in results])
            taken = [item for item in items if item.id not in results]
            # Storm control counts what went out or waits to go out (see Intake.async_take)
            results.update(await self._intake.async_take(taken, line, screened=True))
        finally:
            for item in reserved:
                self._policy.release(item)
        rejected = [self._reject(raw, err, prepared) for raw, err in prepared.rejected]
        report = SendReport(
            message_id=message_id,
            item_ids=(*(item.id for item in items), *(new_id() for _ in rejected)),
            results=(*(results[item.id] for item in items), *rejected),
            time=dt_util.utcnow(),
        )
        self._settler.report(report)
        return report

    def _reject(self, raw: str, err: MessageError, prepared: PreparedMessage) -> TargetResult:
        """Fail a target that could not be read, sent beside others: logged, and the event fired."""
        error = str(validation_error(err))
        LOGGER.warning(
            "Message to %s via %s failed: the target cannot be read (%s)", mask_target(raw), self.title, err.key
        )
        notices.fire_failed(self._hass, self._entry.entry_id, raw, prepared.text, error)
        return TargetResult(
            target=raw,
            status=SendStatus.FAILED,
            provider=self._provider.key,
            error=error,
            parts=prepared.info.parts,
            message_id=None,
            encoding=str(prepared.info.encoding),
        )

    async def async_take_over(self, items: Sequence[QueuedItem]) -> list[TargetResult]:
        """Take messages another entry could not deliver, as its fallback (of one or several messages)."""
        taken: list[QueuedItem] = []
        refused: list[QueuedItem] = []
        results: dict[str, TargetResult] = {}
        for item in items:
            moved = replace(
                item,
                attempts=0,
                next_attempt=0.0,
                last_error=None,
                hold_until=0.0,
                state=ItemState.NEW,
                visited=(*item.visited, self._entry.entry_id),
            )
            (taken if item.target.kind in self._provider.target_kinds else refused).append(moved)
        if self._queue.closed:
            # Unloading since the other entry found it loaded: taken now, they would be in no file. Loudly, then
            for item in taken:
                error = f"{self.title} was being unloaded as it took the message over as fallback"
                self._settler.give_up(item, error)
                results[item.id] = self._settler.result(item, SendStatus.FAILED, error)
            taken = []
        # On disk before anything here waits: the unload cannot close the queue between the two
        self._queue.admit(taken)
        accepted = self._queue.write_new(taken)
        for item in refused:
            error = f"{self.title} cannot send to {item.target.kind} targets"
            results[item.id] = await self._settler.async_fail(item, error)
        if any(result.status is SendStatus.QUEUED for result in results.values()) and not self._queue.unloaded():
            # One waiting here for this entry's own fallback is written, and looked at again
            self._queue.flush()
            await self._queue.store.async_written()
            self._queue.changed()
            self._drain.schedule()
        if taken:
            LOGGER.info("%s takes over %s message(s) as fallback", self.title, len(taken))
        # One message at a time, in order: a send carries the text of one message to its targets.
        # The later ones count as under way meanwhile (an unload writes them too).
        by_message: dict[str, list[QueuedItem]] = {}
        for item in taken:
            by_message.setdefault(item.message_id, []).append(item)
        for group in by_message.values():
            results.update(await self._intake.async_take(group, accepted))
        return [results[item.id] for item in items]

    async def async_drain(self) -> None:
        """Run a drain pass now (the timer runs one whenever something is due)."""
        await self._drain.async_drain()

    # What comes back

    async def async_delivery_report(self, message_id: str, state: str, to: str = "") -> bool:
        """Act on a provider's delivery report; a failed delivery counts as a failed send. False if unknown."""
        return await self._reports.async_report(message_id, state, to)

    @callback
    def async_acknowledged(self, text: str) -> tuple[int, str, tuple[str, ...]] | None:
        """Find the alert a reply acknowledges by its reference (#42): (reference, message, targets), or None."""
        return self._memory.acknowledged(text)

    @callback
    def async_recovered(self) -> None:
        """Try what waits now: the provider answers again (a send went through, its status page answers)."""
        self._drain.retry_now()

    async def async_withdraw(self, item_ids: Iterable[str]) -> set[str]:
        """Take out held messages (quiet hours, rate limit) whose alert is over; return the ids taken out."""
        return await self._drain.async_withdraw(item_ids)

    # By hand: the Retry now button, the list_waiting and drop_waiting actions

    @callback
    def async_retry_now(self) -> bool:
        """Try what waits now, as after a recovery; False while refused credentials wait for a new login."""
        return self._drain.retry_now()

    def waiting_messages(self) -> list[WaitingMessage]:
        """Describe the waiting and held messages, oldest first."""
        return self._drain.listing()

    async def async_drop(self, item_id: str) -> bool:
        """Drop one waiting or held message on purpose (logged, sms_alerts_failed fired); False if unknown."""
        return await self._drain.async_drop(item_id)
