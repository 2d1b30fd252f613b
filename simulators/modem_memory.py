"""What the simulated modem keeps and how it tells of it: message storages (AT+CPMS) and indications (AT+CNMI).

TS 27.005 §3.2.2 and §3.4.1. AT+CMGR, AT+CMGL and AT+CMGD act on <mem1>; received SMS are stored in <mem3> and
announced with its name (`+CMTI: "SM",3`); with AT+CNMI's <ds> 2 a status report is stored too (`+CDSI: "SR",1`).
Which storages and settings a modem takes differs by model: `ModemProfile` holds what one answers.

Two profiles:
- `sim900`: the simulator's modem so far (SIMCom SIM900 identity): every storage of SM, ME and SR for reading,
  SM everywhere after power-on, and every AT+CNMI setting. Its AT+CNMI=? and AT+CPMS=? lists are assumptions
  (27.005's full ranges), not a transcript.
- `mc75i`: a Cinterion MC75i as gammu's logs show it (gammu issue 1206, pull request 1207, 2026-09):
  `AT+CPMS=?` answers ("ME","SM","MT"),("ME","SM","MT"),("SM","MT") and `AT+CPMS?` "ME",..,"ME",..,"SM",..:
  received SMS go to the SIM while reading is from the modem's memory. `AT+CNMI=?` answers
  (0-3),(0,1),(0,2,3),(0,2),(1): no status reports shown at once (<ds> 1) and only <bfr> 1, and
  `AT+CNMI=2,1,0,2,0` is refused with +CMS ERROR: 538 while `AT+CNMI=2,1,0,2` and `2,1,0,2,1` are taken.
  Where it stores status reports (<ds> 2) is not in those logs: the SIM here (an assumption).
A storage a profile does not take is refused with +CMS ERROR: 302 (an assumption: modems differ).

Message service (AT+CSMS, §3.2.1): with <service> 0 the modem acknowledges to the network what it shows at once
(+CMT, +CDS); with 1 it waits for AT+CNMA, and without one in time it "shall automatically disable routing to TE
by setting both <mt> and <ds> values of +CNMI to zero" (27.005's text, as a Maxon modem's manual quotes it); a
Motorola G24 also keeps the unacknowledged report in its storage (its manual: 60 s, then <ds> 0). The simulator
does both after `ack_timeout`. Both profiles take <service> 0 and 1 and start at 0 (an assumption); a modem left
at 1 by another program is `csms = 1`. AT+CNMA with nothing to acknowledge is +CMS ERROR: 340.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CMS_OPERATION_NOT_ALLOWED = 302
CMS_INVALID_INDEX = 321
CMS_NO_ACK_EXPECTED = 340
# How many messages each storage holds (a profile may say otherwise)
CAPACITY = {"SM": 30, "ME": 100, "MT": 130, "SR": 30}


@dataclass(frozen=True, kw_only=True)
class ModemProfile:
    """What one modem model answers about storages and indications."""

    # +CGMI, +CGMM and +CGMR
    identity: dict[str, str]
    # AT+CPMS=?: the storages <mem1>, <mem2> and <mem3> may each be
    storages: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]
    # AT+CPMS? after power-on
    preferred: tuple[str, str, str]
    # Where a status report goes with <ds> 2
    reports: str
    # AT+CNMI=?: the values each of <mode>, <mt>, <bm>, <ds>, <bfr> may take
    cnmi: tuple[frozenset[int], ...]
    # The +CMS ERROR code of a setting outside them (None: a bare ERROR)
    cnmi_refusal: int | None = None
    # How many messages each storage holds
    capacity: dict[str, int] = field(default_factory=lambda: dict(CAPACITY))
    # AT+CSMS=?: the message services it takes
    services: frozenset[int] = frozenset({0, 1})


def _values(*ranges: range | int) -> frozenset[int]:
    """Make a set of allowed values from ranges and single numbers."""
    return frozenset(value for item in ranges for value in (item if isinstance(item, range) else (item,)))


# What a SIMCom SIM900 answers to +CGMI, +CGMM and +CGMR (the transcript of m2msupport.net's AT
# Command Tester, "SIM900 diagnostics"): the revision keeps its "Revision:" prefix
SIM900_IDENTITY = {"+CGMI": "SIMCOM_Ltd", "+CGMM": "SIMCOM_SIM900", "+CGMR": "Revision:1137B03SIM900M64_ST_MMS"}
PROFILES: dict[str, ModemProfile] = {
    "sim900": ModemProfile(
        identity=SIM900_IDENTITY,
        storages=(("SM", "ME", "SR"), ("SM", "ME"), ("SM", "ME")),
        preferred=("SM", "SM", "SM"),
        reports="SR",
        cnmi=(_values(range(4)), _values(range(4)), _values(range(4)), _values(range(3)), _values(0, 1)),
    ),
    "mc75i": ModemProfile(
        identity={"+CGMI": "Cinterion", "+CGMM": "MC75i", "+CGMR": "REVISION 04.004"},
        storages=(("ME", "SM", "MT"), ("ME", "SM", "MT"), ("SM", "MT")),
        preferred=("ME", "ME", "SM"),
        reports="SM",
        cnmi=(_values(range(4)), _values(0, 1), _values(0, 2, 3), _values(0, 2), _values(1)),
        cnmi_refusal=538,
        # AT+CPMS? in gammu's log: "ME",0,25,"ME",0,25,"SM",0,20
        capacity={"ME": 25, "SM": 20, "MT": 45},
    ),
}


def _ranges(values: frozenset[int]) -> str:
    """Write a set of values as AT+CNMI=? does: (0-3), (0,2)."""
    ordered = sorted(values)
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):  # noqa: PLR2004 - a run
        return f"({ordered[0]}-{ordered[-1]})"
    return "(" + ",".join(map(str, ordered)) + ")"


@dataclass
class MessageMemory:
    """The storages of one modem, which of them is read, written and received into, and its AT+CNMI limits."""

    profile: ModemProfile
    slots: dict[str, dict[int, str]] = field(default_factory=dict)
    mem: list[str] = field(default_factory=list)
    # AT+CSMS's <service>: 1 wants AT+CNMA for each +CMT and +CDS; what was shown and waits for it
    csms: int = 0
    unacknowledged: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Empty storages, chosen as after power-on."""
        names = {name for group in self.profile.storages for name in group} | {self.profile.reports}
        self.slots = {name: {} for name in sorted(names)}
        self.mem = list(self.profile.preferred)

    # Storing

    @property
    def received(self) -> dict[int, str]:
        """The storage received SMS go to now (<mem3>)."""
        return self.slots[self.mem[2]]

    def store(self, storage: str, pdu: str) -> int:
        """Keep a PDU in the first free slot of a storage (MT: the SIM's); return its index."""
        box = self.slots["SM" if storage == "MT" else storage]
        slot = next(index for index in range(1, len(box) + 2) if index not in box)
        box[slot] = pdu
        return slot

    # AT+CPMS

    def test(self) -> str:
        """Answer AT+CPMS=?."""
        return "+CPMS: " + ",".join(
            "(" + ",".join(f'"{name}"' for name in group) + ")" for group in self.profile.storages
        )

    def query(self) -> str:
        """Answer AT+CPMS?."""
        return "+CPMS: " + ",".join(f'"{name}",{self._used(name)},{self.profile.capacity[name]}' for name in self.mem)

    def choose(self, value: str) -> str | int:
        """AT+CPMS=<mem1>[,<mem2>[,<mem3>]]: the answer line, or the +CMS ERROR code of a storage it does not take."""
        names = [item.strip().strip('"').upper() for item in value.split(",")]
        if not 1 <= len(names) <= 3 or any(  # noqa: PLR2004 - three storages
            name not in allowed for name, allowed in zip(names, self.profile.storages, strict=False)
        ):
            return CMS_OPERATION_NOT_ALLOWED
        self.mem[: len(names)] = names
        return "+CPMS: " + ",".join(f"{self._used(name)},{self.profile.capacity[name]}" for name in self.mem)

    def _used(self, name: str) -> int:
        """How many messages a storage holds (MT: the SIM's and the modem's)."""
        if name == "MT":
            return len(self.slots.get("SM", {})) + len(self.slots.get("ME", {}))
        return len(self.slots.get(name, {}))

    # Reading and deleting (<mem1>)

    def _read_box(self) -> dict[int, str]:
        """Return the storage read and deleted from (<mem1>; MT reads the SIM's)."""
        return self.slots["SM" if self.mem[0] == "MT" else self.mem[0]]

    def read(self, slot: int) -> str | None:
        """Return the PDU at an index of <mem1>, None if it holds none."""
        return self._read_box().get(slot)

    def delete(self, slot: int) -> bool:
        """Delete a message of <mem1>; False if it holds none there."""
        return self._read_box().pop(slot, None) is not None

    def listing(self) -> list[tuple[int, str]]:
        """Every message of <mem1>, by index."""
        return sorted(self._read_box().items())

    def answer(self, body: str) -> tuple[str, ...] | int | None:  # noqa: PLR0911 - one return per command
        """Answer a storage command (what follows AT): its lines, a +CMS ERROR code, or None if it is not one."""
        name, _, value = body.partition("=")
        if name == "+CMGL":
            return tuple(f"+CMGL: {slot},0,,{tpdu_length(pdu)}\r\n{pdu}" for slot, pdu in self.listing())
        if body == "+CPMS?":
            return (self.query(),)
        if name == "+CPMS" and value:
            answer = self.test() if value == "?" else self.choose(value)
            return answer if isinstance(answer, int) else (answer,)
        if body == "+CSMS?" or (name == "+CSMS" and value):
            return self._service(value)
        if name == "+CNMA":
            return () if self.acknowledge() else CMS_NO_ACK_EXPECTED
        if name in ("+CMGR", "+CMGD") and value:
            slot = int(value.split(",")[0]) if value.split(",")[0].isdigit() else -1
            pdu = self.read(slot)
            if pdu is None:
                return CMS_INVALID_INDEX
            if name == "+CMGD":
                self.delete(slot)
                return ()
            return (f"+CMGR: 0,,{tpdu_length(pdu)}\r\n{pdu}",)
        return None

    def _service(self, value: str) -> tuple[str, ...] | int:
        """AT+CSMS=?, AT+CSMS? and AT+CSMS=<service>."""
        if value == "?":
            return ("+CSMS: (" + ",".join(map(str, sorted(self.profile.services))) + ")",)
        if not value:
            return (f"+CSMS: {self.csms},1,1,1",)
        if not value.isdigit() or int(value) not in self.profile.services:
            return CMS_OPERATION_NOT_ALLOWED
        self.csms = int(value)
        return ("+CSMS: 1,1,1",)

    def expect_ack(self, storage: str, pdu: str) -> bool:
        """Note a PDU just shown (+CMT, +CDS); True when it waits for AT+CNMA (<service> 1)."""
        if self.csms != 1:
            return False
        self.unacknowledged.append((storage, pdu))
        return True

    def acknowledge(self) -> bool:
        """AT+CNMA: the oldest PDU shown is acknowledged; False when none waited."""
        if not self.unacknowledged:
            return False
        del self.unacknowledged[0]
        return True

    def lapse(self) -> bool:
        """Store what still waits when the time for AT+CNMA ran out; True when something did."""
        lapsed, self.unacknowledged = self.unacknowledged, []
        for storage, pdu in lapsed:
            self.store(storage, pdu)
        return bool(lapsed)

    # AT+CNMI

    def cnmi_ranges(self) -> str:
        """Answer AT+CNMI=?."""
        return "+CNMI: " + ",".join(_ranges(values) for values in self.profile.cnmi)

    def set_indications(self, value: str, now: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[str, ...] | int | None]:
        """AT+CNMI=<value>: the setting after it, and the answer (lines, a +CMS ERROR code, None for ERROR).

        AT+CNMI=? lists what the model takes; a setting outside it is refused as the model refuses it and
        changes nothing; fields left out keep their values.
        """
        if value == "?":
            return now, (self.cnmi_ranges(),)
        fields = [int(item) if item.strip().isdigit() else -1 for item in value.split(",")]
        if len(fields) > len(self.profile.cnmi) or any(
            item not in allowed for item, allowed in zip(fields, self.profile.cnmi, strict=False)
        ):
            return now, self.profile.cnmi_refusal
        return (*fields, *now[len(fields) :]), ()


def tpdu_length(pdu: str) -> int:
    """Give the length +CMGR and +CMGL show: the PDU's octets after the SMS centre's address."""
    return (len(pdu) - 2) // 2 - int(pdu[:2], 16)
