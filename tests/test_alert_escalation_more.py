"""Escalations read back from storage, and the pages of a due step, with a pager that records what it is given.

The end-to-end paths (real webhook, the SMS Gateway simulator) are in test_alert_escalation.py; these are the
corners: stored data edited by hand, a step due beside one that is not, a source gone, a ring the provider
cannot give, a recipient removed from the entry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sms_alerts.alert_escalations import RING, Escalations, Tracked
from custom_components.sms_alerts.alert_source_config import SourceConfig
from custom_components.sms_alerts.alerts import escalation as rules
from custom_components.sms_alerts.alerts.book import AlertBook
from custom_components.sms_alerts.alerts.escalation import Policy, Step
from custom_components.sms_alerts.alerts.models import Alert, AlertStatus, Severity, SourceKind
from custom_components.sms_alerts.alerts.render import render_alert
from custom_components.sms_alerts.errors import EntryUnloadingError
from custom_components.sms_alerts.outbox import SendOptions
from custom_components.sms_alerts.outbox_store import SnapshotStore
from custom_components.sms_alerts.submit import async_submit

from .conftest import RECIPIENT, RunningSimulator, advance
from .test_alert_escalation import MINUTE, START, escalated, escalation_shown, sent
from .test_alert_sources import load, post

NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)
TARGETS = {"oncall": "+491701234567", "night": "+491709876543"}


class Pager:
    """The alert sources as escalations see them: a real book, and the SMS handed to the outbox recorded."""

    def __init__(self, *sources: SourceConfig) -> None:
        """Serve these sources, all recipients of TARGETS there."""
        self.book = AlertBook()
        self.sources = {source.subentry_id: source for source in sources}
        self.lock = asyncio.Lock()
        self.taking = True
        self.targets = dict(TARGETS)
        self.submitted: list[tuple[str, str, SendOptions | None]] = []
        self.saved = 0
        # No source here has a template: the default text
        self.texts = SimpleNamespace(text=lambda _source, alert, _opened=None: render_alert(alert))

    def recipient_targets(self) -> dict[str, str]:
        """The target of each recipient."""
        return dict(self.targets)

    def recipient_names(self) -> dict[str, str]:
        """The name of each recipient."""
        return {key: key.title() for key in self.targets}

    async def async_submit(
        self,
        source: SourceConfig,
        text: str,
        target: str,
        severity: Severity,
        fingerprints: Any = (),
        options: SendOptions | None = None,
    ) -> str | None:
        """Record the SMS; its item id."""
        self.submitted.append((target, text, options))
        return f"item{len(self.submitted)}"

    def changed(self) -> None:
        """Nothing to tell here."""

    async def async_save(self) -> None:
        """Count the saves."""
        self.saved += 1


def source(subentry_id: str, *steps: Step) -> SourceConfig:
    """A source escalating critical alerts with these steps."""
    return SourceConfig(
        subentry_id=subentry_id,
        name=subentry_id.title(),
        kind=SourceKind.ALERTMANAGER,
        webhook_id=f"hook-{subentry_id}",
        token="tok",
        recipients=("oncall",),
        send_resolved=True,
        routes=(),
        fields=None,
        local_only=True,
        escalation=Policy(tuple(steps)),
    )


def escalations(hass: HomeAssistant, pager: Pager, provider_options: tuple[str, ...] = ()) -> Escalations:
    """Escalations of an entry whose provider offers these options, at NOW."""
    entry = SimpleNamespace(entry_id="entry")
    escalated = Escalations(hass, entry, pager, can_ring=RING in provider_options, replies=lambda: True)  # type: ignore[arg-type]
    escalated._now = lambda: NOW
    return escalated


def fire(escalated: Escalations, pager: Pager, config: SourceConfig, fingerprint: str) -> Tracked:
    """Open a critical alert of a source in the book and start its escalation."""
    alert = Alert(
        kind=SourceKind.ALERTMANAGER,
        fingerprint=fingerprint,
        status=AlertStatus.FIRING,
        name=f"Disk {fingerprint}",
        severity=Severity.CRITICAL,
    )
    opened, _new = pager.book.fire(config.subentry_id, alert, NOW.timestamp())
    assert escalated.start(config, opened, alert)
    return escalated.tracked[(config.subentry_id, fingerprint)]


# Storage


def stored(**changes: Any) -> dict[str, Any]:
    """A tracked escalation as it is stored, with changes."""
    tracked = Tracked(
        source="src",
        fingerprint="f1",
        code="A1",
        label="Disk full",
        text="FIRING Disk full",
        severity=Severity.CRITICAL,
        escalation=rules.Escalation("A1", due=NOW),
    )
    return tracked.as_dict() | changes


def test_a_stored_escalation_is_read_back_as_it_was() -> None:
    """The stored form round-trips."""
    tracked = Tracked.from_dict(stored())
    assert tracked is not None
    assert tracked.as_dict() == stored()
    assert tracked.escalation.due == NOW


@pytest.mark.parametrize(
    "raw",
    [
        None,
        ["src", "f1"],
        stored(escalation=None),
        stored(escalation="active"),
        stored(escalation={"state": "active"}),  # no key
        stored(escalation=rules.to_stored(rules.Escalation("A1")) | {"state": "sleeping"}),
        {key: value for key, value in stored().items() if key != "text"},
        {key: value for key, value in stored().items() if key != "source"},
    ],
    ids=[
        "none",
        "list",
        "no-escalation",
        "escalation-text",
        "escalation-no-key",
        "unknown-state",
        "no-text",
        "no-source",
    ],
)
def test_stored_data_that_cannot_be_read_is_skipped(raw: object) -> None:
    """Edited by hand or from a newer version: None, never an exception."""
    assert Tracked.from_dict(raw) is None


async def test_loading_keeps_the_readable_escalations_of_open_alerts(hass: HomeAssistant) -> None:
    """Unreadable entries and those of alerts no longer open are dropped; the rest is kept."""
    config = source("src", Step(("oncall",), 10))
    pager = Pager(config)
    escalated = escalations(hass, pager)
    kept = fire(escalated, pager, config, "f1")
    escalated.tracked.clear()
    gone = stored(fingerprint="closed")
    escalated.load([kept.as_dict(), {"escalation": "broken"}, gone, "junk"])
    assert list(escalated.tracked) == [("src", "f1")]
    assert escalated.tracked[("src", "f1")] == kept


# Pages


async def test_only_the_due_step_is_paged_and_ended_or_orphaned_ones_are_left(hass: HomeAssistant) -> None:
    """Of four escalations one is due: one not due yet, one acknowledged, one of a source removed are left alone."""
    config = source("src", Step(("oncall",), 10), Step(("night",), 10))
    pager = Pager(config)
    escalated = escalations(hass, pager)
    due = fire(escalated, pager, config, "due")
    later = fire(escalated, pager, config, "later")
    escalated.tracked[("src", "later")] = Tracked(
        **{**later.__dict__, "escalation": rules.snooze(later.escalation, NOW + dt.timedelta(minutes=5))}
    )
    fire(escalated, pager, config, "acked")
    assert escalated.acknowledge("src", "acked", "oncall") is not None
    orphan = fire(escalated, pager, config, "orphan")
    del escalated.tracked[("src", "orphan")]
    escalated.tracked[("gone", "orphan")] = Tracked(**{**orphan.__dict__, "source": "gone"})
    await escalated.async_page_due()
    escalated.cancel()
    assert pager.submitted == [(TARGETS["oncall"], pager.submitted[0][1], None)]
    assert due.code in pager.submitted[0][1]
    assert escalated.tracked[("src", "due")].escalation.step == 1
    assert escalated.tracked[("src", "later")].escalation.paged == ()
    assert escalated.tracked[("src", "acked")].escalation.paged == ()
    assert escalated.tracked[("gone", "orphan")].escalation.paged == ()
    assert pager.saved == 1


@pytest.mark.parametrize(
    ("provider_options", "expected"), [((), None), ((RING,), SendOptions(ring=True))], ids=["sms-only", "ring"]
)
async def test_a_ring_step_rings_only_where_the_provider_can(
    hass: HomeAssistant,
    caplog: pytest.LogCaptureFixture,
    provider_options: tuple[str, ...],
    expected: SendOptions | None,
) -> None:
    """A step asking for a ring: with a ring where the provider offers it, else by SMS with a debug line."""
    config = source("src", Step(("night",), 10, ring=True))
    pager = Pager(config)
    escalated = escalations(hass, pager, provider_options)
    fire(escalated, pager, config, "f1")
    with caplog.at_level(logging.DEBUG, logger="custom_components.sms_alerts"):
        await escalated.async_page_due()
    escalated.cancel()
    assert [(target, options) for target, _text, options in pager.submitted] == [(TARGETS["night"], expected)]
    assert ("cannot ring" in caplog.text) is (expected is None)


async def test_a_recipient_removed_from_the_entry_is_skipped_with_a_warning(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """A step naming a recipient that no longer exists pages the others; the book notes only those paged."""
    config = source("src", Step(("night", "oncall"), 10))
    pager = Pager(config)
    del pager.targets["night"]
    escalated = escalations(hass, pager)
    fire(escalated, pager, config, "f1")
    await escalated.async_page_due()
    escalated.cancel()
    assert [target for target, _text, _options in pager.submitted] == [TARGETS["oncall"]]
    assert "a recipient of step 1 was removed; not paged" in caplog.text
    assert pager.book.open[("src", "f1")].notified == {TARGETS["oncall"]: "item1"}
    assert escalated.tracked[("src", "f1")].escalation.step == 1  # the step counts as paged all the same


async def test_a_step_due_while_the_entry_reloads_is_paged_by_its_next_load(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Step 2 falls due while the reload writes the outbox's last snapshot: the closing entry pages nothing more.

    The reloaded entry pages it (it pages what fell due while it was away), once. Before, the closing entry's
    timer handed the page to its closed outbox, which reported it taken while writing it nowhere: lost.
    """
    freezer.move_to(START)
    entry = await escalated(hass, gateway)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    assert [who for who, _text, _ring in sent(gateway)] == ["oncall"]
    await advance(hass, freezer, 9 * MINUTE + 59)
    original = SnapshotStore.async_save
    writes: list[str] = []

    async def save(self: SnapshotStore, data: Any) -> None:
        if self.key.endswith(".outbox") and not writes:
            writes.append(self.key)
            # The unload's last snapshot is being written (its data taken): step 2's time comes now
            freezer.tick(dt.timedelta(seconds=1))
            async_fire_time_changed(hass)
            for _ in range(20):
                await asyncio.sleep(0)
        await original(self, data)

    with patch.object(SnapshotStore, "async_save", save):
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done(wait_background_tasks=True)
    assert writes, "the outbox's snapshot was not written during the reload"
    await advance(hass, freezer, 60)
    assert (await escalation_shown(hass))["step"] == 2
    assert [who for who, _text, _ring in sent(gateway)] == ["oncall", "night"]


async def test_an_alert_handed_to_an_outbox_that_closed_is_refused_not_reported_queued(
    hass: HomeAssistant, gateway: RunningSimulator
) -> None:
    """An outbox closes when its entry unloads: an alert handed to it then is refused with a translated error.

    (Taken, it would be in no file: the closing write may be done.) The caller tells or tries again.
    """
    entry = await escalated(hass, gateway)
    outbox = entry.runtime_data.outbox
    original = SnapshotStore.async_save
    refused: list[HomeAssistantError] = []

    async def save(self: SnapshotStore, data: Any) -> None:
        if self.key.endswith(".outbox") and not refused:
            with pytest.raises(EntryUnloadingError) as caught:
                await async_submit(outbox, "Freezer warm", None, [RECIPIENT], SendOptions())
            refused.append(caught.value)
        await original(self, data)

    with patch.object(SnapshotStore, "async_save", save):
        assert await hass.config_entries.async_unload(entry.entry_id)
    assert [(err.translation_key, err.translation_placeholders) for err in refused] == [
        ("entry_not_loaded", {"entry": entry.title})
    ]
    assert not gateway.sim.messages
