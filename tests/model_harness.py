"""A world for the model-based test: two real entries on two simulators, steps that disturb them, invariants.

The primary SMS Gateway entry falls back to a second one; each talks to its own brevis.one simulator on
loopback. Every alert carries a unique token (`ALERT-<n>.`) in its text, so that what a simulator took,
what waits in an outbox (in memory or on disk) and what was given up (`sms_alerts_failed`) can be
matched to it. The promises checked are those of the README's "Never losing an alert: the outbox".
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from unittest.mock import patch
from urllib.parse import parse_qsl

from freezegun.api import TickingDateTimeFactory
from homeassistant.config_entries import ConfigEntryDisabler, ConfigEntryState
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import storage
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.sms_alerts import outbox_store
from custom_components.sms_alerts.api.base import Provider, TransientError
from custom_components.sms_alerts.const import DOMAIN, EVENT_FAILED, RETRY_MAX
from custom_components.sms_alerts.journal import parse, replay
from simulators.base import Fault
from simulators.brevisone import BrevisOneSimulator

from .conftest import GATEWAY_PASSWORD, GATEWAY_USER, RunningSimulator, gateway_entry_for, serving

# A new alert is on disk (the outbox journal) from the moment its first request starts, and each one
# that went out leaves it as it happens: no crash may lose an alert, and after one only the requests
# under way may be repeated. The two tolerances that covered the former gaps stay, off, for a look at
# what the model would say without the journal.
TOLERATE_LOSS_IN_MEMORY_WINDOW = False
NEW_ALERT_MEMORY_WINDOW = 0.1
TOLERATE_RESEND_OF_UNWRITTEN_REMOVALS = False
# README: a reload "during such a request" may send the alert twice. Once that was every target of the
# alert (the unloaded outbox still made the requests for the targets it had not reached yet); now an
# unloaded outbox starts no request, so only targets whose request was under way may come twice.
TOLERATE_WHOLE_ALERT_TWICE_AT_UNLOAD = False
# The write that ends the window is scheduled by the event loop: allow it this much more
CRASH_TIMING_SLACK = 0.05
# Every request's time limit in the model (real seconds: the client's timeout runs on the event loop's clock)
REQUEST_TIME_LIMIT = 0.5
# A slow device answers within the limit; a hung one (Fault.SLOW) after it, with a 504
SLOW_DEVICE_LATENCY = 0.15
HUNG_DEVICE_DELAY = 0.7

TARGETS = ("+491701234567", "+491701234568", "+491701234569")
ENTRIES = ("primary", "fallback")
FAULTS = (Fault.HTTP_503, Fault.HTML_500, Fault.RESET, Fault.SLOW, Fault.REDIRECT_302)
SEVERITIES = ("info", "warning", "critical")
TOKEN = re.compile(r"ALERT-(\d+)\.")
# Texts: plain, long (several SMS), UCS-2, long UCS-2
BODIES = {
    "short": "UPS on battery",
    "long": "Freezer in the plant room is warm, check the door and the compressor. " * 6,
    "ucs2": "Überschwemmung im Keller ☔ Ž ç €",
    "ucs2_long": "Пожарная тревога в зале B, немедленно покиньте здание. " * 5,
}

type Step = tuple[Any, ...]
# Print each step as it runs (to find where a run hangs)
TRACE = bool(os.environ.get("SMS_ALERTS_MODEL_TRACE"))


async def advance(hass: HomeAssistant, freezer: TickingDateTimeFactory, seconds: float) -> None:
    """Let simulated time pass and run what fell due (as tests/test_outbox.py does)."""
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def e164(to: str) -> str:
    """Read a number as the SMS Gateway simulator logs it (00 prefix) back in E.164."""
    return "+" + to[2:] if to.startswith("00") else to


@dataclass
class Alert:
    """One sms_alerts.send call of the model."""

    uid: int
    entry: str
    targets: tuple[str, ...]
    started: float
    # Per target: sent | queued | failed (None while the call is under way)
    results: dict[str, str] | None = None
    # The call was under way when the process crashed: its caller never saw an answer
    cut_by_crash: bool = False


class StoreGuard:
    """Lets the outbox stores of a crashed process write nothing more (a dead process writes no file)."""

    def __init__(self, files: dict[str, Any]) -> None:
        """Keep the mocked files (hass_storage: key -> stored data)."""
        self.files = files
        self.live: list[storage.Store[Any]] = []
        self.dead: set[int] = set()
        # Dead stores are kept: a freed one's id could be reused by a new store, whose writes would then be dropped
        self.buried: list[storage.Store[Any]] = []

    def __repr__(self) -> str:
        """Stay short in a failure's report (the files are long)."""
        return f"StoreGuard({len(self.files)} files)"

    def install(self, monkeypatch: Any) -> None:
        """Wrap Store (already mocked by hass_storage) to know our stores and to drop a dead one's writes."""
        original_init = storage.Store.__init__
        original_write = storage.Store._async_write_data
        guard = self

        def init(store: storage.Store[Any], *args: Any, **kwargs: Any) -> None:
            original_init(store, *args, **kwargs)
            if store.key.startswith(f"{DOMAIN}."):
                guard.live.append(store)

        async def write(store: storage.Store[Any], *args: Any) -> None:
            # (path, data) on Home Assistant 2025.4, (data) on 2026.x
            if id(store) in guard.dead:
                return
            await original_write(store, *args)

        monkeypatch.setattr(storage.Store, "__init__", init)
        monkeypatch.setattr(storage.Store, "_async_write_data", write)

    def kill_all(self) -> None:
        """The process died: none of the stores made so far writes again."""
        self.dead.update(id(store) for store in self.live)
        self.buried.extend(self.live)
        self.live.clear()


