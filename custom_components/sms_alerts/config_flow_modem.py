"""The GSM modem's part of the config flow: the ports found, the form, and what is typed tidied."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import voluptuous as vol
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .api.modem import (
    BAUDRATES,
    CONF_BAUDRATE,
    CONF_PIN,
    CONF_PORT,
    CONF_SMSC,
    DEFAULT_BAUDRATE,
    async_answers_at,
)
from .const import CONF_PROVIDER, DOMAIN

# Stable names of USB serial devices (udev): the same modem keeps its path after a replug or a reboot
BY_ID = Path("/dev/serial/by-id")
# Form errors of a modem check, each with a text of its own
FORM_ERRORS = frozenset(
    {"no_port", "port_permission", "no_answer", "sim_pin_required", "wrong_pin", "no_sim", "sim_puk", "sim_locked"}
)

# A /dev/serial/by-id name: usb-<maker>_<product>_<serial>-if<interface number>[-port<n>] (udev's
# 60-serial.rules); the ports of one modem differ only in their interface number
_INTERFACE = re.compile(r"^(?P<device>.+)-if(?P<number>[0-9A-Fa-f]{2})(?P<rest>.*)$")

_PIN = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_BAUDRATE = SelectSelector(
    SelectSelectorConfig(options=[str(rate) for rate in BAUDRATES], mode=SelectSelectorMode.DROPDOWN, custom_value=True)
)
_TEXT = TextSelector()


def _schema(port: TextSelector | SelectSelector) -> vol.Schema:
    """Return the modem form with the given port field."""
    return vol.Schema(
        {
            vol.Optional(CONF_NAME): _TEXT,
            vol.Required(CONF_PORT): port,
            vol.Required(CONF_BAUDRATE, default=str(DEFAULT_BAUDRATE)): _BAUDRATE,
            vol.Optional(CONF_PIN): _PIN,
            vol.Optional(CONF_SMSC): TextSelector(TextSelectorConfig(type=TextSelectorType.TEL)),
        }
    )


# Reconfigure and the stored form: the port as text
MODEM_SCHEMA = _schema(_TEXT)
REAUTH_SCHEMA = vol.Schema({vol.Optional(CONF_PIN): _PIN})
# A discovered modem: its port was found; its SIM may want a PIN, the SMS centre may be set
USB_CONFIRM_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_NAME): _TEXT,
        vol.Optional(CONF_PIN): _PIN,
        vol.Optional(CONF_SMSC): TextSelector(TextSelectorConfig(type=TextSelectorType.TEL)),
    }
)


def _by_id_links() -> dict[str, str]:
    """Map each device (/dev/ttyUSB0) to its /dev/serial/by-id link, where udev made one."""
    links: dict[str, str] = {}
    if not BY_ID.is_dir():
        return links
    for link in sorted(BY_ID.iterdir()):
        try:
            links.setdefault(os.path.realpath(link), str(link))
        except OSError:
            continue
    return links


def scan_ports() -> list[SelectOptionDict]:
    """List the serial ports found, by their /dev/serial/by-id path where there is one (blocking: run in a thread)."""
    from serial.tools import list_ports  # type: ignore[import-untyped]  # noqa: PLC0415 - pyserial comes with pyserial-asyncio-fast

    links = _by_id_links()
    options: list[SelectOptionDict] = []
    for port in sorted(list_ports.comports(), key=lambda found: found.device):
        path = links.get(os.path.realpath(port.device), port.device)
        details = [part for part in (port.manufacturer, port.product or port.description) if part and part != "n/a"]
        label = f"{path} ({', '.join(details)})" if details else path
        options.append(SelectOptionDict(value=path, label=label))
    known = {option["value"] for option in options}
    options.extend(SelectOptionDict(value=link, label=link) for link in links.values() if link not in known)
    return options


def sibling_ports(path: str, links: Iterable[str]) -> list[str]:
    """Return the ports of the modem `path` belongs to: `path` first, then the others by interface number."""
    own = _INTERFACE.match(Path(path).name)
    if own is None:
        return [path]
    found: list[tuple[int, str]] = []
    for link in links:
        other = _INTERFACE.match(Path(link).name)
        if link != path and other is not None and other["device"] == own["device"]:
            found.append((int(other["number"], 16), link))
    return [path, *(link for _number, link in sorted(found))]


@dataclass(frozen=True, kw_only=True)
class UsbModem:
    """A USB modem Home Assistant's USB discovery reported: its id, its name, and its serial ports."""

    unique_id: str
    name: str
    # The port reported (its /dev/serial/by-id path where udev made one), then its siblings
    ports: tuple[str, ...]
    # The devices behind them (/dev/ttyUSB2): an entry's port matches by path or by device
    devices: frozenset[str]


