"""A GSM modem entry in Home Assistant, against the modem simulator (pty where there is one, else in memory).

The flow, sends through the outbox at one SIM's pace, replies as sms_alerts_received and acknowledgements
(the path the IPEX webhook takes), status reports as delivery reports, and an unplugged modem: the
entry's health goes down, the alert waits, and it goes out once the modem is back, without a restart.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.sms_alerts import modem_pin
from custom_components.sms_alerts.api import modem as modem_api
from custom_components.sms_alerts.api.modem import ModemProvider, pin_digest
from custom_components.sms_alerts.const import DOMAIN
from custom_components.sms_alerts.devices import entry_device
from custom_components.sms_alerts.diagnostics import async_get_config_entry_diagnostics
from simulators.modem import ModemFault, ModemSimulator

from .conftest import send
from .modem_helpers import TRANSPORTS, running_modem, wait_for
from .test_event import attributes, event_state

NUMBER = "+491701234567"
PIN = "4711"


@pytest.fixture(params=TRANSPORTS)
async def sim(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncGenerator[ModemSimulator]:
    """A modem whose SIM wants PIN 4711, reopened quickly after an unplug."""
    monkeypatch.setattr(modem_api, "BACKOFF_INITIAL", 0.05)
    monkeypatch.setattr(modem_api, "BACKOFF_MAX", 0.2)
    monkeypatch.setattr(modem_api, "SYNC_TIMEOUT", 0.3)
    async with running_modem(request.param, monkeypatch, pin=PIN) as modem:
        yield modem


async def run_flow(hass: HomeAssistant, form: dict[str, Any]) -> dict[str, Any]:
    """Open the flow, pick the modem, submit the form."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "modem"})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "modem"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], form)
    return dict(result)


async def add_entry(hass: HomeAssistant, sim: ModemSimulator, **options: Any) -> ConfigEntry:
    """Make a modem entry through the flow with one recipient; wait for its link."""
    hass.config.country = "DE"
    result = await run_flow(hass, {"port": sim.path, "baudrate": "115200", "pin": PIN})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    entry: ConfigEntry = result["result"]
    if options:
        hass.config_entries.async_update_entry(entry, options=options)
    await hass.async_block_till_done(wait_background_tasks=True)
    sub = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "recipient"), context={"source": SOURCE_USER}
    )
    await hass.config_entries.subentries.async_configure(sub["flow_id"], {"name": "On call", "target": NUMBER})
    await hass.async_block_till_done(wait_background_tasks=True)
    await wait_for(lambda: modem(entry).connected)
    return entry


def modem(entry: ConfigEntry) -> ModemProvider:
    """The entry's modem provider."""
    provider = entry.runtime_data.provider
    assert isinstance(provider, ModemProvider)
    return provider


async def settle(hass: HomeAssistant) -> None:
    """Let the modem's background reads and Home Assistant's tasks finish."""
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is ConfigEntryState.LOADED:
            await modem(entry).inbound.async_idle()
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_flow_checks_the_modem_and_the_entry_sends(hass: HomeAssistant, sim: ModemSimulator) -> None:
    """The check sends nothing; the entry holds the port, and an alert in UCS-2 and three parts arrives whole."""
    entry = await add_entry(hass, sim)
    assert entry.title.startswith("GSM modem")
    assert sim.messages == []
    assert hass.states.get("notify.on_call") is not None
    text = ("Příliš žluťoučký kůň úpěl ďábelské ódy 🚨 " * 4).strip()  # 167 UTF-16 units: 3 parts of 67
    response = await send(hass, entry, message=text)
    assert [(r["status"], r["provider"], r["parts"]) for r in response["results"]] == [("sent", "modem", 3)]
    assert [(m.to, m.text, m.options["parts"]) for m in sim.messages] == [(NUMBER, text, 3)]