class World:
    """Two entries, two simulators, the model of every alert, and the invariants after each step."""

    def __init__(
        self,
        hass: HomeAssistant,
        freezer: TickingDateTimeFactory,
        hass_storage: dict[str, Any],
        guard: StoreGuard,
        *,
        handover_minutes: int = 10,
    ) -> None:
        """Keep the fixtures; entries and simulators come with async_start."""
        self.hass = hass
        self.freezer = freezer
        self.hass_storage = hass_storage
        self.guard = guard
        self.handover_minutes = handover_minutes
        self.sims: dict[str, RunningSimulator] = {}
        self.entries: dict[str, MockConfigEntry] = {}
        self.alerts: dict[int, Alert] = {}
        self.calls: dict[int, asyncio.Task[None]] = {}
        self.events: list[dict[str, Any]] = []
        # (uid, target) whose request was under way when it was cut (timeout, reset, crash, unload): may arrive twice
        self.ambiguous: set[tuple[int, str]] = set()
        # (uid, target) a crash may have lost (TOLERATE_LOSS_IN_MEMORY_WINDOW)
        self.may_be_lost: set[tuple[int, str]] = set()
        self.trace: list[str] = []
        # The form of every request its sender has begun and not yet finished, seen by the device or not
        self._open_requests: dict[object, dict[str, str]] = {}
        self._stack = contextlib.AsyncExitStack()
        self._unsub: Callable[[], None] | None = None

    # Set-up and tear-down

    async def async_start(self) -> None:
        """Serve two simulators and load the primary entry with the second one as its fallback."""
        self._watch_requests()
        for name in ENTRIES:
            self.sims[name] = await self._stack.enter_async_context(serving(BrevisOneSimulator()))
        fallback = gateway_entry_for(
            self.sims["fallback"], title="Fallback gateway", options={"rate_limit": 0, "dedup_minutes": 0}
        )
        primary = gateway_entry_for(
            self.sims["primary"],
            title="Primary gateway",
            options={
                "fallback_entry": fallback.entry_id,
                "rate_limit": 0,
                "dedup_minutes": 0,
                "handover_minutes": self.handover_minutes,
            },
        )
        self.entries = {"primary": primary, "fallback": fallback}
        self.hass.config.country = "DE"
        for entry in (fallback, primary):
            entry.add_to_hass(self.hass)
            if entry.state is ConfigEntryState.NOT_LOADED:
                assert await self.hass.config_entries.async_setup(entry.entry_id)
        await self.hass.async_block_till_done(wait_background_tasks=True)

        def on_failed(event: Event) -> None:
            self.events.append(dict(event.data))

        self._unsub = self.hass.bus.async_listen(EVENT_FAILED, on_failed)

    async def async_stop(self) -> None:
        """Remove both entries and their files, stop the simulators."""
        await self.settle()
        for entry in (self.entries["primary"], self.entries["fallback"]):
            if self.hass.config_entries.async_get_entry(entry.entry_id) is not None:
                await self.hass.config_entries.async_remove(entry.entry_id)
        await self.hass.async_block_till_done(wait_background_tasks=True)
        if self._unsub is not None:
            self._unsub()
        for key in [key for key in self.hass_storage if key.startswith(f"{DOMAIN}.")]:
            del self.hass_storage[key]
        await self._stack.aclose()

    def _watch_requests(self) -> None:
        """Note every request whose sender read no answer (a time limit, a reset, an unload): it may have been taken.

        Only the sender can tell: in a starved event loop, an answer the device wrote in time is read after
        the time limit ran out, and the simulator's log shows a 200 for a request its sender counts as
        unanswered, and sends again.
        """
        original = Provider._async_request
        world = self

        async def watched(provider: Provider, method: str, url: Any, **kwargs: Any) -> Any:
            data = kwargs.get("data")
            form = dict(parse_qsl(data.decode(errors="replace"))) if isinstance(data, bytes) else {}
            token = object()
            world._open_requests[token] = form
            try:
                return await original(provider, method, url, **kwargs)
            except (TransientError, asyncio.CancelledError):
                world._mark_ambiguous(form)
                raise
            finally:
                del world._open_requests[token]

        self._stack.enter_context(patch.object(Provider, "_async_request", watched))

    # Steps

    async def run(self, steps: Iterable[Step]) -> None:
        """Run steps, checking the invariants after each (a background send is checked after the next step)."""
        for step in steps:
            await self.step(step)

    async def step(self, step: Step) -> None:
        """Run one step, then settle and check unless a send was left under way on purpose."""
        self.trace.append(repr(step))
        if TRACE:
            print(f"step {len(self.trace)}: {step!r}", flush=True)  # noqa: T201 - asked for with SMS_ALERTS_MODEL_TRACE
        kind, *args = step
        await getattr(self, f"_step_{kind}")(*args)
        if not (kind == "send" and args[-1]):
            await self.settle()
            self.check()

    async def _step_send(
        self, entry: str, targets: tuple[str, ...], severity: str, title: bool, body: str, background: bool
    ) -> None:
        """sms_alerts.send through a loaded entry (a step for an entry that is not loaded sends nothing)."""
        config_entry = self.entries[entry]
        if config_entry.state is not ConfigEntryState.LOADED:
            return
        uid = len(self.alerts) + 1
        alert = Alert(uid=uid, entry=entry, targets=targets, started=asyncio.get_running_loop().time())
        self.alerts[uid] = alert
        data: dict[str, Any] = {
            "config_entry_id": config_entry.entry_id,
            "message": f"ALERT-{uid}. {BODIES[body]}",
            "target": list(targets),
            "severity": severity,
        }
        if title:
            data["title"] = f"Site {uid}"
        task = self.hass.async_create_task(self._async_call(alert, data))
        self.calls[uid] = task
        if background:
            # Long enough for the request to be on its way, short of the time limit
            await asyncio.sleep(0.03)
        else:
            await task

    async def _async_call(self, alert: Alert, data: dict[str, Any]) -> None:
        """Make the call and note what it answered for each target."""
        try:
            response = await self.hass.services.async_call(DOMAIN, "send", data, blocking=True, return_response=True)
        except HomeAssistantError:
            # Every target failed: the action raises once
            results = dict.fromkeys(alert.targets, "failed")
        else:
            assert response is not None
            results = {result["target"]: result["status"] for result in response["results"]}  # type: ignore[index, union-attr]
        if not alert.cut_by_crash:
            alert.results = results

    async def _step_fault(self, sim: str, fault: Fault) -> None:
        """Let a simulator misbehave on every request from now on (check.php too)."""
        self.sims[sim].sim.fail(fault, delay=HUNG_DEVICE_DELAY)

    async def _step_refuse_login(self, sim: str) -> None:
        """The device's password was changed: every login is refused."""
        self.sims[sim].sim.users[GATEWAY_USER].password = "rotated"

    async def _step_stall(self, sim: str) -> None:
        """The machine stalls just after the device takes the next message, as one under load does.

        The event loop is held past the request's time limit: the device took the message and answered,
        and its sender reads the answer only after the limit ran out.
        """
        running = self.sims[sim].sim

        def take_then_stall(message: Any) -> None:
            del running.record_message  # the next message is taken as usual
            running.record_message(message)
            time.sleep(REQUEST_TIME_LIMIT + 0.1)  # the stall is the point: nothing else runs

        running.record_message = take_then_stall  # type: ignore[method-assign]

    async def _step_slow(self, sim: str) -> None:
        """The device answers, but takes its time (within the time limit)."""
        self.sims[sim].sim.latency = SLOW_DEVICE_LATENCY

    async def _step_recover(self, sim: str) -> None:
        """The device behaves again (its password too)."""
        running = self.sims[sim].sim
        running.recover()
        running.__dict__.pop("record_message", None)  # a stall still to come
        running.latency = 0.0
        running.users[GATEWAY_USER].password = GATEWAY_PASSWORD

    async def _step_advance(self, seconds: float) -> None:
        """Let time pass: retries, hand-overs, health polls, lifetimes running out."""
        self._cut_requests_under_way()
        await advance(self.hass, self.freezer, seconds)

    async def _step_reload(self, entry: str) -> None:
        """Reload an entry (as a change of its options does)."""
        config_entry = self.entries[entry]
        if config_entry.state is ConfigEntryState.LOADED:
            self._cut_requests_under_way()
            self._cut_calls_at_unload()
            await self.hass.config_entries.async_reload(config_entry.entry_id)

    async def _step_restart(self, entry: str) -> None:
        """Unload an entry and set it up again from its file."""
        config_entry = self.entries[entry]
        if config_entry.state is ConfigEntryState.LOADED:
            self._cut_requests_under_way()
            self._cut_calls_at_unload()
            assert await self.hass.config_entries.async_unload(config_entry.entry_id)
            await self.settle()
            self.check()
            assert await self.hass.config_entries.async_setup(config_entry.entry_id)

    async def _step_disable(self, entry: str) -> None:
        """Disable an entry (its fallback takes what waits, if it is loaded)."""
        config_entry = self.entries[entry]
        if config_entry.disabled_by is None:
            self._cut_requests_under_way()
            self._cut_calls_at_unload()
            await self.hass.config_entries.async_set_disabled_by(config_entry.entry_id, ConfigEntryDisabler.USER)

    async def _step_enable(self, entry: str) -> None:
        """Enable an entry again."""
        config_entry = self.entries[entry]
        if config_entry.disabled_by is not None:
            await self.hass.config_entries.async_set_disabled_by(config_entry.entry_id, None)

    async def _step_crash(self, wait: float, primary_first: bool, jump: float = 0.0) -> None:
        """The process dies `wait` s from now and starts again from whatever the files held at that instant.

        With a `jump`, time first moves on that far and the crash comes while what fell due runs (a drain).

        Nothing is unloaded the way a stop would: the stores of the dead process write nothing more, the
        files are put back as they were at the crash, and each entry that was loaded loads a new outbox
        from them. The old requests under way run on (a device may still take one): their answers reach
        no one, as none would after a real crash.
        """
        if jump:
            self._cut_requests_under_way()
            self.freezer.tick(timedelta(seconds=jump))
            async_fire_time_changed(self.hass)
        await asyncio.sleep(wait)
        files = copy.deepcopy({key: value for key, value in self.hass_storage.items() if key.startswith(f"{DOMAIN}.")})
        journals = read_journals(self.hass)
        self.guard.kill_all()
        self._cut_requests_under_way()
        self._cut_calls_under_way(asyncio.get_running_loop().time())
        if TOLERATE_RESEND_OF_UNWRITTEN_REMOVALS:
            self._sent_but_on_file(files, journals)
        made = {name: len(running.sim.requests) for name, running in self.sims.items()}
        loaded = [entry for entry in self.entries.values() if entry.state is ConfigEntryState.LOADED]
        for entry in loaded:
            await self.hass.config_entries.async_unload(entry.entry_id)
        # The unload stops the old outboxes a few turns of the event loop after the crash: a request one
        # still started meanwhile counts as under way at the crash (a dead process would have made none)
        for name, running in self.sims.items():
            for request in running.sim.requests[made[name] :]:
                self._mark_ambiguous(request.form)
        for key in [key for key in self.hass_storage if key.startswith(f"{DOMAIN}.")]:
            del self.hass_storage[key]
        self.hass_storage.update(files)
        # The journals too are as the crash left them: what the dead outboxes wrote since is undone
        write_journals(self.hass, journals)
        order = ("primary", "fallback") if primary_first else ("fallback", "primary")
        for name in order:
            entry = self.entries[name]
            if entry in loaded:
                assert await self.hass.config_entries.async_setup(entry.entry_id)

    # Bookkeeping

    def _sent_but_on_file(self, files: dict[str, Any], journals: dict[str, bytes]) -> None:
        """Messages that went out but are still in the file at a crash are sent again: note them as possible twice."""
        sent = {(uid, target) for uid, target, _ in self.delivered()}
        for entry in self.entries.values():
            for text, target in stored_items(files, entry.entry_id, journals):
                self.ambiguous.update((int(uid), target) for uid in TOKEN.findall(text) if (int(uid), target) in sent)

    def _cut_calls_at_unload(self) -> None:
        """An entry unloads while calls are under way: each of their alerts may come twice (TOLERATE_WHOLE_...)."""
        if not TOLERATE_WHOLE_ALERT_TWICE_AT_UNLOAD:
            return
        for uid, task in self.calls.items():
            if not task.done():
                self.ambiguous.update((uid, target) for target in self.alerts[uid].targets)

    def _cut_calls_under_way(self, now: float) -> None:
        """Calls still under way at a crash get no answer; each may arrive twice, or be lost in the first second."""
        for uid, task in self.calls.items():
            if task.done():
                continue
            alert = self.alerts[uid]
            alert.cut_by_crash = True
            young = now - alert.started < NEW_ALERT_MEMORY_WINDOW + CRASH_TIMING_SLACK
            for target in alert.targets:
                self.ambiguous.add((uid, target))
                if TOLERATE_LOSS_IN_MEMORY_WINDOW and young:
                    self.may_be_lost.add((uid, target))

    def _cut_requests_under_way(self) -> None:
        """Requests still unanswered now may be cut (a timeout fired early, a reset, an unload, a crash).

        Those the device has begun to answer, and those its sender has begun to make: in a busy event loop a
        request is on its way some time before the device reads it, and whether it arrives before the unload
        has written its message for the next outbox (the README's duplicate) is the event loop's choice.
        """
        for running in self.sims.values():
            for request in running.sim.requests:
                if request.status == 0:
                    self._mark_ambiguous(request.form)
        for form in self._open_requests.values():
            self._mark_ambiguous(form)

    def _mark_ambiguous(self, form: dict[str, str]) -> None:
        """Note the alert and target of a request whose outcome its sender cannot know."""
        text = form.get("text", "")
        if form.get("hexmode") == "true":
            with contextlib.suppress(ValueError):
                text = bytes.fromhex(text).decode()
        match = TOKEN.search(text)
        if match is not None:
            self.ambiguous.add((int(match.group(1)), e164(form.get("to", ""))))

    async def settle(self) -> None:
        """Wait for every call and background task; note requests that ended without a usable answer."""
        for _ in range(100):
            pending = [task for task in self.calls.values() if not task.done()]
            if pending:
                await asyncio.wait(pending)
            await self.hass.async_block_till_done(wait_background_tasks=True)
            if all(task.done() for task in self.calls.values()):
                break
        for running in self.sims.values():
            for request in running.sim.requests:
                # 504: the hung device's answer after the time limit; 0: reset, or still hanging
                if request.status in (0, 504):
                    self._mark_ambiguous(request.form)

    # Where an alert is

    def outbox_items(self) -> list[tuple[int, str, str]]:
        """(uid, target, entry) of every message waiting: in a loaded entry's outbox, else in its file."""
        found: list[tuple[int, str, str]] = []
        for name, entry in self.entries.items():
            if entry.state is ConfigEntryState.LOADED:
                items = [(item.text, str(item.target)) for item in entry.runtime_data.outbox.items]
            else:
                items = stored_items(self.hass_storage, entry.entry_id)
            found.extend((int(uid), target, name) for text, target in items for uid in TOKEN.findall(text))
        return found

    def delivered(self) -> list[tuple[int, str, str]]:
        """(uid, target, simulator) of every message a simulator took, in the order it took them."""
        return [
            (int(uid), e164(message.to), name)
            for name, running in self.sims.items()
            for message in running.sim.messages
            for uid in TOKEN.findall(message.text)
        ]

    def given_up(self) -> list[tuple[int, str]]:
        """(uid, target) of every sms_alerts_failed."""
        return [(int(uid), event["target"]) for event in self.events for uid in TOKEN.findall(event["message"])]

    # Invariants

    def check(self, *, final: bool = False) -> None:
        """After a step: each alert in one place, nothing lost, duplicates only where allowed, order, sensors."""
        queued = Counter((uid, target) for uid, target, _ in self.outbox_items())
        delivered = Counter((uid, target) for uid, target, _ in self.delivered())
        failed = Counter(self.given_up())
        problems: list[str] = []
        for alert in self.alerts.values():
            for target in alert.targets:
                key = (alert.uid, target)
                places = (queued[key], delivered[key], failed[key])
                status = (alert.results or {}).get(target)
                where = (
                    f"ALERT-{alert.uid} to {target} ({status or 'cut by a crash'}): "
                    f"outbox {places[0]}, delivered {places[1]}, given up {places[2]}"
                )
                if status not in ("sent", "queued", "failed") and not alert.cut_by_crash:
                    problems.append(f"{where}: unexpected result")
                elif problem := self._place_problem(key, places, final=final):
                    problems.append(f"{where}: {problem}")
        problems += self._order_problems()
        problems += self._sensor_problems()
        assert not problems, "\n".join(["invariants broken:", *problems, "steps:", *self.trace])

    def _place_problem(self, key: tuple[int, str], places: tuple[int, int, int], *, final: bool) -> str | None:
        """What is wrong with where one alert to one target is: (in outboxes, delivered, given up) times."""
        waiting, delivered, given_up = places
        if given_up > 1:
            return "given up more than once"
        if final and waiting:
            return "still waiting after everything recovered"
        if not any(places):
            return None if key in self.may_be_lost else "lost"
        if key in self.ambiguous:
            # Its request was cut while under way: the device may have taken it, so it may arrive twice
            return None
        if waiting > 1 or delivered > 1:
            return "duplicated"
        return "in more than one place" if sum(1 for count in places if count) != 1 else None

    def _order_problems(self) -> list[str]:
        """Per simulator and target, the alerts sent through one entry arrive in the order they were sent.

        The README promises order per entry ("Messages to one target are delivered in the order they were
        sent"): two entries send side by side, so alerts given to different entries may interleave. Only
        alerts delivered by one simulator alone are compared, none whose request was cut, each at its
        first delivery.
        """
        sims_of: dict[tuple[int, str], set[str]] = {}
        for uid, target, name in self.delivered():
            sims_of.setdefault((uid, target), set()).add(name)
        seen: dict[tuple[str, str, str], list[int]] = {}
        for uid, target, sim in self.delivered():
            key = (uid, target)
            line = (sim, self.alerts[uid].entry, target)
            if key in self.ambiguous or len(sims_of[key]) > 1 or uid in seen.get(line, []):
                continue
            seen.setdefault(line, []).append(uid)
        return [
            f"order to {target} of alerts sent through {entry}, delivered by {sim}: {uids}"
            for (sim, entry, target), uids in seen.items()
            if uids != sorted(uids)
        ]

    def _sensor_problems(self) -> list[str]:
        """The queued-messages sensor of each loaded entry shows its outbox's count."""
        registry = er.async_get(self.hass)
        problems = []
        for name, entry in self.entries.items():
            if entry.state is not ConfigEntryState.LOADED:
                continue
            count = len(entry.runtime_data.outbox.items)
            for registered in er.async_entries_for_config_entry(registry, entry.entry_id):
                if registered.unique_id.endswith("queued_messages"):
                    state = self.hass.states.get(registered.entity_id)
                    shown = state.state if state is not None else None
                    if shown != str(count):
                        problems.append(f"{name}: queued-messages sensor shows {shown}, the outbox holds {count}")
        return problems

    async def finish(self) -> None:
        """Everything recovers and time passes: every alert must end delivered or given up, none waiting."""
        await self.settle()
        for name in ENTRIES:
            await self._step_recover(name)
        for name in ENTRIES:
            await self._step_enable(name)
        await self.settle()
        for name in ("fallback", "primary"):
            # A new login after a refused one (reauth reloads the entry)
            await self._step_reload(name)
        await self.settle()
        for seconds in (RETRY_MAX, RETRY_MAX, RETRY_MAX):
            await advance(self.hass, self.freezer, seconds)
        await self.settle()
        self.trace.append("finish")
        self.check(final=True)


