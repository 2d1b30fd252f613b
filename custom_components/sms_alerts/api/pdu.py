"""SMS PDUs for a modem in PDU mode (3GPP TS 23.040 / 27.005): SMS-SUBMIT out, SMS-DELIVER and status reports in.

Pure and synchronous. The modem takes `AT+CMGS=<length>` with the length of the TPDU (the SMSC octets not
counted), then the hex of SMSC field and TPDU, then Ctrl-Z.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from .pdu_fields import (
    Alphabet,
    Concat,
    PduError,
    alphabet_of,
    decode_address,
    decode_smsc,
    decode_timestamp,
    decode_udh,
    encode_address,
    encode_smsc,
    encode_timestamp,
    encode_udh,
    gsm7_decode,
    gsm7_encode,
    pack_septets,
    unpack_septets,
)

__all__ = [
    "Alphabet",
    "Concat",
    "Deliver",
    "EncodedPdu",
    "PduError",
    "ReportStatus",
    "StatusReport",
    "Submit",
    "decode_pdu",
    "encode_deliver",
    "encode_message",
    "encode_status_report",
    "encode_submit",
    "split_text",
]

# Octets of user data in one SMS (TS 23.040 §9.2.3.16: 140 octets, 160 septets)
MAX_USER_DATA = 140
_BMP_LAST = 0xFFFF
_ESC_CHAR = "\x1b"

# First octet bits (TS 23.040 §9.2.3.1 to §9.2.3.5, §9.2.3.23, §9.2.3.26)
_MTI_MASK = 0x03
_MTI_DELIVER = 0x00
_MTI_SUBMIT = 0x01
_MTI_STATUS_REPORT = 0x02
_RD = 0x04
_MMS = 0x04
_VPF_MASK = 0x18
_VPF_RELATIVE = 0x10
_VPF_ENHANCED = 0x08
_VPF_ABSOLUTE = 0x18
_SRR = 0x20
_UDHI = 0x40
_VP_SIZES = {0x00: 0, _VPF_RELATIVE: 1, _VPF_ENHANCED: 7, _VPF_ABSOLUTE: 7}
_DCS_GSM7 = 0x00
_DCS_UCS2 = 0x08

# Status classes of TP-ST (TS 23.040 §9.2.3.15), bits 6-5
_ST_CLASS_MASK = 0x60
_ST_COMPLETED = 0x00
_ST_TRYING = 0x20
_ST_RESERVED_FROM = 0x80


class ReportStatus(StrEnum):
    """What a status report says about the message."""

    DELIVERED = "delivered"
    PENDING = "pending"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class EncodedPdu:
    """One PDU ready for the modem: its hex and the TPDU length that AT+CMGS takes."""

    hex: str
    length: int


@dataclass(frozen=True, kw_only=True)
class Submit:
    """A decoded SMS-SUBMIT (what a modem simulator receives)."""

    smsc: str | None
    reference: int
    number: str
    text: str
    alphabet: Alphabet
    status_report: bool
    validity: dt.timedelta | None
    concat: Concat | None


@dataclass(frozen=True, kw_only=True)
class Deliver:
    """A decoded SMS-DELIVER: an inbound message or one part of it."""

    smsc: str | None
    sender: str
    text: str
    alphabet: Alphabet
    timestamp: dt.datetime
    concat: Concat | None
    status_report_indicated: bool


@dataclass(frozen=True, kw_only=True)
class StatusReport:
    """A decoded SMS-STATUS-REPORT: what became of the message with TP-MR `reference`."""

    smsc: str | None
    reference: int
    recipient: str
    timestamp: dt.datetime
    discharged: dt.datetime
    status: int

    @property
    def outcome(self) -> ReportStatus:
        """Delivered, still being tried, or given up on (reserved values count as given up)."""
        return report_outcome(self.status)


def report_outcome(status: int) -> ReportStatus:
    """Read a TP-ST octet: 0x00-0x1F completed, 0x20-0x3F still trying, 0x40-0x7F failed (§9.2.3.15)."""
    if status >= _ST_RESERVED_FROM:
        # Reserved: a message nobody confirms is treated as not delivered, so the alert can take another path
        return ReportStatus.FAILED
    kind = status & _ST_CLASS_MASK
    if kind == _ST_COMPLETED:
        return ReportStatus.DELIVERED
    if kind == _ST_TRYING:
        return ReportStatus.PENDING
    return ReportStatus.FAILED


def is_gsm7(text: str) -> bool:
    """Tell whether a text goes in the GSM 7-bit default alphabet (a raw ESC does not count as a character)."""
    if _ESC_CHAR in text:
        return False
    try:
        gsm7_encode(text)
    except PduError:
        return False
    return True


def _cost(char: str, alphabet: Alphabet) -> int:
    """Septets (2 for the extension table) or UTF-16 units (2 outside the BMP) of one character."""
    if alphabet is Alphabet.GSM7:
        return len(gsm7_encode(char))
    return 2 if ord(char) > _BMP_LAST else 1


def _room(alphabet: Alphabet, header: int) -> int:
    """Septets or UTF-16 units that fit beside a header of `header` octets."""
    octets = MAX_USER_DATA - header
    return octets * 8 // 7 if alphabet is Alphabet.GSM7 else octets // 2


def split_text(text: str, *, wide: bool = False) -> tuple[Alphabet, list[str]]:
    """Choose the alphabet and cut a text into SMS parts: 160/153 septets or 70/67 UTF-16 units.

    A 16-bit reference (`wide`) makes the header one octet longer: 152 septets or 66 units a part. An
    extension character (two septets) or a character outside the BMP (a surrogate pair) is never split.
    """
    alphabet = Alphabet.GSM7 if is_gsm7(text) else Alphabet.UCS2
    costs = [_cost(char, alphabet) for char in text]
    if sum(costs) <= _room(alphabet, 0):
        return alphabet, [text]
    per_part = _room(alphabet, 7 if wide else 6)
    parts: list[str] = []
    start = used = 0
    for index, cost in enumerate(costs):
        if used + cost > per_part:
            parts.append(text[start:index])
            start, used = index, 0
        used += cost
    parts.append(text[start:])
    return alphabet, parts


def _user_data(text: str, alphabet: Alphabet, concat: Concat | None) -> tuple[int, bytes]:
    """TP-UDL and TP-UD: the header, fill bits up to a septet boundary, then the text."""
    header = encode_udh(concat)
    if alphabet is Alphabet.GSM7:
        fill = (7 - len(header) * 8 % 7) % 7
        septets = gsm7_encode(text)
        length = (len(header) * 8 + fill) // 7 + len(septets)
        data = header + pack_septets(septets, fill)
    elif alphabet is Alphabet.UCS2:
        data = header + text.encode("utf-16-be", "surrogatepass")
        length = len(data)
    else:
        raise PduError("only GSM-7 and UCS-2 text are encoded")
    if len(data) > MAX_USER_DATA:
        raise PduError("text does not fit in one SMS")
    return length, data


def _read_user_data(data: bytes, offset: int, dcs: int, has_header: bool) -> tuple[str, Alphabet, Concat | None]:
    """Text, alphabet and concatenation of the TP-UDL and TP-UD at `offset`."""
    if offset >= len(data):
        raise PduError("PDU ends before the user data")
    alphabet = alphabet_of(dcs)
    length = data[offset]
    user_data = data[offset + 1 :]
    concat, header = None, 0
    if has_header:
        concat, _elements, header = decode_udh(user_data)
    if alphabet is Alphabet.GSM7:
        fill = (7 - header * 8 % 7) % 7
        skipped = (header * 8 + fill) // 7
        if length < skipped:
            raise PduError("user data shorter than its header")
        text = gsm7_decode(unpack_septets(user_data[header:], length - skipped, fill))
    else:
        body = user_data[header:length]
        if len(user_data) < length:
            raise PduError("user data shorter than its length says")
        text = body.decode("utf-16-be", "replace") if alphabet is Alphabet.UCS2 else body.decode("latin-1")
    return text, alphabet, concat


def _relative_validity(validity: dt.timedelta) -> int:
    """TP-VP relative (§9.2.3.12.1), rounded up to the next period the format can say; at most 63 weeks."""
    minutes = max(5, -(-validity // dt.timedelta(minutes=1)))
    if minutes <= 12 * 60:
        return -(-minutes // 5) - 1
    if minutes <= 24 * 60:
        return 143 + -(-(minutes - 12 * 60) // 30)
    days = -(-minutes // (24 * 60))
    if days <= 30:  # noqa: PLR2004 - the last step counted in days
        return days + 166
    weeks = -(-days // 7)
    if weeks > 63:  # noqa: PLR2004 - TP-VP 255
        raise PduError("validity longer than 63 weeks")
    return max(weeks + 192, 197)


def _validity_of(value: int) -> dt.timedelta:
    """Return the period a relative TP-VP stands for."""
    if value <= 143:  # noqa: PLR2004 - 5-minute steps up to 12 hours
        return dt.timedelta(minutes=(value + 1) * 5)
    if value <= 167:  # noqa: PLR2004 - 30-minute steps up to 24 hours
        return dt.timedelta(hours=12, minutes=(value - 143) * 30)
    if value <= 196:  # noqa: PLR2004 - days up to 30
        return dt.timedelta(days=value - 166)
    return dt.timedelta(weeks=value - 192)


def encode_submit(  # noqa: PLR0913 - the fields of an SMS-SUBMIT
    number: str,
    text: str,
    *,
    reference: int = 0,
    status_report: bool = True,
    validity: dt.timedelta | None = None,
    concat: Concat | None = None,
    alphabet: Alphabet | None = None,
    smsc: str | None = None,
    reject_duplicates: bool = False,
) -> EncodedPdu:
    """One SMS-SUBMIT: SMSC field (00: the modem's own), TP-MR, TP-DA, TP-PID 00, TP-DCS, TP-VP, TP-UD."""
    if alphabet is None:
        alphabet = Alphabet.GSM7 if is_gsm7(text) else Alphabet.UCS2
    length, user_data = _user_data(text, alphabet, concat)
    first = _MTI_SUBMIT
    first |= _RD if reject_duplicates else 0
    first |= _VPF_RELATIVE if validity is not None else 0
    first |= _SRR if status_report else 0
    first |= _UDHI if concat is not None else 0
    tpdu = bytearray((first, reference & 0xFF))
    tpdu += encode_address(number)
    tpdu += bytes((0x00, _DCS_GSM7 if alphabet is Alphabet.GSM7 else _DCS_UCS2))
    if validity is not None:
        tpdu.append(_relative_validity(validity))
    tpdu.append(length)
    tpdu += user_data
    return EncodedPdu(hex=(encode_smsc(smsc) + tpdu).hex().upper(), length=len(tpdu))


def encode_message(
    number: str,
    text: str,
    *,
    concat_reference: int,
    wide: bool = False,
    status_report: bool = True,
    validity: dt.timedelta | None = None,
    smsc: str | None = None,
) -> list[EncodedPdu]:
    """All the PDUs of a text: one, or parts sharing `concat_reference` and numbered from 1."""
    if not text:
        raise PduError("empty text")
    alphabet, parts = split_text(text, wide=wide)
    if len(parts) > 0xFF:  # noqa: PLR2004 - the part count is one octet
        raise PduError("text needs more than 255 parts")
    reference = concat_reference & (0xFFFF if wide else 0xFF)
    return [
        encode_submit(
            number,
            part,
            status_report=status_report,
            validity=validity,
            alphabet=alphabet,
            smsc=smsc,
            concat=None
            if len(parts) == 1
            else Concat(reference=reference, total=len(parts), sequence=index, wide=wide),
        )
        for index, part in enumerate(parts, start=1)
    ]


def encode_deliver(
    sender: str,
    text: str,
    *,
    timestamp: dt.datetime,
    concat: Concat | None = None,
    alphabet: Alphabet | None = None,
    smsc: str | None = None,
) -> EncodedPdu:
    """Build an SMS-DELIVER as a network hands it to a modem (what a simulator sends in +CMT or +CMGR)."""
    if alphabet is None:
        alphabet = Alphabet.GSM7 if is_gsm7(text) else Alphabet.UCS2
    length, user_data = _user_data(text, alphabet, concat)
    first = _MTI_DELIVER | _MMS | (_UDHI if concat is not None else 0)
    tpdu = bytearray((first,)) + encode_address(sender)
    tpdu += bytes((0x00, _DCS_GSM7 if alphabet is Alphabet.GSM7 else _DCS_UCS2))
    tpdu += encode_timestamp(timestamp) + bytes((length,)) + user_data
    return EncodedPdu(hex=(encode_smsc(smsc) + tpdu).hex().upper(), length=len(tpdu))


def encode_status_report(
    reference: int,
    recipient: str,
    *,
    status: int,
    timestamp: dt.datetime,
    discharged: dt.datetime,
    smsc: str | None = None,
) -> EncodedPdu:
    """Build an SMS-STATUS-REPORT (what a simulator sends in +CDS)."""
    tpdu = bytearray((_MTI_STATUS_REPORT | _MMS, reference & 0xFF)) + encode_address(recipient)
    tpdu += encode_timestamp(timestamp) + encode_timestamp(discharged) + bytes((status & 0xFF,))
    return EncodedPdu(hex=(encode_smsc(smsc) + tpdu).hex().upper(), length=len(tpdu))


def _octets(pdu: str) -> bytes:
    """Return the octets of a PDU in hex; PduError for anything else."""
    try:
        return bytes.fromhex(pdu.strip())
    except ValueError as err:
        raise PduError("PDU is not hex") from err


def _decode_submit(data: bytes, offset: int, smsc: str | None) -> Submit:
    """Read the TPDU of an SMS-SUBMIT from its first octet on."""
    first = data[offset]
    if offset + 1 >= len(data):
        raise PduError("PDU ends before TP-MR")
    reference = data[offset + 1]
    number, offset = decode_address(data, offset + 2)
    if offset + 2 > len(data):
        raise PduError("PDU ends before TP-DCS")
    dcs = data[offset + 1]
    offset += 2
    vpf = first & _VPF_MASK
    validity = None
    if vpf == _VPF_RELATIVE and offset < len(data):
        validity = _validity_of(data[offset])
    offset += _VP_SIZES[vpf]
    text, alphabet, concat = _read_user_data(data, offset, dcs, bool(first & _UDHI))
    return Submit(
        smsc=smsc,
        reference=reference,
        number=number,
        text=text,
        alphabet=alphabet,
        status_report=bool(first & _SRR),
        validity=validity,
        concat=concat,
    )


def _decode_deliver(data: bytes, offset: int, smsc: str | None) -> Deliver:
    """Read the TPDU of an SMS-DELIVER from its first octet on."""
    first = data[offset]
    sender, offset = decode_address(data, offset + 1)
    if offset + 2 > len(data):
        raise PduError("PDU ends before TP-DCS")
    dcs = data[offset + 1]
    timestamp, offset = decode_timestamp(data, offset + 2)
    text, alphabet, concat = _read_user_data(data, offset, dcs, bool(first & _UDHI))
    return Deliver(
        smsc=smsc,
        sender=sender,
        text=text,
        alphabet=alphabet,
        timestamp=timestamp,
        concat=concat,
        status_report_indicated=bool(first & _SRR),
    )


def _decode_status_report(data: bytes, offset: int, smsc: str | None) -> StatusReport:
    """Read the TPDU of an SMS-STATUS-REPORT from its first octet on."""
    if offset + 1 >= len(data):
        raise PduError("PDU ends before TP-MR")
    reference = data[offset + 1]
    recipient, offset = decode_address(data, offset + 2)
    timestamp, offset = decode_timestamp(data, offset)
    discharged, offset = decode_timestamp(data, offset)
    if offset >= len(data):
        raise PduError("PDU ends before TP-ST")
    return StatusReport(
        smsc=smsc,
        reference=reference,
        recipient=recipient,
        timestamp=timestamp,
        discharged=discharged,
        status=data[offset],
    )


def decode_pdu(pdu: str, *, with_smsc: bool = True) -> Deliver | Submit | StatusReport:
    """Decode a PDU in hex as a modem shows it (SMSC field first, unless `with_smsc` is False).

    TP-MTI 00 reads as SMS-DELIVER, 01 as SMS-SUBMIT and 10 as SMS-STATUS-REPORT: the directions a modem
    sees them in. PduError for anything that cannot be read.
    """
    data = _octets(pdu)
    smsc, offset = decode_smsc(data) if with_smsc else (None, 0)
    if offset >= len(data):
        raise PduError("PDU has no TPDU")
    kind = data[offset] & _MTI_MASK
    try:
        if kind == _MTI_DELIVER:
            return _decode_deliver(data, offset, smsc)
        if kind == _MTI_SUBMIT:
            return _decode_submit(data, offset, smsc)
        if kind == _MTI_STATUS_REPORT:
            return _decode_status_report(data, offset, smsc)
    except IndexError as err:
        raise PduError("PDU cut short") from err
    raise PduError("reserved message type")
