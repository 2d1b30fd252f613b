"""The open alerts are on disk within a second of a sender's answer, and when an acknowledgement returns.

A crash or a power cut after that must not take back an alert's record: without it the RESOLVED would never
reach who got the FIRING, and an acknowledgement would be forgotten (the escalation pages again). The crash
here is the one of tests/test_model.py: the files as they were at that instant, read by a new entry without
the unload's last write.
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sms_alerts import outbox_store
from custom_components.sms_alerts.alert_store import WRITE_DELAY, AlertStore, storage_key
from custom_components.sms_alerts.alerts.book_journal import replay
from custom_components.sms_alerts.const import DOMAIN
from custom_components.sms_alerts.journal import JournalFile, parse

from .conftest import RunningSimulator
from .model_harness import read_journals, write_journals
from .test_alert_sources import HOOK, bearer, entry_with, load, setup, source_subentry, texts

FINGERPRINT = "1a30ba71cca2921f"


@pytest.fixture
async def loaded(hass: HomeAssistant, gateway: RunningSimulator) -> MockConfigEntry:
    """An entry with one recipient and one Alertmanager source to all recipients."""
    entry = entry_with(gateway, source_subentry())
    await setup(hass, entry)
    return entry


async def post_now(hass_client_no_auth: ClientSessionGenerator, body: Any) -> int:
    """Post a body to the source's webhook and return at its answer, letting nothing else run first."""
    client = await hass_client_no_auth()
    response = await client.post(
        f"/api/webhook/{HOOK}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **bearer()},
    )
    return response.status


def stored_alerts(hass: HomeAssistant, hass_storage: dict[str, Any], entry_id: str) -> dict[str, dict[str, Any]]:
    """The open alerts on disk (the file with its journal replayed), by fingerprint."""
    path = outbox_store.journal_folder(hass) / f"{storage_key(entry_id)}.journal"
    records, _whole = parse(path.read_bytes()) if path.exists() else ([], 0)
    data = replay(hass_storage.get(storage_key(entry_id), {}).get("data"), records) or {}
    return {alert["fingerprint"]: alert for alert in data.get("open", [])}


def record_writes(patch: pytest.MonkeyPatch, appended: list[bytes]) -> None:
    """Keep what each journal write appends (written as well)."""
    original = JournalFile.append

    def append(self: JournalFile, data: bytes) -> None:
        appended.append(data)
        original(self, data)

    patch.setattr(JournalFile, "append", append)


