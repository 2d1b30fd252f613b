"""A USB GSM modem found by Home Assistant's USB discovery: its command port among its sibling ports.

A modem offers several serial ports under one USB id; which one takes AT commands differs by maker.
ModemManager's udev rules name them per interface (facts used here and for the manifest's matchers):
- linux-mobile-broadband/ModemManager:plugins/quectel/77-mm-quectel-port-types.rules: Quectel (2c7c)
  EC25/EG25 0125, EG91 0191, EG95 0195, BG96 0296, EG06 0306, RM500 0800: if00 QCDM/DIAG, if01 GPS,
  if02 AT primary, if03 AT secondary (the port discovery reports first is not the command port).
- ...:plugins/simtech/77-mm-simtech-port-types.rules: SIMCom (1e0e) SIM7000/7100/7600 9001, SIM7070/
  7080/7090 9205 and 9206: if00 QCDM, if01 GPS, if02 AT primary.
- ...:plugins/ublox/77-mm-ublox-port-types.rules: u-blox (1546) LISA-U2 1102, TOBY-R2 1107, LARA-R2
  110a: if00 primary AT port.
- ...:plugins/telit/77-mm-telit-port-types.rules: Telit (1bc7) HE910/UE910/UL865 0021, UC864-E 1003.
- ...:plugins/zte/77-mm-zte-port-types.rules: ZTE (19d2) 0031 (modem if03), 0117 (modem if02), 2002
  (modem if03).
- torvalds/linux:drivers/usb/serial/qcserial.c: Sierra Wireless (1199) 9071 "Sierra Wireless MC74xx".
- torvalds/linux:drivers/usb/serial/option.c: Huawei (12d1) K3765 0x1465, K4605 0x14C6, E173s-6 0x1C07.
Home Assistant's usb component (homeassistant/components/usb/__init__.py, get_serial_by_id) finds a
device's /dev/serial/by-id link by the link's real path, as config_flow_modem does; UsbServiceInfo is
homeassistant.helpers.service_info.usb.UsbServiceInfo (2025.4 and later; the old alias in
homeassistant.components.usb is deprecated).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path

import pytest
from homeassistant.config_entries import SOURCE_IGNORE, SOURCE_USB
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.usb import UsbServiceInfo

from custom_components.sms_alerts import config_flow_modem
from custom_components.sms_alerts.api import modem as modem_api
from custom_components.sms_alerts.config_flow_modem import sibling_ports
from custom_components.sms_alerts.const import DOMAIN
from simulators.modem import ModemSimulator

from .modem_helpers import pseudo_terminals, running_modem

PIN = "4711"
PACKAGE = Path(__file__).parent.parent / "custom_components" / "sms_alerts"
# The matchers of the manifest and their sources (see the module's text)
SOURCED = {
    ("2C7C", "0125"): "Quectel EC25/EG25 (ModemManager quectel rules)",
    ("2C7C", "0191"): "Quectel EG91 (ModemManager quectel rules)",
    ("2C7C", "0195"): "Quectel EG95 (ModemManager quectel rules)",
    ("2C7C", "0296"): "Quectel BG96 (ModemManager quectel rules)",
    ("2C7C", "0306"): "Quectel EG06 (ModemManager quectel rules)",
    ("2C7C", "0800"): "Quectel RM500 (ModemManager quectel rules)",
    ("1E0E", "9001"): "SIMCom SIM7000/SIM7100/SIM7600 (ModemManager simtech rules)",
    ("1E0E", "9205"): "SIMCom SIM7070/SIM7080/SIM7090 (ModemManager simtech rules)",
    ("1E0E", "9206"): "SIMCom SIM7070/SIM7080/SIM7090, second layout (ModemManager simtech rules)",
    ("1546", "1102"): "u-blox LISA-U2 (ModemManager ublox rules)",
    ("1546", "1107"): "u-blox TOBY-R2 (ModemManager ublox rules)",
    ("1546", "110A"): "u-blox LARA-R2 (ModemManager ublox rules)",
    ("1BC7", "0021"): "Telit HE910/UE910/UL865 (ModemManager telit rules)",
    ("1BC7", "1003"): "Telit UC864-E (ModemManager telit rules)",
    ("19D2", "0031"): "ZTE (ModemManager zte rules)",
    ("19D2", "0117"): "ZTE (ModemManager zte rules)",
    ("19D2", "2002"): "ZTE (ModemManager zte rules)",
    ("1199", "9071"): "Sierra Wireless MC74xx (Linux qcserial.c)",
    ("12D1", "1465"): "Huawei K3765 (Linux option.c)",
    ("12D1", "14C6"): "Huawei K4605 (Linux option.c)",
    ("12D1", "1C07"): "Huawei E173s-6 (Linux option.c)",
}
# The keys hassfest allows in a usb matcher (script/hassfest/manifest.py)
MATCHER_KEYS = {"vid", "pid", "description", "manufacturer", "serial_number", "known_devices"}

pytestmark = pytest.mark.skipif(not pseudo_terminals(), reason="no pseudo-terminals here")


def test_manifest_usb_matchers_are_sourced_and_valid() -> None:
    """Every matcher names a vendor and a product (no vendor-wide match), in hassfest's keys, with a source."""
    matchers = json.loads((PACKAGE / "manifest.json").read_text())["usb"]
    assert matchers
    for matcher in matchers:
        assert set(matcher) <= MATCHER_KEYS
        assert {"vid", "pid"} <= set(matcher)
        assert all(len(matcher[key]) == 4 and matcher[key] == matcher[key].upper() for key in ("vid", "pid"))
        int(matcher["vid"], 16), int(matcher["pid"], 16)
    assert {(m["vid"], m["pid"]) for m in matchers} == set(SOURCED)