@pytest.mark.parametrize(
    ("form", "fault", "error"),
    [
        ({"pin": "0000"}, None, "wrong_pin"),
        ({"pin": None}, None, "sim_pin_required"),
        ({}, ModemFault.NO_SIM, "no_sim"),
        ({"port": "/dev/serial/by-id/usb-no-such-modem"}, None, "no_port"),
        ({"pin": "12"}, None, "invalid_pin"),
    ],
)
async def test_flow_errors(
    hass: HomeAssistant, sim: ModemSimulator, form: dict[str, Any], fault: ModemFault | None, error: str
) -> None:
    """Each problem is a form error of its own; the right settings then make the entry."""
    if fault is not None:
        sim.inject(fault)
    data = {"port": sim.path, "baudrate": "115200", "pin": PIN, **form}
    result = await run_flow(hass, {key: value for key, value in data.items() if value is not None})
    assert result["type"] is FlowResultType.FORM
    assert error in result["errors"].values()
    sim.recover()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"port": sim.path, "baudrate": "115200", "pin": PIN}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_same_port_twice_is_already_configured(hass: HomeAssistant, sim: ModemSimulator) -> None:
    """The port an entry holds is not opened again by a second flow."""
    await add_entry(hass, sim)
    result = await run_flow(hass, {"port": sim.path, "baudrate": "115200", "pin": PIN})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reply_is_received_and_acknowledges(hass: HomeAssistant, sim: ModemSimulator) -> None:
    """A reply quoting the alert's reference fires sms_alerts_received and sms_alerts_acknowledged."""
    entry = await add_entry(hass, sim, ack_reference=True)
    received = async_capture_events(hass, "sms_alerts_received")
    acknowledged = async_capture_events(hass, "sms_alerts_acknowledged")
    await send(hass, entry, message="Freezer warm")
    assert "#1" in sim.messages[0].text
    sim.deliver(NUMBER, "ACK #1")
    await wait_for(lambda: not sim.inbox and bool(received))
    await settle(hass)
    assert [(e.data["from"], e.data["text"]) for e in received] == [(NUMBER, "ACK #1")]
    assert [(e.data["reference"], e.data["message"]) for e in acknowledged] == [("#1", "Freezer warm")]
    # The entry's event entities show them, as an IPEX entry's do
    assert attributes(event_state(hass, entry, "received")) == {
        "event_type": "received",
        "from": NUMBER,
        "to": "",
        "text": "ACK #1",
    }
    assert attributes(event_state(hass, entry, "acknowledged"))["message"] == "Freezer warm"


async def test_failed_status_report_is_a_failed_delivery(hass: HomeAssistant, sim: ModemSimulator) -> None:
    """A +CDS saying the SMS centre gave up: sms_alerts_delivery failed, and the alert is given up (no fallback)."""
    entry = await add_entry(hass, sim)
    deliveries = async_capture_events(hass, "sms_alerts_delivery")
    failed = async_capture_events(hass, "sms_alerts_failed")
    sim.report_status = 0x41  # incompatible destination
    response = await send(hass, entry, message="Freezer warm")
    assert response["results"][0]["status"] == "sent"
    await wait_for(lambda: bool(deliveries))
    await settle(hass)
    assert [e.data["state"] for e in deliveries] == ["FAILED"]
    assert [e.data["target"] for e in failed] == [NUMBER]


async def test_delivered_status_report(hass: HomeAssistant, sim: ModemSimulator) -> None:
    """A +CDS saying delivered: sms_alerts_delivery delivered, with the id of the send."""
    entry = await add_entry(hass, sim)
    deliveries = async_capture_events(hass, "sms_alerts_delivery")
    await send(hass, entry, message="Freezer warm")
    await wait_for(lambda: bool(deliveries))
    assert [(e.data["state"], e.data["to"]) for e in deliveries] == [("DELIVERED", NUMBER)]
    await settle(hass)
    assert attributes(event_state(hass, entry, "delivery"))["event_type"] == "delivered"


async def test_unplugged_modem_queues_and_sends_once_back(hass: HomeAssistant, sim: ModemSimulator) -> None:
    """Unplugged: health down, the alert queued; plugged back: the link reopens and the alert goes out once."""
    entry = await add_entry(hass, sim)
    reachability = entry.runtime_data.health.reachability
    sim.unplug()
    await wait_for(lambda: reachability.reachable is False)
    response = await send(hass, entry, message="Water in the cellar")
    assert response["results"][0]["status"] == "queued"
    diagnostics = json.dumps(await async_get_config_entry_diagnostics(hass, entry))
    assert "went away" in diagnostics or "cannot open" in diagnostics
    assert sim.path not in diagnostics  # the port (a by-id path names the modem's serial number) is redacted
    assert sim.messages == []
    await sim.replug()
    await wait_for(lambda: bool(sim.messages))
    await settle(hass)
    assert reachability.reachable is True
    assert [m.text for m in sim.messages] == ["Water in the cellar"]
    assert entry.runtime_data.outbox.items == []