async def crash(hass: HomeAssistant, entry: MockConfigEntry, hass_storage: dict[str, Any]) -> None:
    """The process dies now and starts again from the files as they are at this instant."""
    files = copy.deepcopy({key: value for key, value in hass_storage.items() if key.startswith(f"{DOMAIN}.")})
    journals = read_journals(hass)
    assert await hass.config_entries.async_unload(entry.entry_id)
    for key in [key for key in hass_storage if key.startswith(f"{DOMAIN}.")]:
        del hass_storage[key]
    hass_storage.update(files)
    write_journals(hass, journals)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_a_crash_a_second_after_the_answer_keeps_the_alert_and_its_resolved_goes_out(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded: MockConfigEntry,
    gateway: RunningSimulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """The open alert, with who was told, is on disk a second after the answer; after a crash its RESOLVED goes out."""
    assert await post_now(hass_client_no_auth, load("alertmanager_firing")) == 200
    await hass.async_block_till_done(wait_background_tasks=True)
    freezer.tick(timedelta(seconds=WRITE_DELAY))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert FINGERPRINT in stored_alerts(hass, hass_storage, loaded.entry_id)
    await crash(hass, loaded, hass_storage)
    assert await post_now(hass_client_no_auth, load("alertmanager_resolved")) == 200
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [text.split()[0] for _to, text in texts(gateway)] == ["FIRING", "RESOLVED"]


async def test_a_storm_does_not_put_the_write_off(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Changes every 0.4 s: the first is written a second after it came, not once they stop."""
    state: dict[str, Any] = {"next_code": 1}
    store = AlertStore(hass, "storm", lambda: state, list)
    appended: list[bytes] = []
    with pytest.MonkeyPatch.context() as patch:
        record_writes(patch, appended)
        for code in range(2, 6):
            state["next_code"] = code
            store.changed(soon=True)
            freezer.tick(timedelta(seconds=0.4))
            async_fire_time_changed(hass)
            await hass.async_block_till_done(wait_background_tasks=True)
    # Written while the changes still came (a delay that each change put off would have written nothing yet)
    assert appended
    assert parse(appended[0])[0][0]["v"] < 5
    freezer.tick(timedelta(seconds=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    await store.async_written()
    assert await AlertStore(hass, "storm", dict, list).async_load() == {
        "next_code": 5,
        "open": [],
        "escalations": [],
        "maintenance": [],
        "deliveries": {},
        "journal_seq": 2,
    }


async def test_an_acknowledgement_is_on_disk_when_the_action_returns(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """sms_alerts.acknowledge returns once the acknowledged status is written: a crash then keeps it."""
    assert await post_now(hass_client_no_auth, load("alertmanager_firing")) == 200
    await hass.services.async_call(
        DOMAIN, "acknowledge", {"config_entry_id": loaded.entry_id, "fingerprint": FINGERPRINT}, blocking=True
    )
    assert stored_alerts(hass, hass_storage, loaded.entry_id)[FINGERPRINT]["status"] == "acknowledged"
    await crash(hass, loaded, hass_storage)
    state = hass.states.get("sensor.prometheus_open_alerts")
    assert state is not None
    assert state.attributes["alerts"][0]["status"] == "acknowledged"


async def test_changes_of_one_moment_are_one_write_of_what_changed(hass: HomeAssistant) -> None:
    """Changes of one moment go in one synced write, as lines of what changed; a waiter returns once on disk."""
    state: dict[str, Any] = {"open": [{"source": "s", "fingerprint": f"f{n}", "count": 1} for n in range(50)]}
    store = AlertStore(hass, "burst", lambda: state, list)
    assert await store.async_load() is None
    appended: list[bytes] = []
    with pytest.MonkeyPatch.context() as patch:
        record_writes(patch, appended)
        store.changed()
        await store.async_written()
        assert len(appended) == 1
        assert appended[0].count(b"\n") == 50
        for n in (3, 4, 5):
            state["open"][n] = {**state["open"][n], "count": 2}
            store.changed()
        await store.async_written()
    assert len(appended) == 2
    assert [parse(appended[1])[0][n]["v"]["fingerprint"] for n in range(3)] == ["f3", "f4", "f5"]
    assert parse(appended[1])[0][3:] == []
    # Read back by a new store, as after a crash; a snapshot then holds it all and the journal starts afresh
    again = AlertStore(hass, "burst", lambda: state, list)
    empty = {"escalations": [], "maintenance": [], "deliveries": {}}
    assert await again.async_load() == {**state, **empty, "journal_seq": 53}
    await again.async_close()
    assert not again.journal.file.path.exists()
    assert await AlertStore(hass, "burst", lambda: state, list).async_load() == {**state, "journal_seq": 53}


async def test_a_journal_that_cannot_be_written_is_one_error_line_and_lets_the_waiters_go(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """A full disk: one error line without a traceback; nobody waits for ever; the snapshot then writes it all."""
    state: dict[str, Any] = {"next_code": 1}
    store = AlertStore(hass, "unwritable", lambda: state, list)

    def fail(self: JournalFile, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    with caplog.at_level(logging.ERROR), pytest.MonkeyPatch.context() as patch:
        patch.setattr(JournalFile, "append", fail)
        for code in (2, 3):
            state["next_code"] = code
            await store.async_save()
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.getMessage() for record in errors] == [
        f"The journal {storage_key('unwritable')}.journal cannot be written: No space left on device"
    ]
    assert not errors[0].exc_info
    await store.async_close()
    assert await AlertStore(hass, "unwritable", dict, list).async_load() == {"next_code": 3, "journal_seq": 2}