def read_journals(hass: HomeAssistant) -> dict[str, bytes]:
    """The outbox journals on disk now, by file name."""
    folder = outbox_store.journal_folder(hass)
    return {path.name: path.read_bytes() for path in folder.glob(f"{DOMAIN}.*")} if folder.exists() else {}


def write_journals(hass: HomeAssistant, journals: dict[str, bytes]) -> None:
    """Put the outbox journals back as they were (and remove any written since)."""
    folder = outbox_store.journal_folder(hass)
    if folder.exists():
        for path in folder.glob(f"{DOMAIN}.*"):
            path.unlink()
    for name, content in journals.items():
        (folder / name).write_bytes(content)


def stored_items(
    hass_storage: dict[str, Any], entry_id: str, journals: dict[str, bytes] | None = None
) -> list[tuple[str, str]]:
    """(text, target) of the messages on disk for an entry that is not loaded: its file with its journal replayed.

    `journals` are the journal files by name (read from disk when not given).
    """
    snapshot = hass_storage.get(outbox_store.storage_key(entry_id), {}).get("data")
    path = outbox_store.journal_path(None, entry_id)  # type: ignore[arg-type] # the tests' journal folder
    content = (journals or {}).get(path.name) if journals is not None else None
    if content is None and journals is None and path.exists():
        content = path.read_bytes()
    records, _whole = parse(content) if content else ([], 0)
    data = replay(snapshot, records)
    items = data.get("items", []) if isinstance(data, dict) else []
    return [(item["text"], item["target"]["value"]) for item in items if isinstance(item, dict)]