def test_sibling_ports_by_interface_number() -> None:
    """The port reported first, then the same device's other interfaces in order; another modem's are left out."""
    prefix = "/dev/serial/by-id/usb-Quectel_EG25-G_0123"
    links = [
        f"{prefix}-if03-port0",
        f"{prefix}-if00-port0",
        f"{prefix}-if02-port0",
        "/dev/serial/by-id/usb-Quectel_EG25-G_9999-if02-port0",
        f"{prefix}-if01-port0",
    ]
    assert sibling_ports(f"{prefix}-if00-port0", links) == [
        f"{prefix}-if00-port0",
        f"{prefix}-if01-port0",
        f"{prefix}-if02-port0",
        f"{prefix}-if03-port0",
    ]
    assert sibling_ports("/dev/ttyUSB0", links) == ["/dev/ttyUSB0"]


@pytest.fixture
def silent_port() -> Iterator[str]:
    """A serial port that never answers (a modem's diagnostics or GPS port)."""
    controller, port = os.openpty()
    try:
        yield os.ttyname(port)
    finally:
        os.close(controller)
        os.close(port)


@pytest.fixture
async def sim(monkeypatch: pytest.MonkeyPatch) -> AsyncGenerator[ModemSimulator]:
    """A modem on a pty whose command port is its interface 2, in a folder standing for /dev/serial/by-id."""
    monkeypatch.setattr(modem_api, "PROBE_TIMEOUT", 0.2)
    monkeypatch.setattr(modem_api, "SYNC_TIMEOUT", 0.3)
    async with running_modem("pty", monkeypatch, pin=PIN) as modem:
        monkeypatch.setattr(config_flow_modem, "BY_ID", Path(modem.path).parent)
        yield modem


def diagnostics_port(sim: ModemSimulator, silent_port: str) -> str:
    """Link the silent port as the modem's interface 0 (what discovery reports first); return its device."""
    Path(sim.path).with_name("usb-Simulated_GSM_modem-if00-port0").symlink_to(silent_port)
    return silent_port


def discovery(device: str) -> UsbServiceInfo:
    """What Home Assistant's USB discovery reports for a Quectel EG25-G."""
    return UsbServiceInfo(
        device=device, vid="2C7C", pid="0125", serial_number="0123", manufacturer="Quectel", description="EG25-G"
    )


async def test_discovery_finds_the_command_port_and_creates_the_entry(
    hass: HomeAssistant, sim: ModemSimulator, silent_port: str
) -> None:
    """Discovery reports the diagnostics port: its sibling interface 2 answers AT and becomes the entry's port."""
    device = diagnostics_port(sim, silent_port)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USB}, data=discovery(device))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "usb_confirm"
    assert result["description_placeholders"] == {"name": "Quectel EG25-G", "port": sim.path}
    [flow] = hass.config_entries.flow.async_progress()
    assert flow["context"]["title_placeholders"] == {"name": "Quectel EG25-G"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"pin": PIN})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["port"] == sim.path
    assert result["data"]["pin"] == PIN
    await hass.async_block_till_done(wait_background_tasks=True)
    # Plugged in again (or Home Assistant restarted): the configured modem is not offered again
    again = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USB}, data=discovery(device))
    assert again["type"] is FlowResultType.ABORT
    assert again["reason"] == "already_configured"


async def test_discovery_with_a_wrong_pin_shows_the_port_form(
    hass: HomeAssistant, sim: ModemSimulator, silent_port: str
) -> None:
    """The confirm step's check fails: the full modem form follows, prefilled with the port found."""
    device = diagnostics_port(sim, silent_port)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USB}, data=discovery(device))
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"pin": "0000"})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "modem"
    assert result["errors"] == {"base": "wrong_pin"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"port": sim.path, "baudrate": "115200", "pin": PIN}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_discovery_without_an_answering_port_shows_the_port_form(
    hass: HomeAssistant, sim: ModemSimulator, silent_port: str
) -> None:
    """No port of the modem answers AT: the port form, the reported port filled in, says so."""
    sim.unplug()
    device = diagnostics_port(sim, silent_port)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USB}, data=discovery(device))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "modem"
    assert result["errors"] == {"base": "no_answer"}
    suggested = {
        str(key): key.description.get("suggested_value") if key.description else None
        for key in result["data_schema"].schema
    }
    assert suggested["port"] == str(Path(sim.path).with_name("usb-Simulated_GSM_modem-if00-port0"))


async def test_discovery_of_a_modem_set_up_by_hand_or_ignored(
    hass: HomeAssistant, sim: ModemSimulator, silent_port: str
) -> None:
    """A modem an entry made by hand holds is not offered; an ignored one is not probed again."""
    device = diagnostics_port(sim, silent_port)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "modem"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"port": sim.path, "baudrate": "115200", "pin": PIN}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    found = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USB}, data=discovery(device))
    assert found["type"] is FlowResultType.ABORT
    assert found["reason"] == "already_configured"
    other = UsbServiceInfo(
        device="/dev/ttyUSB7", vid="1E0E", pid="9001", serial_number="77", manufacturer="SIMCOM", description="SIM7600"
    )
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USB}, data=other)
    assert result["errors"] == {"base": "no_answer"}
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_IGNORE}, data={"unique_id": "usb:1E0E:9001:77", "title": "SIM7600"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USB}, data=other)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
