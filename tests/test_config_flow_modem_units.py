"""The GSM modem's form without a flow: the ports offered (by their stable udev names) and what is typed tidied.

Facts used: udev makes /dev/serial/by-id/<name> symlinks to a USB serial device (/dev/ttyUSB0); pyserial's
`serial.tools.list_ports.comports()` gives ListPortInfo objects with `device`, `manufacturer`, `product` and
`description` ("n/a" where the device tells nothing). A PIN has 4 to 8 digits (TS 31.101); an SMS centre is an
E.164 number in international form (+ and at most 15 digits).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from serial.tools import list_ports  # type: ignore[import-untyped]

from custom_components.sms_alerts import config_flow_modem
from custom_components.sms_alerts.config_flow_modem import normalize_modem, scan_ports


@dataclass
class _Port:
    """What pyserial's comports() yields, as far as the form reads it."""

    device: str
    manufacturer: str | None = None
    product: str | None = None
    description: str = "n/a"


@pytest.fixture
def devices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A /dev with two USB serial devices and an empty by-id folder standing in for udev's."""
    dev = tmp_path / "dev"
    dev.mkdir()
    for name in ("ttyUSB0", "ttyUSB1", "ttyACM0"):
        (dev / name).touch()
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    monkeypatch.setattr(config_flow_modem, "BY_ID", by_id)
    return dev


def _offer(monkeypatch: pytest.MonkeyPatch, *ports: _Port) -> None:
    monkeypatch.setattr(list_ports, "comports", lambda: list(ports))


def test_by_id_links_map_each_device_to_its_first_link(devices: Path) -> None:
    """Each device gets its stable name; of two names for one device the first in order is kept."""
    by_id = config_flow_modem.BY_ID
    (by_id / "usb-Quectel_EG25-if02-port0").symlink_to(devices / "ttyUSB1")
    (by_id / "usb-Quectel_EG25-if03-port0").symlink_to(devices / "ttyUSB1")
    (by_id / "usb-FTDI_FT232R-if00-port0").symlink_to(devices / "ttyUSB0")
    assert config_flow_modem._by_id_links() == {
        os.path.realpath(devices / "ttyUSB0"): str(by_id / "usb-FTDI_FT232R-if00-port0"),
        os.path.realpath(devices / "ttyUSB1"): str(by_id / "usb-Quectel_EG25-if02-port0"),
    }