async def test_no_sim_at_send_raises_a_repair_issue(hass: HomeAssistant, sim: ModemSimulator) -> None:
    """The SIM taken out while loaded: the send fails for the entry, with a repair issue."""
    entry = await add_entry(hass, sim)
    sim.inject(ModemFault.NO_SIM)
    with pytest.raises(HomeAssistantError, match="SIM not inserted"):
        await send(hass, entry, message="Door open")
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"{entry.entry_id}_no_sim") is not None


async def test_pin_is_secret(hass: HomeAssistant, sim: ModemSimulator, caplog: pytest.LogCaptureFixture) -> None:
    """The PIN is in no log line, diagnostics or event; the form never shows it back."""
    entry = await add_entry(hass, sim)
    await send(hass, entry, message="x")
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert PIN not in json.dumps(diagnostics)
    assert diagnostics["entry"]["data"]["pin"] == "**REDACTED**"
    assert diagnostics["provider"]["pin_set"] is True
    assert diagnostics["provider"]["hardware"] == ["SIMCOM_Ltd", "SIMCOM_SIM900", "1137B03SIM900M64_ST_MMS"]
    assert f'"{PIN}"' not in caplog.text
    assert f"CPIN={PIN}" not in caplog.text.replace('"', "")
    assert "AT+CPIN=…" in caplog.text


async def test_options_offer_acknowledgement_and_no_parallel_requests(hass: HomeAssistant, sim: ModemSimulator) -> None:
    """A modem takes one command at a time: no "requests at once"; replies reach it, so references are offered."""
    entry = await add_entry(hass, sim)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"
    fields = {str(key): value for key, value in result["data_schema"].schema.items()}
    storm = {str(key) for key in fields["storm_control"].schema.schema}
    replies = {str(key) for key in fields["replies"].schema.schema}
    assert "parallel_requests" not in storm
    assert replies == {"ack_reference"}
    assert modem(entry).parallel == 1


async def test_a_storm_goes_out_one_command_at_a_time(hass: HomeAssistant, sim: ModemSimulator) -> None:
    """Alerts sent at once to several recipients reach the modem one after the other, each whole, none lost."""
    entry = await add_entry(hass, sim, rate_limit=0, dedup_minutes=0)
    targets = [f"+4917012345{index:02d}" for index in range(6)]
    response = await send(hass, entry, message="Fire alarm hall 2", target=targets)
    assert [r["status"] for r in response["results"]] == ["sent"] * 6
    assert sorted(m.to for m in sim.messages) == targets
    references = [m.options["references"][0] for m in sim.messages]
    assert references == list(range(6))  # TP-MR given in order: no two sends overlapped


async def test_a_new_pin_through_reauthentication(hass: HomeAssistant, sim: ModemSimulator) -> None:
    """The SIM now wants another PIN: reauthentication starts, the old PIN is not tried again, the new one works.

    The check of the new PIN opens the port the loaded entry holds: the entry lets go of it for the check.
    """
    entry = await add_entry(hass, sim)
    sim.pin = "13572468"
    sim.pin_entered = False
    await sim.replug()
    await wait_for(
        lambda: any(flow["context"]["source"] == "reauth" for flow in hass.config_entries.flow.async_progress())
    )
    [flow] = hass.config_entries.flow.async_progress()
    assert not sim.pin_entered
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {"pin": "13572468"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.data["pin"] == "13572468"
    await wait_for(lambda: entry.state is ConfigEntryState.LOADED and modem(entry).connected)
    response = await send(hass, entry, message="Back")
    assert response["results"][0]["status"] == "sent"


async def test_reconfigure_checks_the_port_the_entry_holds(hass: HomeAssistant, sim: ModemSimulator) -> None:
    """Reconfigure (another baud rate) checks the modem while the entry holds the port, then reloads it."""
    entry = await add_entry(hass, sim)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"port": sim.path, "baudrate": "57600", "pin": PIN}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.data["baudrate"] == 57600
    await wait_for(lambda: entry.state is ConfigEntryState.LOADED and modem(entry).connected)


def sensor_state(hass: HomeAssistant, suffix: str) -> str | None:
    """The state of the one sensor whose entity id ends with `suffix`."""
    states = [state.state for state in hass.states.async_all("sensor") if state.entity_id.endswith(suffix)]
    assert len(states) <= 1
    return states[0] if states else None