def usb_modem(
    device: str, vid: str, pid: str, serial_number: str | None, manufacturer: str | None, description: str | None
) -> UsbModem:
    """Describe a discovered modem: the port reported by its by-id path, and its sibling ports (blocking)."""
    links = _by_id_links()
    path = links.get(os.path.realpath(device), device)
    ports = sibling_ports(path, links.values())
    own = _INTERFACE.match(Path(path).name)
    which = serial_number or (own["device"] if own is not None else device)
    maker = (manufacturer or "").strip()
    product = (description or "").strip()
    name = product if maker.lower() in product.lower() else f"{maker} {product}".strip()
    return UsbModem(
        unique_id=f"usb:{vid.upper()}:{pid.upper()}:{which}",
        name=name or f"USB modem {vid.upper()}:{pid.upper()}",
        ports=tuple(ports),
        devices=frozenset(os.path.realpath(port) for port in ports),
    )


def holds_modem(entry_ports: Iterable[str], modem: UsbModem) -> bool:
    """Tell whether an entry's port is one of the modem's ports (by path or by the device behind it; blocking)."""
    return any(port in modem.ports or os.path.realpath(port) in modem.devices for port in entry_ports)


def modem_entry_ports(hass: HomeAssistant) -> list[str]:
    """Return the ports of the modem entries."""
    return [
        str(entry.data[CONF_PORT])
        for entry in hass.config_entries.async_entries(DOMAIN, include_ignore=False)
        if entry.data.get(CONF_PROVIDER) == "modem" and CONF_PORT in entry.data
    ]


async def async_find_command_port(ports: Iterable[str]) -> str | None:
    """Return the first port that answers AT with OK, trying the one discovered first."""
    for port in ports:
        if await async_answers_at(port):
            return port
    return None


async def async_modem_schema(hass: HomeAssistant) -> vol.Schema:
    """Return the modem form: the ports found to choose from (or any path typed), baud rate, PIN, SMS centre."""
    ports = await hass.async_add_executor_job(scan_ports)
    return _schema(
        SelectSelector(SelectSelectorConfig(options=ports, mode=SelectSelectorMode.DROPDOWN, custom_value=True))
    )


def normalize_modem(data: dict[str, Any]) -> dict[str, str]:
    """Tidy a modem form: a port path, a whole baud rate, a PIN of digits, an SMS centre in international form."""
    data[CONF_PORT] = str(data.get(CONF_PORT, "")).strip()
    if not data[CONF_PORT]:
        return {CONF_PORT: "no_port"}
    try:
        baudrate = int(str(data.get(CONF_BAUDRATE, DEFAULT_BAUDRATE)).strip())
    except ValueError:
        return {CONF_BAUDRATE: "invalid_baudrate"}
    if not 300 <= baudrate <= 4_000_000:  # noqa: PLR2004 - what serial ports offer
        return {CONF_BAUDRATE: "invalid_baudrate"}
    data[CONF_BAUDRATE] = baudrate
    if CONF_PIN in data:
        pin = str(data[CONF_PIN]).strip()
        if not (pin.isdigit() and 4 <= len(pin) <= 8):  # noqa: PLR2004 - TS 31.101: a PIN has 4 to 8 digits
            return {CONF_PIN: "invalid_pin"}
        data[CONF_PIN] = pin
    if CONF_SMSC in data:
        smsc = "".join(char for char in str(data[CONF_SMSC]) if char.isdigit() or char == "+")
        if smsc.startswith("00"):
            smsc = f"+{smsc[2:]}"
        if not (smsc.startswith("+") and 6 <= len(smsc) <= 16):  # noqa: PLR2004 - E.164 lengths
            return {CONF_SMSC: "invalid_smsc"}
        data[CONF_SMSC] = smsc
    return {}