def test_by_id_links_skip_a_link_that_cannot_be_resolved(devices: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A link whose path fails to resolve is left out; the others still count."""
    by_id = config_flow_modem.BY_ID
    (by_id / "usb-broken").symlink_to(devices / "ttyACM0")
    (by_id / "usb-FTDI_FT232R-if00-port0").symlink_to(devices / "ttyUSB0")
    realpath = os.path.realpath

    def failing(path: Any) -> str:
        if Path(path).name == "usb-broken":
            raise OSError(40, "Too many levels of symbolic links")
        return realpath(path)

    monkeypatch.setattr(config_flow_modem.os.path, "realpath", failing)
    assert config_flow_modem._by_id_links() == {
        realpath(devices / "ttyUSB0"): str(by_id / "usb-FTDI_FT232R-if00-port0")
    }


def test_no_by_id_folder_means_no_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without udev's folder (a container, no USB device) there are no stable names."""
    monkeypatch.setattr(config_flow_modem, "BY_ID", tmp_path / "missing")
    assert config_flow_modem._by_id_links() == {}


def test_scan_ports_offers_stable_names_with_what_the_device_tells(
    devices: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ports in device order, by their by-id name where there is one, labelled with maker and product."""
    by_id = config_flow_modem.BY_ID
    (by_id / "usb-Quectel_EG25-if02-port0").symlink_to(devices / "ttyUSB1")
    _offer(
        monkeypatch,
        _Port(device=str(devices / "ttyUSB1"), manufacturer="Quectel", product="EG25-G"),
        _Port(device=str(devices / "ttyACM0"), manufacturer="n/a", description="USB modem"),
        _Port(device=str(devices / "ttyUSB0")),
    )
    link = str(by_id / "usb-Quectel_EG25-if02-port0")
    assert scan_ports() == [
        {"value": str(devices / "ttyACM0"), "label": f"{devices / 'ttyACM0'} (USB modem)"},
        {"value": str(devices / "ttyUSB0"), "label": str(devices / "ttyUSB0")},
        {"value": link, "label": f"{link} (Quectel, EG25-G)"},
    ]


def test_scan_ports_adds_links_pyserial_did_not_list(devices: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A by-id link to a device comports() missed is offered too, once, after the ports found."""
    by_id = config_flow_modem.BY_ID
    (by_id / "usb-Huawei_E3372-if00-port0").symlink_to(devices / "ttyUSB0")
    _offer(monkeypatch, _Port(device=str(devices / "ttyACM0"), description="ttyACM0"))
    link = str(by_id / "usb-Huawei_E3372-if00-port0")
    assert scan_ports() == [
        {"value": str(devices / "ttyACM0"), "label": f"{devices / 'ttyACM0'} (ttyACM0)"},
        {"value": link, "label": link},
    ]


def _form(**fields: Any) -> dict[str, Any]:
    return {"port": "/dev/ttyUSB0", "baudrate": "115200", **fields}


def test_a_complete_form_is_tidied() -> None:
    """Port trimmed, baud rate a number, PIN trimmed, SMS centre in + form without spaces or dashes."""
    data = _form(port=" /dev/ttyUSB0 ", baudrate=" 9600 ", pin=" 4711 ", smsc="0049 172-2270333")
    assert normalize_modem(data) == {}
    assert data == {"port": "/dev/ttyUSB0", "baudrate": 9600, "pin": "4711", "smsc": "+491722270333"}


def test_baud_rate_defaults_when_left_out() -> None:
    """A form without a baud rate (the stored one of an old entry) takes the default."""
    data = {"port": "/dev/ttyUSB0"}
    assert normalize_modem(data) == {}
    assert data["baudrate"] == 115200


@pytest.mark.parametrize("port", ["", "   "])
def test_no_port(port: str) -> None:
    """An empty port is refused on the port field."""
    assert normalize_modem(_form(port=port)) == {"port": "no_port"}


def test_missing_port() -> None:
    """A form without a port at all is refused as an empty one."""
    assert normalize_modem({"baudrate": "115200"}) == {"port": "no_port"}


@pytest.mark.parametrize("baudrate", ["fast", "115200.5", "", "299", "4000001", "-9600"])
def test_invalid_baud_rate(baudrate: str) -> None:
    """A baud rate that is no whole number, or outside what serial ports offer, is refused."""
    assert normalize_modem(_form(baudrate=baudrate)) == {"baudrate": "invalid_baudrate"}


@pytest.mark.parametrize("baudrate", ["300", "4000000"])
def test_baud_rate_limits_are_allowed(baudrate: str) -> None:
    """The slowest and fastest rates are taken."""
    data = _form(baudrate=baudrate)
    assert normalize_modem(data) == {}
    assert data["baudrate"] == int(baudrate)


@pytest.mark.parametrize("pin", ["123", "123456789", "12a4", ""])
def test_invalid_pin(pin: str) -> None:
    """A PIN of other than 4 to 8 digits is refused."""
    assert normalize_modem(_form(pin=pin)) == {"pin": "invalid_pin"}


@pytest.mark.parametrize("smsc", ["491722270333", "+4912", "+4917222703331234", "", "00"])
def test_invalid_sms_centre(smsc: str) -> None:
    """An SMS centre not in international form, or too short or long for E.164, is refused."""
    assert normalize_modem(_form(smsc=smsc)) == {"smsc": "invalid_smsc"}


@pytest.mark.parametrize(("smsc", "tidied"), [("+49 172 2270333", "+491722270333"), ("+12345", "+12345")])
def test_sms_centre_forms_taken(smsc: str, tidied: str) -> None:
    """An SMS centre with + is kept without its spaces; the shortest E.164 length is taken."""
    data = _form(smsc=smsc)
    assert normalize_modem(data) == {}
    assert data["smsc"] == tidied
