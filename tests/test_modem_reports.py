"""Status reports (+CDS, TS 27.005 §3.4.1; SMS-STATUS-REPORT, TS 23.040 §9.2.2.3) of a long SMS after a restart.

A concatenated SMS is one SMS-SUBMIT per part, each with its own TP-MR (TS 23.040 §9.2.3.6); the SMS
centre reports each part on its own, minutes or hours later. The parts' references -> message id are
kept in the entry's storage, so reports arriving after Home Assistant restarted still make the one
message's delivery report, and a failed one still fails the alert (for the fallback).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.sms_alerts.api import modem as modem_api
from custom_components.sms_alerts.api.modem_inbound import Inbound
from simulators.modem import ModemSimulator

from .conftest import send
from .modem_helpers import TRANSPORTS, running_modem, wait_for
from .test_modem_entry import NUMBER, PIN, add_entry, modem, settle

# 380 GSM-7 characters: three parts of at most 153 (TS 23.038, with the concatenation header)
LONG = ("Fire alarm hall 2, zone 4. " * 15).strip()


@pytest.fixture(params=TRANSPORTS)
async def sim(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncGenerator[ModemSimulator]:
    """A modem whose SMS centre holds its status reports back until told."""
    monkeypatch.setattr(modem_api, "BACKOFF_INITIAL", 0.05)
    monkeypatch.setattr(modem_api, "SYNC_TIMEOUT", 0.3)
    async with running_modem(request.param, monkeypatch, pin=PIN) as modem_sim:
        modem_sim.hold_reports = True
        yield modem_sim


async def restart(hass: HomeAssistant, entry_id: str) -> None:
    """Unload and load the entry again (what a restart does to it), and wait for its link."""
    assert await hass.config_entries.async_reload(entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    assert entry.state is ConfigEntryState.LOADED
    await wait_for(lambda: modem(entry).connected)


@pytest.mark.parametrize("before", [0, 1], ids=["all_after", "one_before"])
async def test_reports_of_a_long_sms_after_a_restart(hass: HomeAssistant, sim: ModemSimulator, before: int) -> None:
    """Three parts sent, Home Assistant restarts, then the reports come: one delivery report for the message."""
    entry = await add_entry(hass, sim)
    deliveries = async_capture_events(hass, "sms_alerts_delivery")
    response = await send(hass, entry, message=LONG)
    assert [(r["status"], r["parts"]) for r in response["results"]] == [("sent", 3)]
    assert len(sim.held_reports) == 3
    sim.release_reports(before)
    # The reports released before the restart are read before it (on a busy machine that takes a while)
    await wait_for(lambda: sum(len(row[3]) for row in modem(entry).inbound.stored()) == before)
    await settle(hass)
    await restart(hass, entry.entry_id)
    sim.release_reports()
    await wait_for(lambda: bool(deliveries))
    await settle(hass)
    [delivery] = deliveries
    references = [part.reference for part in sim.parts]
    assert delivery.data["state"] == "DELIVERED"
    assert delivery.data["to"] == NUMBER
    assert delivery.data["id"].endswith("-" + ".".join(map(str, references)))


async def test_failed_report_of_a_long_sms_after_a_restart(hass: HomeAssistant, sim: ModemSimulator) -> None:
    """A part the SMS centre gave up on, reported after the restart: the alert still counts as failed."""
    entry = await add_entry(hass, sim)
    deliveries = async_capture_events(hass, "sms_alerts_delivery")
    failed = async_capture_events(hass, "sms_alerts_failed")
    await send(hass, entry, message=LONG)
    await restart(hass, entry.entry_id)
    sim.report_status = 0x41  # incompatible destination
    sim.release_reports()
    await wait_for(lambda: bool(deliveries))
    await settle(hass)
    assert [e.data["state"] for e in deliveries] == ["FAILED"]
    assert [e.data["target"] for e in failed] == [NUMBER]


def test_stored_form_is_bounded_and_malformed_rows_are_dropped() -> None:
    """What is read back is what was stored; rows that are not the stored form are left out."""
    events: list[object] = []

    class Provider:
        def on_events(self, found: list[object]) -> None:
            events.extend(found)

        def on_reports_changed(self) -> None:
            pass

    inbound = Inbound(Provider())  # type: ignore[arg-type]
    awaited = inbound.begin_reports("+491701234567", 2)
    inbound.part_sent(awaited, 17)
    inbound.part_sent(awaited, 18)
    message = inbound.all_sent(awaited)
    stored = inbound.stored()
    assert stored == [["+491701234567", 2, [17, 18], [], False, False, message, awaited.sent_at]]
    assert awaited.sent_at > 0
    again = Inbound(Provider())  # type: ignore[arg-type]
    again.restore([*stored, ["bad"], None, ["+49", "x", [], [], False, False, "id"]])
    assert again.stored() == stored
    # A row stored before the time was kept reads as sent at an unknown time (0: any report is its)
    older = Inbound(Provider())  # type: ignore[arg-type]
    older.restore([stored[0][:7]])
    assert older.stored() == [[*stored[0][:7], 0.0]]
    again.restore("not a list")
    assert again.stored() == stored