async def test_signal_and_registration_sensors(
    hass: HomeAssistant, sim: ModemSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """+CSQ 20 is -73 dBm; +CREG 1 is the home network; unplugged, both are unavailable, and the log says why."""
    entry = await add_entry(hass, sim)
    await wait_for(lambda: sensor_state(hass, "_signal_strength") == "-73")
    assert sensor_state(hass, "_network_registration") == "home"
    sim.unplug()
    await wait_for(lambda: entry.runtime_data.health.reachability.reachable is False)
    await entry.runtime_data.health.modem.async_refresh()
    await hass.async_block_till_done()
    assert "modem status data: The modem's signal and network could not be read: " in caplog.text
    assert "status page" not in caplog.text  # the SMS Gateway's words, not a modem's
    assert sensor_state(hass, "_signal_strength") == "unavailable"
    assert sensor_state(hass, "_network_registration") == "unavailable"
    sim.registration = 5  # roaming
    await sim.replug()
    await wait_for(lambda: sensor_state(hass, "_network_registration") == "roaming")


async def test_new_firmware_shows_on_the_device_after_a_restart(hass: HomeAssistant, sim: ModemSimulator) -> None:
    """At a reload the entities come back before the modem answers; its new answers then update the device."""
    entry = await add_entry(hass, sim)
    device = entry_device(hass, entry.entry_id, entry.entry_id)
    assert device is not None
    assert (device.manufacturer, device.model, device.sw_version) == (
        "SIMCOM_Ltd",
        "SIMCOM_SIM900",
        "1137B03SIM900M64_ST_MMS",
    )
    sim.identity["+CGMR"] = "Revision:1418B04SIM800L24"
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await wait_for(lambda: modem(entry).connected)
    device = entry_device(hass, entry.entry_id, entry.entry_id)
    assert device is not None
    assert (device.manufacturer, device.sw_version) == ("SIMCOM_Ltd", "1418B04SIM800L24")


async def test_reconfigure_without_the_pin_keeps_the_stored_one(hass: HomeAssistant, sim: ModemSimulator) -> None:
    """The form never shows the PIN back: setting only the SMS centre (as smsc_unknown says) keeps it.

    Before, the PIN was dropped: nothing showed until the next power cycle, when the SIM asked for it and the
    modem sent nothing until someone typed it.
    """
    entry = await add_entry(hass, sim)
    assert entry.data["pin"] == PIN
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"port": sim.path, "baudrate": "115200", "smsc": "+491710760000"}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert result["reason"] == "reconfigure_successful"
    assert (entry.data["pin"], entry.data["smsc"]) == (PIN, "+491710760000")
    await wait_for(lambda: modem(entry).connected)
    # A power cycle: the SIM asks for its PIN again when the entry opens the port next (here: a reload)
    sim.pin_entered = False
    assert await hass.config_entries.async_reload(entry.entry_id)
    await wait_for(lambda: modem(entry).connected and sim.pin_entered)
    await settle(hass)
    assert not [flow for flow in hass.config_entries.flow.async_progress() if flow["context"]["source"] == "reauth"]


def count_pins(sim: ModemSimulator) -> list[str]:
    """Record every PIN the modem is given (AT+CPIN=...)."""
    tries: list[str] = []
    setting = sim._setting

    def counting(name: str, value: str) -> None:
        if name == "CPIN":
            tries.append(value)
        setting(name, value)

    sim._setting = counting  # type: ignore[method-assign]
    return tries


async def test_a_refused_pin_is_not_entered_again_after_a_reload_or_a_restart(
    hass: HomeAssistant, sim: ModemSimulator, hass_storage: dict[str, Any]
) -> None:
    """The SIM was given another PIN (in a phone): the stored one is refused once, and reauthentication starts.

    An options change or a restart before anybody answers it reloads the entry: the refused PIN is not entered
    again (the third wrong try locks the SIM: only its PUK, typed in a phone, frees it). Before, each reload
    entered it again. The PIN the user then confirms is entered, even the refused one, once the SIM takes it.
    """
    entry = await add_entry(hass, sim)
    tries = count_pins(sim)
    sim.pin, sim.pin_entered = "13572468", False
    await sim.replug()
    await wait_for(lambda: any(f["context"]["source"] == "reauth" for f in hass.config_entries.flow.async_progress()))
    assert len(tries) == 1
    for _ in range(2):
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done(wait_background_tasks=True)
        await wait_for(lambda: modem(entry).last_error is not None)
    assert len(tries) == 1
    stored = hass_storage[f"{DOMAIN}.{entry.entry_id}.modem_pin"]["data"]
    assert set(stored) == {"refused"}
    assert PIN not in json.dumps(stored)
    # The SIM's PIN is set back to the stored one in a phone, and the user confirms it (the check unlocks the SIM)
    sim.pin = PIN
    flow = next(f for f in hass.config_entries.flow.async_progress() if f["context"]["source"] == "reauth")
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {"pin": PIN})
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    await wait_for(lambda: entry.state is ConfigEntryState.LOADED and modem(entry).connected)
    assert (await send(hass, entry, message="Back"))["results"][0]["status"] == "sent"
    assert f"{DOMAIN}.{entry.entry_id}.modem_pin" not in hass_storage
    # The next power cycle: the confirmed PIN is entered again, no reauthentication
    tried = len(tries)
    sim.pin_entered = False
    assert await hass.config_entries.async_reload(entry.entry_id)
    await wait_for(lambda: modem(entry).connected and sim.pin_entered)
    await settle(hass)
    assert len(tries) == tried + 1
    assert not [f for f in hass.config_entries.flow.async_progress() if f["context"]["source"] == "reauth"]


