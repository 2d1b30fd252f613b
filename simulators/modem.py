"""A GSM modem on a pseudo-terminal: AT commands in PDU mode (3GPP TS 27.005/27.007), SIM and network faults.

The port is the slave side of a pty (`ModemSimulator.port`, or a stable symlink given as `link`, like a
/dev/serial/by-id path). Submitted PDUs are decoded with the integration's codec and recorded as messages
(one per concatenated message); status reports (+CDS, +CDSI) and inbound SMS (+CMT, +CMTI) go out unsolicited.
What it stores and which AT+CPMS and AT+CNMI settings it takes follow a model's profile (modem_memory).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from enum import StrEnum

from aiohttp import web

from custom_components.sms_alerts.api.pdu import (
    PduError,
    Submit,
    decode_pdu,
)

from .base import Simulator
from .memory_wire import MemoryWire
from .modem_memory import CMS_OPERATION_NOT_ALLOWED, PROFILES, MessageMemory
from .modem_sent import PartCollector, SentPart, deliver_pdus, status_report
from .pty_wire import PtyWire

DEFAULT_SMSC = "+491710760000"
# +CMS ERROR codes (TS 27.005 §3.2.5) and +CME ERROR codes (TS 27.007 §9.2)
CMS_INVALID_PDU = 304
CMS_SIM_NOT_INSERTED = 310
CMS_SIM_PIN_REQUIRED = 311
CMS_SIM_PUK_REQUIRED = 316
CMS_NO_NETWORK = 331
CME_SIM_NOT_INSERTED = 10
CME_SIM_PIN_REQUIRED = 11
CME_SIM_PUK_REQUIRED = 12
CME_INCORRECT_PASSWORD = 16
# +CREG/+CEREG <stat>: 1 registered (home), 2 searching, 0 not registered and not searching
_REG_HOME = 1
_REG_SEARCHING = 2
_REG_DENIED = 3
_REG_NONE = 0
_RSSI_UNKNOWN = 99
_CNMI_DEFAULT = (0, 0, 0, 0, 0)
_CNMI_MT_STORE_AND_TELL = 1
_CNMI_MT_FORWARD = 2
_CNMI_DS_FORWARD = 1
_CNMI_DS_STORE_AND_TELL = 2
_SET = re.compile(r"^\+(?P<name>[A-Z]+)=(?P<value>.*)$")


class ModemFault(StrEnum):
    """Ways the simulated modem can be told to misbehave."""

    NO_SIM = "no_sim"
    PIN_REQUIRED = "pin_required"
    NO_NETWORK = "no_network"
    # Three wrong PINs: the SIM wants its PUK (+CPIN: SIM PUK)
    SIM_PUK = "sim_puk"
    # The network refuses the SIM (+CREG/+CEREG 3)
    REGISTRATION_DENIED = "registration_denied"
    SLOW_NETWORK = "slow_network"
    # Close the port after the next PDU's Ctrl-Z, before any answer: a USB modem pulled out mid-send
    UNPLUG = "unplug"


# Lines real modems write unasked on the AT port, in the middle of other answers. Huawei sticks: signal, mode and
# service reports (ModemManager's Huawei plugin filters ^RSSI, ^MODE, ^SIMST, ^SRVST and ^HCSQ out of answers:
# src/plugins/huawei/mm-broadband-modem-huawei.c); SIMCom SIM800 at start and on registration changes; a call to
# the alert SIM that rings and is hung up (ModemManager reads RING and NO CARRIER as call events,
# src/mm-broadband-modem.c)
CHATTER: dict[str, tuple[str, ...]] = {
    "none": (),
    "huawei": ("^RSSI: 17", '^HCSQ: "LTE",48,51,116,24', "^MODE: 5,4", "^SRVST: 2", "^SIMST: 1"),
    "sim800": ("+CREG: 1", "SMS Ready", "Call Ready", "UNDER-VOLTAGE WARNNING"),
    "call": ("RING", '+CLIP: "+491709999999",145,"",0,"",0', "NO CARRIER"),
}


class ModemSimulator(Simulator):
    """A 27.005 modem in PDU mode behind a pty; the aiohttp app serves only the /_sim/ control routes."""

    name = "modem"

    def __init__(
        self,
        *,
        pin: str | None = None,
        smsc: str = DEFAULT_SMSC,
        link: str | None = None,
        memory: bool = False,
        profile: str = "sim900",
    ) -> None:
        """Set up a modem with a SIM that needs `pin` (None: no PIN), registered, good signal.

        `memory`: an in-memory port (simulators.memory_wire) instead of a pty, for systems without /dev/pts.
        `profile`: the model whose storages and AT+CNMI settings it has (modem_memory.PROFILES).
        """
        super().__init__()
        self.pin = pin
        self.pin_entered = pin is None
        self.sim_present = True
        self.puk_required = False
        self.registration = _REG_HOME
        self.rssi = 20
        # Its storages, the settings it takes, its answers to +CGMI, +CGMM and +CGMR (one left out: ERROR), +CNMI
        self.memory, self.identity, self.cnmi = _power_on(profile)
        self.smsc = smsc
        self.pdu_mode = True
        self.cmee = 0
        # Seconds from Ctrl-Z to +CMGS, from +CMGS to the status report, and for AT+CNMA after a +CMT or +CDS
        self.send_delay = 0.0
        self.report_delay = 0.05
        self.ack_timeout = 60.0
        # TP-ST of the status reports: 0x00 delivered; 0x30 still trying; 0x41 incompatible destination
        self.report_status = 0x00
        # Status reports held back (the SMS centre reports later, e.g. while Home Assistant restarts)
        self.hold_reports = False
        self.held_reports: list[SentPart] = []
        self.next_reference = 0
        self.parts: list[SentPart] = []
        self.unplug_next_send = False
        # Unsolicited lines written before each answer, and between a PDU and its +CMGS (CHATTER's presets)
        self.chatter: tuple[str, ...] = ()
        self._refusals: list[int] = []
        self._sent = PartCollector(self.name)
        self._inbound_reference = 0
        self._expected_length = 0
        self.wire = MemoryWire(self._handle, link=link) if memory else PtyWire(self._handle, link=link)

    # Life of the port ----------------------------------------------------------------------------------------

    async def start(self) -> str:
        """Open the port; return its path."""
        return await self.wire.start()

    def unplug(self) -> None:
        """Pull the cable: the port closes and goes away."""
        self.wire.unplug()

    async def replug(self) -> str:
        """Plug the modem back in: a new pty (the same `link`, if one was given); return the port's path."""
        self.wire.unplug()
        return await self.wire.start()

    async def stop(self) -> None:
        """Close the port and wait for the modem's tasks to end."""
        await self.wire.stop()

    @property
    def port(self) -> str:
        """The path of the port now (a /dev/pts path)."""
        return self.wire.port

    @property
    def path(self) -> str:
        """The path a host opens: the stable link where one was given, else the port."""
        return self.wire.link or self.wire.port

    @property
    def inbox(self) -> dict[int, str]:
        """Received SMS stored and not deleted yet, by index (in the storage they arrive in)."""
        return self.memory.received

    def use_profile(self, name: str) -> None:
        """Become another model, as after power-on: its storages (empty), settings and identity."""
        self.memory, self.identity, self.cnmi = _power_on(name)

    # Faults ---------------------------------------------------------------------------------------------------

    def inject(self, fault: ModemFault | str, *, delay: float = 5.0) -> None:
        """Misbehave in one of the ModemFault ways; `delay` is how long a send takes on a slow network."""
        match ModemFault(fault):
            case ModemFault.NO_SIM:
                self.sim_present = False
            case ModemFault.PIN_REQUIRED:
                self.pin = self.pin or "0000"
                self.pin_entered = False
            case ModemFault.NO_NETWORK:
                self.registration = _REG_SEARCHING
            case ModemFault.SIM_PUK:
                self.puk_required = True
            case ModemFault.REGISTRATION_DENIED:
                self.registration = _REG_DENIED
            case ModemFault.SLOW_NETWORK:
                self.send_delay = delay
            case ModemFault.UNPLUG:
                self.unplug_next_send = True

    def refuse(self, code: int, *, times: int = 1) -> None:
        """Answer the next `times` sends with +CMS ERROR: `code` after their PDU (e.g. 500, 42 congestion)."""
        self._refusals.extend([code] * times)

    def recover(self) -> None:
        """Behave again: SIM in and unlocked, registered, quick, no refusals."""
        super().recover()
        self.sim_present = True
        self.pin_entered = True
        self.puk_required = False
        self.registration = _REG_HOME
        self.send_delay = 0.0
        self.unplug_next_send = False
        self._refusals.clear()

    # Inbound --------------------------------------------------------------------------------------------------

    def deliver(self, sender: str, text: str, *, when: dt.datetime | None = None) -> list[str]:
        """Let an SMS arrive from `sender`; per AT+CNMI it is shown (+CMT) or stored and announced (+CMTI).

        Return the SMS-DELIVER PDUs (one per part).
        """
        self._inbound_reference = (self._inbound_reference + 1) % 256
        pdus = deliver_pdus(
            sender, text, when=when or dt.datetime.now(dt.UTC), reference=self._inbound_reference, smsc=self.smsc
        )
        for pdu in pdus:
            storage, mode = self.memory.mem[2], self.cnmi[1]
            if mode == _CNMI_MT_FORWARD:
                self._write(f"\r\n+CMT: ,{pdu.length}\r\n{pdu.hex}\r\n")
                self._shown(storage, pdu.hex)
                continue
            slot = self.memory.store(storage, pdu.hex)
            if mode == _CNMI_MT_STORE_AND_TELL:
                self._write(f'\r\n+CMTI: "{storage}",{slot}\r\n')
        return [pdu.hex for pdu in pdus]

    def _shown(self, storage: str, pdu: str) -> None:
        """Note a +CMT or +CDS that went out: with <service> 1 it wants AT+CNMA within `ack_timeout`."""
        if self.memory.expect_ack(storage, pdu):
            self.wire.spawn(self._ack_lapse())

    async def _ack_lapse(self) -> None:
        """No AT+CNMA in time: what was shown is kept in storage, and routing stops (<mt> and <ds> 0)."""
        await asyncio.sleep(self.ack_timeout)
        if self.memory.lapse():
            self.cnmi = (self.cnmi[0], 0, self.cnmi[2], 0, *self.cnmi[4:])

    async def _handle(self, kind: str, text: str) -> None:
        """Answer a command line or a PDU."""
        if kind == "line":
            self._command(text)
        elif kind == "pdu":
            await self._submit(text)
        else:
            self._write("\r\nOK\r\n")

    def _write(self, text: str) -> None:
        """Send text to the host."""
        self.wire.write(text)

    # Commands -------------------------------------------------------------------------------------------------

    def _ok(self, *lines: str) -> None:
        """Answer information lines, then OK."""
        self._write("".join(f"\r\n{line}\r\n" for line in lines) + "\r\nOK\r\n")

    def _answer(self, answer: tuple[str, ...] | int | None) -> None:
        """Answer information lines and OK, a +CMS ERROR (a code), or a bare ERROR (None)."""
        if answer is None:
            self._write("\r\nERROR\r\n")
        else:
            self._cms(answer) if isinstance(answer, int) else self._ok(*answer)

    def _cme(self, code: int) -> None:
        """Answer a +CME ERROR (or plain ERROR when AT+CMEE=0)."""
        self._write(f"\r\n+CME ERROR: {code}\r\n" if self.cmee else "\r\nERROR\r\n")

    def _cms(self, code: int) -> None:
        """Answer a +CMS ERROR."""
        self._write(f"\r\n+CMS ERROR: {code}\r\n")

    def _sim_problem(self) -> int | None:
        """Return the +CME code of a SIM that cannot be used yet, if any."""
        if not self.sim_present:
            return CME_SIM_NOT_INSERTED
        if self.puk_required:
            return CME_SIM_PUK_REQUIRED
        if not self.pin_entered:
            return CME_SIM_PIN_REQUIRED
        return None

    def _command(self, line: str) -> None:  # noqa: PLR0911, PLR0912, C901 - one branch per command
        """Answer one command line (after the chatter a real modem writes unasked, if any)."""
        upper = line.upper()
        if not upper.startswith("AT"):
            return
        self._chatter()
        body = upper[2:]
        if body in ("", "Z", "&F"):
            self._ok()
            return
        if body in ("E0", "E1", "E"):
            self.wire.echo = body == "E1"
            self._ok()
            return
        if body == "I":
            self._ok(*self.identity.values())
            return
        if body in ("+CGMI", "+CGMM", "+CGMR"):
            if body in self.identity:
                self._ok(self.identity[body])
            else:
                self._write("\r\nERROR\r\n")
            return
        if body == "+CPIN?":
            if not self.sim_present:
                self._cme(CME_SIM_NOT_INSERTED)
            else:
                self._ok(
                    "+CPIN: SIM PUK" if self.puk_required else f"+CPIN: {'READY' if self.pin_entered else 'SIM PIN'}"
                )
            return
        if body == "+CSQ":
            signal = self.rssi if self.registration == _REG_HOME and self._sim_problem() is None else _RSSI_UNKNOWN
            self._ok(f"+CSQ: {signal},99")
            return
        if body in ("+CREG?", "+CEREG?"):
            stat = self.registration if self._sim_problem() is None else _REG_NONE
            self._ok(f"{body[:-1]}: 0,{stat}")
            return
        if body == "+CMGF?":
            self._ok(f"+CMGF: {0 if self.pdu_mode else 1}")
            return
        if body == "+CNMI?":
            self._ok("+CNMI: " + ",".join(map(str, self.cnmi)))
            return
        if body == "+CSCA?":
            self._ok(f'+CSCA: "{self.smsc}",145')
            return
        if (answer := self.memory.answer(body)) is not None:
            self._answer(answer)
            return
        match = _SET.match(body)
        if match is None:
            self._write("\r\nERROR\r\n")
            return
        self._setting(match["name"], line[len(match["name"]) + 4 :])

    def _setting(self, name: str, value: str) -> None:  # noqa: PLR0911, C901 - one branch per command
        """Answer an AT+NAME=value command (value as the host wrote it)."""
        value = value.strip()
        if name == "CPIN":
            pin = value.strip('"')
            if not self.sim_present:
                self._cme(CME_SIM_NOT_INSERTED)
            elif self.puk_required:
                self._cme(CME_SIM_PUK_REQUIRED)
            elif self.pin is not None and pin != self.pin:
                self._cme(CME_INCORRECT_PASSWORD)
            else:
                self.pin_entered = True
                self._ok()
            return
        if name == "CMGF":
            self.pdu_mode = value == "0"
            self._ok()
            return
        if name == "CMEE":
            self.cmee = int(value) if value.isdigit() else 0
            self._ok()
            return
        if name == "CNMI":
            self.cnmi, answer = self.memory.set_indications(value, self.cnmi)
            self._answer(answer)
            return
        if name == "CSCA":
            self.smsc = value.split(",")[0].strip('"') or self.smsc
            self._ok()
            return
        if name in ("CREG", "CEREG", "CSMS", "CSMP"):
            self._ok()
            return
        if name == "CMGS":
            self._start_send(value)
            return
        self._write("\r\nERROR\r\n")

    async def _plug(self, plug: str | None) -> None:
        """Pull the cable (`out`) or plug it back in (`in`); anything else leaves it."""
        if plug == "out":
            self.unplug()
        elif plug == "in":
            await self.replug()

    def chat(self, preset: str) -> bool:
        """Write a preset of CHATTER before every answer from now on; False for an unknown one."""
        if preset not in CHATTER:
            return False
        self.chatter = CHATTER[preset]
        return True

    def _chatter(self) -> None:
        """Write the unsolicited lines of the chosen chatter, as a real modem does between and within answers."""
        for line in self.chatter:
            self._write(f"\r\n{line}\r\n")

    # Sending --------------------------------------------------------------------------------------------------

    def _start_send(self, value: str) -> None:
        """AT+CMGS=<length>: refuse as the SIM or network requires, else prompt for the PDU."""
        if not self.sim_present:
            self._cms(CMS_SIM_NOT_INSERTED)
        elif self.puk_required:
            self._cms(CMS_SIM_PUK_REQUIRED)
        elif not self.pin_entered:
            self._cms(CMS_SIM_PIN_REQUIRED)
        elif self.registration != _REG_HOME:
            self._cms(CMS_NO_NETWORK)
        elif not self.pdu_mode:
            self._cms(CMS_OPERATION_NOT_ALLOWED)
        elif not value.isdigit() or not 0 < int(value) <= 176:  # noqa: PLR2004 - the longest TPDU
            self._cms(CMS_INVALID_PDU)
        else:
            self._expected_length = int(value)
            self.wire.expect_pdu()
            self._write("\r\n> ")

    async def _submit(self, pdu: str) -> None:
        """Take a PDU after Ctrl-Z: check it, wait as the network does, answer +CMGS or +CMS ERROR."""
        if self.unplug_next_send:
            self.unplug_next_send = False
            self.unplug()
            return
        try:
            submit = decode_pdu(pdu)
            smsc_octets = int(pdu[:2], 16) + 1
        except (PduError, ValueError):
            self._cms(CMS_INVALID_PDU)
            return
        if not isinstance(submit, Submit) or len(pdu) // 2 - smsc_octets != self._expected_length:
            self._cms(CMS_INVALID_PDU)
            return
        if self.send_delay:
            await asyncio.sleep(self.send_delay)
        self._chatter()
        if self._refusals:
            self._cms(self._refusals.pop(0))
            return
        reference = self.next_reference
        self.next_reference = (reference + 1) % 256
        part = SentPart(reference=reference, submit=submit, pdu=pdu)
        self.parts.append(part)
        self._ok(f"+CMGS: {reference}")
        if (message := self._sent.add(part)) is not None:
            self.record_message(message)
        if submit.status_report and self.hold_reports:
            self.held_reports.append(part)
        elif submit.status_report and self.cnmi[3] in (_CNMI_DS_FORWARD, _CNMI_DS_STORE_AND_TELL):
            self.wire.spawn(self._report(part))

    def release_reports(self, count: int | None = None) -> None:
        """Send the first `count` status reports held back (None: all, and hold no more), in the order sent."""
        if count is None:
            held, self.held_reports = self.held_reports, []
            self.hold_reports = False
        else:
            held, self.held_reports = self.held_reports[:count], self.held_reports[count:]
        for part in held:
            self.wire.spawn(self._report(part))

    async def _report(self, part: SentPart) -> None:
        """Send the status report of a part after `report_delay`: shown (+CDS) or stored and announced (+CDSI)."""
        await asyncio.sleep(self.report_delay)
        report = status_report(part, status=self.report_status, smsc=self.smsc)
        storage = self.memory.profile.reports
        if self.cnmi[3] == _CNMI_DS_STORE_AND_TELL:
            self._write(f'\r\n+CDSI: "{storage}",{self.memory.store(storage, report.hex)}\r\n')
        else:
            self._write(f"\r\n+CDS: {report.length}\r\n{report.hex}\r\n")
            self._shown(storage, report.hex)

    def routes(self) -> list[web.RouteDef]:
        """Serve no provider routes (the modem speaks on its pty), only the controls of `control_routes`."""
        return control_routes(self)


