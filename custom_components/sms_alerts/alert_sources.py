"""Alert sources of an entry: their webhooks, the open alerts (kept on disk) and the SMS sent for them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util

from .alert_escalations import RING, Escalations
from .alert_maintenance import Maintenance
from .alert_not_shown import NotShown
from .alert_source_config import SourceConfig
from .alert_store import AlertStore
from .alert_texts import AlertTexts
from .alert_transitions import SNOOZED, async_fire_transition, async_send_transition
from .alert_webhooks import source_hooks
from .alerts.book import ACKNOWLEDGED, FIRING, RESOLVED, AlertBook, Ending, OpenAlert
from .alerts.models import Alert, AlertStatus, ParseResult, Severity
from .alerts.paging import ACK_BY_HOME_ASSISTANT
from .alerts.render import render_group, render_test
from .alerts.routing import recipients_for
from .const import (
    LOGGER,
    SIGNAL_ALERTS_CHANGED,
    SUBENTRY_ALERT_SOURCE,
)
from .outbox import SendOptions, SendReport, SendStatus
from .recipients import recipient_names, recipient_targets
from .submit import async_accept
from .webhook_url import replies_arrive

if TYPE_CHECKING:
    from .api.base import Provider
    from .outbox import Outbox

# The key of the escalations in the stored book
ESCALATIONS = "escalations"
# The key of the maintenance windows in the stored book
MAINTENANCE = "maintenance"
# A target told of an alert: the SMS went, waits, or a copy of it went already
_TOLD = frozenset({SendStatus.SENT, SendStatus.QUEUED, SendStatus.THROTTLED, SendStatus.DEDUPLICATED})


@dataclass
class _Outgoing:
    """The SMS of one body to one target: alerts that fire, alerts that ended."""

    firing: list[tuple[Alert, OpenAlert]] = field(default_factory=list)
    resolved: list[tuple[Alert, OpenAlert]] = field(default_factory=list)


class AlertSources:
    """The alert sources of one loaded entry."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[Any], outbox: Outbox, provider: Provider) -> None:
        """Read the entry's sources, which send through `outbox`; nothing is registered before async_load."""
        self._hass = hass
        self._entry = entry
        self._outbox = outbox
        self._store = AlertStore(hass, entry.entry_id, self._stored, self._take_deliveries)
        self.book = AlertBook()
        self.sources: dict[str, SourceConfig] = {}
        self.lock = asyncio.Lock()
        # False from the start of an unload: timers that fall due then page nothing (the next load pages them)
        self.taking = True
        self._changed_since_load = False
        # Stops handing the sources' bodies here (set while loaded)
        self._detach: Callable[[], None] = lambda: None
        # A page asks for a reply where one reaches Home Assistant now (not while a repair issue says it cannot)
        replies = provider.receives_replies(entry.data)
        self.escalations = Escalations(
            hass,
            entry,
            self,
            can_ring=RING in provider.options,
            replies=lambda: replies and replies_arrive(hass, entry),
        )
        self.maintenance = Maintenance(hass, entry, self)
        self.escalations.paused = self.maintenance.active
        self.texts = AlertTexts(hass)
        self.not_shown = NotShown(self.maintenance.active)
        names = {title: key for key, title in self.recipient_names().items()}
        for subentry in entry.subentries.values():
            if subentry.subentry_type != SUBENTRY_ALERT_SOURCE:
                continue
            try:
                self.sources[subentry.subentry_id] = SourceConfig.from_subentry(subentry, names)
            except (KeyError, ValueError) as err:
                LOGGER.error("%s: the alert source %s cannot be used (%s)", entry.title, subentry.title, err)

    async def async_load(self) -> None:
        """Read the open alerts and listen on every source's webhook until the entry unloads.

        An entry without sources reads nothing: what a removed source left is pruned when one is added again.
        """
        hooks = source_hooks(self._hass)
        if not self.sources:
            # Webhooks of sources removed since are let go
            hooks.async_sync(self._entry)
            return
        stored = await self._store.async_load()
        self.book = AlertBook.from_dict(stored)
        # The deliveries seen from now on go to the journal as they come
        self.book.delivery_log = []
        self.book.keep_sources(self.sources)
        self.escalations.load(stored.get(ESCALATIONS) if isinstance(stored, dict) else None)
        self.maintenance.load(stored.get(MAINTENANCE) if isinstance(stored, dict) else None)
        # Each source's webhook hands its bodies here until the entry stops taking them (then a request waits for
        # the entry to be back, or gets 503)
        self._detach = hooks.async_attach(self._entry, self.sources, self)
        self._entry.async_on_unload(self._detach)
        # What fell due while Home Assistant was down is paged now, once
        self.escalations.arm()
        self._entry.async_on_unload(self.escalations.cancel)
        # A window whose end passed while Home Assistant was down ends now, with its summary
        self.maintenance.arm()
        self._entry.async_on_unload(self.maintenance.cancel)

    async def async_stop_taking(self) -> None:
        """Stop taking the sources' bodies (the entry unloads), and let those being acted on end.

        A request from now on waits for the entry to be back, or gets 503 (alert_webhooks). No escalation step
        or maintenance window's end runs from now on either: the outbox closes in a moment, and what falls due
        meanwhile is paged by the entry's next load (it pages what fell due while it was away).
        """
        self._detach()
        self.taking = False
        async with self.lock:
            self.escalations.cancel()
            self.maintenance.cancel()

    @callback
    def resume_taking(self) -> None:
        """Take the sources' bodies again (the entry stays loaded after all)."""
        self.taking = True
        if self.sources:
            self._detach = source_hooks(self._hass).async_attach(self._entry, self.sources, self)
            self.escalations.arm()
            self.maintenance.arm()

    async def async_unload(self) -> None:
        """Write the open alerts whole where they changed (their journal then starts afresh), and wait for the disk."""
        self.escalations.cancel()
        self.maintenance.cancel()
        if self._changed_since_load:
            await self._store.async_close()

    def _stored(self) -> dict[str, Any]:
        """Return what is kept on disk: the book and the escalations of its open alerts."""
        return {
            **self.book.as_dict(),
            ESCALATIONS: self.escalations.as_stored(),
            MAINTENANCE: self.maintenance.as_stored(),
        }

    def _take_deliveries(self) -> list[tuple[str, float]]:
        """Return the deliveries the book saw since the journal last asked (the book is replaced at load)."""
        return self.book.take_deliveries()

    async def async_save(self) -> None:
        """Write the open alerts and their escalations now."""
        await self._store.async_save()

    async def async_process(self, source: SourceConfig, result: ParseResult) -> None:
        """Act on one parsed body: open, count and close alerts, and send what is due; return once on disk.

        Bodies are acted on one at a time; the wait for the disk is not: the SMS of bodies that come
        together are synced together, and a sender's answer waits for one sync, not for each before it.
        """
        lines: list[int] = []
        await self._async_process_locked(source, result, lines)
        # Its SMS on disk before the answer; the alerts' records (who was told) within a second (an escalated
        # alert's page waited for its record already)
        if lines:
            await self._outbox.async_written(max(lines))

    async def _async_process_locked(self, source: SourceConfig, result: ParseResult, lines: list[int]) -> None:
        """Act on one body with the lock held; the journal lines of its SMS go to `lines`."""
        async with self.lock:
            now = dt_util.utcnow().timestamp()
            seen = self.book.seen_delivery(source.subentry_id, result.digest, now)
            if seen and not self.book.changes(source.subentry_id, result.alerts):
                LOGGER.debug("%s: the same delivery again; ignored", source.name)
                # Its new time is kept too: after a reload, a retry within the window of this one is still one
                self._save_soon()
                return
            try:
                await self._async_act(source, result, now, lines)
            except Exception:
                # Not acted on (wholly): the sender is answered 500, and its next try counts as new
                self.book.forget_delivery(source.subentry_id, result.digest)
                raise

    async def _async_act(self, source: SourceConfig, result: ParseResult, now: float, lines: list[int]) -> None:
        """Act on a body not seen before: open, count and close its alerts, and send what is due."""
        if result.test:
            await self._async_send_test(source, result)
            return
        outgoing: dict[str, _Outgoing] = {}
        for alert in result.alerts:
            if alert.status is AlertStatus.FIRING:
                if (ended := self.book.ended_unheard(source.subentry_id, alert)) is not None:
                    # A new episode: the earlier one's resolved never came (lost at a restart, or not sent)
                    LOGGER.info(
                        "%s: %s (%s) fires anew; its earlier firing never got its resolved and is closed",
                        source.name,
                        alert.shown_name,
                        ended.code,
                    )
                    await self._async_resolve(source, alert, outgoing, tell=False)
                self._fire(source, alert, now, outgoing)
            else:
                await self._async_resolve(source, alert, outgoing)
        try:
            # Targets at once (the outbox keeps each target's order), each target's SMS in order
            await asyncio.gather(*(self._async_send(source, target, sms, lines) for target, sms in outgoing.items()))
            # Alerts it names but does not show (left out by the sender, unreadable): one SMS says so
            if (note := self.not_shown.note(source, result)) is not None:
                for target in self.default_targets(source):
                    await self.async_submit(source, note[0], target, note[1], lines=lines)
            # Alerts escalated by this body page their first step now, before the sender gets its answer
            await self.escalations.async_page_due()
        finally:
            self.changed(soon=True)

    def _fire(self, source: SourceConfig, alert: Alert, now: float, outgoing: dict[str, _Outgoing]) -> None:
        """Open a firing alert and plan its SMS to its recipients; one open already is counted only."""
        opened, new = self.book.fire(source.subentry_id, alert, now)
        if not new and (opened.notified or self.escalations.escalating(source.subentry_id, opened.fingerprint)):
            LOGGER.debug("%s: %s fires again; counted, not sent", source.name, alert.shown_name)
            return
        if new:
            self._event(source, opened, FIRING)
            self.escalations.keep(self.book.open)
        if self.maintenance.hold(source.subentry_id, alert):
            return
        # An escalated alert is paged by its policy's steps instead of the routed recipients
        if new and self.escalations.start(source, opened, alert):
            return
        if not new:
            LOGGER.info("%s: %s fires again and nobody got it yet; sending it again", source.name, alert.shown_name)
        targets = self._targets(source, alert)
        if not targets:
            LOGGER.warning("%s: %s fires, but no recipient is set up or routed for it", source.name, alert.shown_name)
        for target in targets:
            outgoing.setdefault(target, _Outgoing()).firing.append((alert, opened))

    async def _async_resolve(
        self, source: SourceConfig, alert: Alert, outgoing: dict[str, _Outgoing], *, tell: bool = True
    ) -> None:
        """Close an alert; tell those who got its firing SMS (unless not `tell`); take back firing SMS still held."""
        closed = self.book.resolve(source.subentry_id, alert.fingerprint)
        if closed is None:
            return
        self.escalations.resolve(source.subentry_id, alert.fingerprint)
        self._event(source, closed, RESOLVED)
        held = self.book.own_sms(closed)
        withdrawn = await self._outbox.async_withdraw(held) if held else set()
        if withdrawn:
            LOGGER.debug(
                "%s: %s ended before its SMS went out; %d held SMS taken back", source.name, alert.name, len(withdrawn)
            )
        if not tell or self.maintenance.hold(source.subentry_id, alert) or not source.send_resolved:
            return
        for target, item_id in closed.notified.items():
            if not item_id or item_id not in withdrawn or target in closed.earlier:
                outgoing.setdefault(target, _Outgoing()).resolved.append((alert, closed))

    def _targets(self, source: SourceConfig, alert: Alert) -> list[str]:
        """Return the targets of the recipients an alert is routed to."""
        recipients = self.recipient_targets()
        chosen = recipients_for(alert.labels, source.routes, source.recipients, list(recipients))
        return list(dict.fromkeys(recipients[subentry_id] for subentry_id in chosen))

    def recipient_names(self) -> dict[str, str]:
        """Return the name of each of the entry's recipients, by subentry id."""
        return recipient_names(self._entry)

    def recipient_targets(self) -> dict[str, str]:
        """Return the target of each of the entry's recipients, by subentry id."""
        return recipient_targets(self._entry)

    async def _async_send(self, source: SourceConfig, target: str, sms: _Outgoing, lines: list[int]) -> None:
        """Send one target its SMS of a body: one per alert, or one summary where they would pass the rate limit."""
        alerts = [alert for alert, _opened in sms.firing + sms.resolved]
        limit = self._outbox.settings.storm.rate_limit
        closed_of = {id(alert): opened for alert, opened in sms.firing + sms.resolved}
        if limit and len(alerts) > limit:
            texts = [render_group(alerts)]
        else:
            texts = [self.texts.text(source, alert, closed_of[id(alert)]) for alert in alerts]
        # The summary stands for every alert in it: each firing one is told through it
        groups: Sequence[Sequence[Alert]] = [alerts] if len(texts) == 1 and len(alerts) > 1 else [[a] for a in alerts]
        opened_of = {id(alert): opened for alert, opened in sms.firing}
        for text, group in zip(texts, groups, strict=True):
            severity = min((_sms_severity(alert) for alert in group), key=lambda severity: severity.rank)
            fingerprints = [opened.fingerprint for alert in group if (opened := opened_of.get(id(alert))) is not None]
            item_id = await self.async_submit(source, text, target, severity, fingerprints, lines=lines)
            if item_id is not None:
                # One that names ended alerts too is a summary: their RESOLVED must not be taken back with it
                self.book.told(source.subentry_id, fingerprints, target, item_id, names=len(group))

    async def async_submit(
        self,
        source: SourceConfig,
        text: str,
        target: str,
        severity: Severity,
        fingerprints: Sequence[str] = (),
        options: SendOptions | None = None,
        *,
        lines: list[int] | None = None,
    ) -> str | None:
        """Hand one SMS to the entry's outbox; return its item's id once it is on disk, or None when refused.

        The webhook answers then, not once the device answered: a sender waits milliseconds, not for a
        slow device. How the send ends is noted when it does (`_send_ended`). Given `lines`, it returns
        once the SMS is taken and adds its journal line there: the caller waits for the disk.
        """
        try:
            accepted = await async_accept(
                self._outbox,
                text,
                None,
                [target],
                options or SendOptions(),
                str(severity),
                written=lines is None,
            )
        except HomeAssistantError as err:
            LOGGER.warning("%s: an alert SMS could not be sent (%s)", source.name, type(err).__name__)
            return None
        if lines is not None:
            lines.append(accepted.line)
        item_id = accepted.item_ids[0]
        self.book.under_way.add(item_id)
        accepted.report.add_done_callback(partial(self._send_ended, source, tuple(fingerprints), target, item_id))
        return item_id

    @callback
    def _send_ended(
        self,
        source: SourceConfig,
        fingerprints: tuple[str, ...],
        target: str,
        item_id: str,
        report: asyncio.Future[SendReport],
    ) -> None:
        """Note how the first send of an alert SMS ended: sent, kept (told), or failed (nobody told after all).

        Cancelled, the entry unloads: the SMS stays in the outbox and goes out later (its unload writes it).
        """
        self.book.under_way.discard(item_id)
        result = None
        if not report.cancelled() and (err := report.exception()) is not None:
            LOGGER.warning("%s: an alert SMS could not be sent (%s)", source.name, type(err).__name__)
        elif not report.cancelled():
            result = report.result().result_of(item_id)
        status = None if result is None else result.status
        told = report.cancelled() or status in _TOLD
        ended = Ending(told=told, sent=status is SendStatus.SENT, copy_of=None if result is None else result.copy_of)
        if self.book.first_send_ended(source.subentry_id, fingerprints, target, item_id, ended):
            self.changed(soon=True)

    async def _async_send_test(self, source: SourceConfig, result: ParseResult) -> None:
        """Send a source's test message to its default recipients."""
        for target in self.default_targets(source):
            await self.async_submit(source, render_test(result), target, Severity.INFO)

    def default_targets(self, source: SourceConfig) -> list[str]:
        """Return the targets of a source's own recipients (all of the entry's where it chose none still there)."""
        recipients = self.recipient_targets()
        chosen = [recipients[key] for key in source.recipients if key in recipients] or list(recipients.values())
        return list(dict.fromkeys(chosen))

    # Acknowledgement and what is shown

    async def async_acknowledge(
        self, *, fingerprint: str | None, code: str | None, by: str = ACK_BY_HOME_ASSISTANT, sender: str | None = None
    ) -> OpenAlert | None:
        """Mark an open alert acknowledged, stop its escalation, fire the event; None when none is open with that key.

        With the source's `announce_ack`, everybody paged so far hears of it, except `sender` (who replied).
        """
        async with self.lock:
            found = self.book.acknowledge(fingerprint=fingerprint, code=code)
            if found is None:
                return None
            source = self.sources.get(found.source)
            if source is not None:
                self._event(source, found, ACKNOWLEDGED, by)
            ended = self.escalations.acknowledge(found.source, found.fingerprint, by)
            if ended is not None and source is not None:
                LOGGER.info("%s: %s acknowledged by %s; its escalation stops", source.name, found.code, by)
                if source.announce_ack:
                    await self.escalations.async_announce(source, ended, by, sender)
            self.changed()
        # On disk before the caller hears of it: a crash right after does not page the acknowledged alert again
        await self._store.async_written()
        return found

    async def async_snooze(
        self, *, fingerprint: str | None, code: str | None, minutes: int
    ) -> tuple[OpenAlert | None, bool]:
        """Hold an open alert's escalation for some minutes: (the alert or None, whether an escalation was held)."""
        async with self.lock:
            found = self.book.find(fingerprint=fingerprint, code=code)
            if found is None:
                return None, False
            until = self.escalations.snooze(found.source, found.fingerprint, minutes)
            if until is not None:
                async_send_transition(self._hass, self._entry.entry_id, found, SNOOZED, until=until.isoformat())
                LOGGER.info(
                    "%s: the escalation of %s is held until %s", self._entry.title, found.code, until.isoformat()
                )
                self.changed()
        await self._store.async_written()
        return found, until is not None

    def escalation_of(self, alert: OpenAlert) -> dict[str, Any] | None:
        """Describe an alert's escalation (None when it is not escalated)."""
        return self.escalations.describe(alert.source, alert.fingerprint, self.recipient_names())

    def open_alerts(self, source_id: str) -> list[OpenAlert]:
        """Return the open alerts of a source, the newest first."""
        found = [alert for alert in self.book.open.values() if alert.source == source_id]
        return sorted(found, key=lambda alert: alert.first_seen, reverse=True)

    def _event(self, source: SourceConfig, alert: OpenAlert, status: str, who: str | None = None) -> None:
        """Tell of a transition of an alert: sms_alerts_alert, and the source's event entity (`who`: by whom)."""
        maintenance = self.maintenance.active(source.subentry_id)
        async_fire_transition(self._hass, self._entry.entry_id, source.name, alert, status, who, maintenance)

    @callback
    def changed(self, *, soon: bool = False) -> None:
        """Write the open alerts now (or within a second, `soon`) and tell the sensors."""
        self._changed_since_load = True
        self._store.changed(soon=soon)
        async_dispatcher_send(self._hass, SIGNAL_ALERTS_CHANGED.format(self._entry.entry_id))

    @callback
    def _save_soon(self) -> None:
        """Write the open alerts and the deliveries seen within a second, with the other changes then."""
        self._changed_since_load = True
        self._store.changed(soon=True)


def _sms_severity(alert: Alert) -> Severity:
    """Return the severity an alert's SMS goes with: a resolution is good news, never critical.

    So RESOLVED messages keep to the rate limit and the duplicate window (a flapping critical alert
    pages every firing, but its resolutions go in the minute's summary).
    """
    if alert.status is AlertStatus.RESOLVED and alert.severity is Severity.CRITICAL:
        return Severity.WARNING
    return alert.severity