async def test_reconfigure_moves_a_modem_entry_to_another_port(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another port (the modem_unsupported issue asks for one): the same entry, its recipients and ids, moves there.

    Before, any other port aborted as another account (a port another entry has still does: its unique id).
    """
    async with (
        running_modem("memory", monkeypatch, pin=PIN) as first,
        running_modem("memory", monkeypatch, pin=PIN) as second,
    ):
        entry = await add_entry(hass, first)
        subentries = dict(entry.subentries)
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"port": second.path, "baudrate": "115200"}
        )
        await hass.async_block_till_done(wait_background_tasks=True)
        assert result["reason"] == "reconfigure_successful"
        assert (entry.data["port"], entry.data["pin"], entry.unique_id) == (second.path, PIN, f"modem:{second.path}")
        assert dict(entry.subentries) == subentries
        await wait_for(lambda: modem(entry).connected)
        assert (await send(hass, entry, message="Moved"))["results"][0]["status"] == "sent"
        assert [message.text for message in second.messages] == ["Moved"]


async def test_a_late_report_of_an_earlier_message_with_the_same_reference_fails_neither_silently(
    hass: HomeAssistant, sim: ModemSimulator
) -> None:
    """TP-MR is one octet: 256 parts later another message to the same number gets the same reference.

    The earlier message's FAILED report then comes (its recipient's phone was off): its TP-SCTS says the SMS centre
    took that SMS an hour before the later one went, so it is not the later one's. The later one is not given up;
    the earlier one's failure still fires sms_alerts_failed (which alert it was cannot be told). Before, the
    later message was given up (or handed over) and the earlier one's failure passed unseen.
    """
    entry = await add_entry(hass, sim)
    failed = async_capture_events(hass, "sms_alerts_failed")
    sim.hold_reports = True
    start = sim.next_reference
    await send(hass, entry, message="A: water in the cellar")
    sim.held_reports[0].received -= dt.timedelta(hours=1)  # taken an hour ago: 256 parts went since
    sim.next_reference = start
    await send(hass, entry, message="B: door open")
    assert [part.reference for part in sim.held_reports] == [start, start]
    sim.report_status = 0x46  # A: validity period expired
    sim.release_reports(1)
    await wait_for(lambda: bool(failed))
    await settle(hass)
    [event] = failed
    assert event.data["message"] == ""
    assert "no longer known" in event.data["error"]
    # B's own report still settles B
    sim.report_status = 0x00
    delivered = async_capture_events(hass, "sms_alerts_delivery")
    sim.release_reports()
    await wait_for(lambda: bool(delivered))
    await settle(hass)
    assert [e.data["state"] for e in delivered] == ["DELIVERED"]
    assert len(failed) == 1


async def test_the_refused_pin_store_forgets_what_a_flow_confirmed_and_a_removed_entry(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """A refusal is read back until a flow confirms that PIN; no PIN confirms nothing; removal deletes the store."""
    key = f"{DOMAIN}.entry1.modem_pin"
    await modem_pin.async_save_refused(hass, "entry1", pin_digest("1234"))
    assert await modem_pin.async_load_refused(hass, "entry1") == pin_digest("1234")
    modem_pin.confirm_pin(hass, "entry1", None)
    assert await modem_pin.async_load_refused(hass, "entry1") == pin_digest("1234")
    # Confirmed while the store still held it (the start read it before the removal ran): not a refusal
    hass.data.setdefault(modem_pin._CONFIRMED, {})["entry1"] = pin_digest("1234")
    assert await modem_pin.async_load_refused(hass, "entry1") is None
    assert key not in hass_storage
    await modem_pin.async_save_refused(hass, "entry1", pin_digest("9999"))
    await modem_pin.async_remove_refused(hass, "entry1")
    assert key not in hass_storage