def _power_on(name: str) -> tuple[MessageMemory, dict[str, str], tuple[int, ...]]:
    """Give the storages, identity and AT+CNMI setting of a model after power-on."""
    memory = MessageMemory(PROFILES[name])
    return memory, dict(memory.profile.identity), _CNMI_DEFAULT


def control_routes(self: ModemSimulator) -> list[web.RouteDef]:
    """Serve the simulated modem's controls, for scripts/develop and tests.

    POST /_sim/inbound?from=...&text=... lets an SMS arrive; POST /_sim/modem?fault=no_sim|pin_required|
    sim_puk|no_network|registration_denied|slow_network|unplug|none misbehaves (none: recover);
    POST /_sim/modem?plug=out|in pulls the cable or plugs it back in; ?chatter=huawei|sim800|call|none
    writes those unsolicited lines before every answer (CHATTER); ?profile=sim900|mc75i plugs in another
    model (modem_memory.PROFILES).
    """

    async def inbound(request: web.Request) -> web.Response:
        sender, text = request.query.get("from", ""), request.query.get("text", "")
        if not sender or not text:
            return web.Response(status=400, text="from and text are required")
        return web.json_response({"pdus": self.deliver(sender, text)})

    async def control(request: web.Request) -> web.Response:
        fault, plug = request.query.get("fault"), request.query.get("plug")
        chatter, profile = request.query.get("chatter"), request.query.get("profile")
        if chatter is not None and not self.chat(chatter):
            return web.Response(status=400, text=f"unknown chatter; one of {', '.join(CHATTER)}")
        if profile is not None and profile not in PROFILES:
            return web.Response(status=400, text=f"unknown profile; one of {', '.join(PROFILES)}")
        if profile is not None:
            self.use_profile(profile)
            await self.replug()
        try:
            if fault == "none":
                self.recover()
            elif fault:
                self.inject(fault)
        except ValueError:
            return web.Response(status=400, text=f"unknown fault; one of {', '.join(ModemFault)}, none")
        await self._plug(plug)
        return web.Response(text="OK")

    return [web.post("/_sim/inbound", inbound), web.post("/_sim/modem", control)]
