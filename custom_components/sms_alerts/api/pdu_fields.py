"""The fields SMS PDUs are made of (3GPP TS 23.040 §9.1.2, §9.2.3): septets, addresses, timestamps, DCS, UDH.

Pure and synchronous; the alphabet is the `gsm0338` codec the message module already uses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import gsm0338  # noqa: F401 - registers the "gsm03.38" codec

_ESC = 0x1B
_SEPTET = 0x7F
_SEMI_OCTET_DIGITS = "0123456789*#abc"
# Type-of-address octets (TS 23.040 §9.1.2.5): extension bit set, TON in bits 6-4, NPI in bits 3-0
TOA_INTERNATIONAL = 0x91
TOA_UNKNOWN = 0x81
_TON_INTERNATIONAL = 1
_TON_ALPHANUMERIC = 5
_TON_SHIFT = 4
_TON_MASK = 0x07
_ALPHANUMERIC_TOA = 0xD0
_MAX_ALPHANUMERIC = 11
# IEIs of the concatenation elements (TS 23.040 §9.2.3.24.1 and §9.2.3.24.8)
IEI_CONCAT_8 = 0x00
IEI_CONCAT_16 = 0x08
_CONCAT_8_LEN = 3
_CONCAT_16_LEN = 4
_SCTS_LEN = 7
_TZ_SIGN = 0x08
_QUARTER = dt.timedelta(minutes=15)
_MAX_QUARTERS = 79
_LAST_CENTURY_FROM = 90


class PduError(ValueError):
    """A PDU that cannot be read or built."""


class Alphabet(StrEnum):
    """The alphabet a DCS names."""

    GSM7 = "gsm7"
    DATA8 = "8bit"
    UCS2 = "ucs2"


def pack_septets(septets: bytes, fill_bits: int = 0) -> bytes:
    """Pack 7-bit values into octets, least significant bit first, after `fill_bits` zero bits (§6.1.2.1.1)."""
    out = bytearray()
    acc = 0
    bits = fill_bits
    for septet in septets:
        acc |= (septet & _SEPTET) << bits
        bits += 7
        while bits >= 8:  # noqa: PLR2004 - bits in an octet
            out.append(acc & 0xFF)
            acc >>= 8
            bits -= 8
    if bits:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> bytes:
    """Read `count` septets packed in `data`, skipping `fill_bits` first; PduError when data is short."""
    if (count * 7 + fill_bits + 7) // 8 > len(data):
        raise PduError("user data shorter than its length says")
    value = int.from_bytes(data, "little") >> fill_bits
    return bytes((value >> (7 * index)) & _SEPTET for index in range(count))


def gsm7_encode(text: str) -> bytes:
    """Septet values of a GSM-7 text (extension characters as ESC + code); PduError for other text."""
    try:
        return text.encode("gsm03.38")
    except UnicodeEncodeError as err:
        raise PduError("text is not GSM-7") from err


def gsm7_decode(septets: bytes) -> str:
    """Text of septet values; an escape to a code the extension table lacks reads as the basic character.

    TS 23.038 §6.2.1.1: a receiver shows the basic-table character for an unknown extension code; a lone
    ESC at the end is dropped.
    """
    out: list[str] = []
    index = 0
    while index < len(septets):
        value = septets[index]
        if value == _ESC:
            pair = septets[index : index + 2]
            index += 2
            if len(pair) < 2:  # noqa: PLR2004 - ESC and its code
                break
            try:
                out.append(pair.decode("gsm03.38"))
            except UnicodeDecodeError:
                out.append(bytes(pair[1:]).decode("gsm03.38", "replace"))
            continue
        out.append(bytes((value,)).decode("gsm03.38", "replace"))
        index += 1
    return "".join(out)


def _semi_octets(digits: str) -> bytes:
    """Digits as swapped semi-octets, an odd count padded with F."""
    try:
        values = [_SEMI_OCTET_DIGITS.index(char) for char in digits.lower()]
    except ValueError as err:
        raise PduError("address has a character that is not a digit") from err
    if len(values) % 2:
        values.append(0xF)
    return bytes(low | high << 4 for low, high in zip(values[::2], values[1::2], strict=True))


def _read_semi_octets(data: bytes, count: int) -> str:
    """`count` digits from swapped semi-octets."""
    nibbles = [nibble for octet in data for nibble in (octet & 0x0F, octet >> 4)][:count]
    if any(nibble == 0xF for nibble in nibbles):  # noqa: PLR2004 - the filler nibble
        raise PduError("filler inside an address")
    return "".join(_SEMI_OCTET_DIGITS[nibble] for nibble in nibbles)


def encode_address(address: str) -> bytes:
    """TP-DA/TP-OA (§9.1.2.5): "+49…" international, other digits unknown type, anything else alphanumeric."""
    if address.startswith("+") and address[1:].isdigit():
        digits = address[1:]
        return bytes((len(digits), TOA_INTERNATIONAL)) + _semi_octets(digits)
    if address.isdigit():
        return bytes((len(address), TOA_UNKNOWN)) + _semi_octets(address)
    septets = gsm7_encode(address)
    if not address or len(septets) > _MAX_ALPHANUMERIC:
        raise PduError("alphanumeric address is empty or longer than 11 characters")
    # The length counts the semi-octets that carry bits, so that a reader finds no extra "@" in the last octet
    return bytes((-(-len(septets) * 7 // 4), _ALPHANUMERIC_TOA)) + pack_septets(septets)


def decode_address(data: bytes, offset: int) -> tuple[str, int]:
    """Read an address at `offset`; return it ("+…" when international) and the offset after it."""
    if offset + 2 > len(data):
        raise PduError("PDU ends inside an address")
    length, toa = data[offset], data[offset + 1]
    size = (length + 1) // 2
    body = data[offset + 2 : offset + 2 + size]
    if len(body) < size:
        raise PduError("PDU ends inside an address")
    ton = (toa >> _TON_SHIFT) & _TON_MASK
    if ton == _TON_ALPHANUMERIC:
        address = gsm7_decode(unpack_septets(body, length * 4 // 7))
    else:
        address = _read_semi_octets(body, length)
        if ton == _TON_INTERNATIONAL:
            address = f"+{address}"
    return address, offset + 2 + size


def encode_smsc(number: str | None) -> bytes:
    """Build the SMSC field in front of a PDU for AT+CMGS: 00 lets the modem use its stored centre (27.005 §3.3.1)."""
    if not number:
        return b"\x00"
    address = encode_address(number)
    # Here the length counts octets, type included, not digits
    return bytes((len(address) - 1,)) + address[1:]


def decode_smsc(data: bytes) -> tuple[str | None, int]:
    """Read the SMSC field at the start of a PDU: its number (None when empty) and the offset after it."""
    if not data:
        raise PduError("empty PDU")
    size = data[0]
    if size == 0:
        return None, 1
    if 1 + size > len(data):
        raise PduError("PDU ends inside the SMSC")
    count = 2 * (size - 1)
    if size > 1 and data[size] >> 4 == 0xF:  # noqa: PLR2004 - the filler nibble of an odd count
        count -= 1
    toa, digits = data[1], _read_semi_octets(data[2 : 1 + size], count)
    prefix = "+" if (toa >> _TON_SHIFT) & _TON_MASK == _TON_INTERNATIONAL else ""
    return prefix + digits, 1 + size


def _swapped(octet: int) -> int:
    """Two swapped BCD digits as a number."""
    return (octet & 0x0F) * 10 + (octet >> 4)


def _bcd(value: int) -> int:
    """Write a number below 100 as two swapped BCD digits."""
    return (value % 10) << 4 | value // 10


def _year(two_digits: int) -> int:
    """Return the year of a two-digit one: 90-99 in the 1990s (as in the classic examples), the rest from 2000."""
    return two_digits + (1900 if two_digits >= _LAST_CENTURY_FROM else 2000)


def decode_timestamp(data: bytes, offset: int) -> tuple[dt.datetime, int]:
    """TP-SCTS/TP-DT (§9.2.3.11): seven swapped semi-octets, the zone in quarter hours with a sign bit."""
    raw = data[offset : offset + _SCTS_LEN]
    if len(raw) < _SCTS_LEN:
        raise PduError("PDU ends inside a timestamp")
    zone_octet = raw[6]
    quarters = (zone_octet & 0x07) * 10 + (zone_octet >> 4)
    if zone_octet & _TZ_SIGN:
        quarters = -quarters
    try:
        stamp = dt.datetime(
            _year(_swapped(raw[0])),
            _swapped(raw[1]),
            _swapped(raw[2]),
            _swapped(raw[3]),
            _swapped(raw[4]),
            _swapped(raw[5]),
            tzinfo=dt.timezone(quarters * _QUARTER),
        )
    except ValueError as err:
        raise PduError("timestamp is not a date") from err
    return stamp, offset + _SCTS_LEN


def encode_timestamp(stamp: dt.datetime) -> bytes:
    """Write a timezone-aware time as TP-SCTS."""
    offset = stamp.utcoffset()
    if offset is None:
        raise PduError("timestamp needs a time zone")
    quarters = int(offset / _QUARTER)
    if abs(quarters) > _MAX_QUARTERS:
        raise PduError("time zone out of range")
    zone = _bcd(abs(quarters)) | (_TZ_SIGN if quarters < 0 else 0)
    fields = (stamp.year % 100, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    return bytes(_bcd(value) for value in fields) + bytes((zone,))


def alphabet_of(dcs: int) -> Alphabet:
    """Return the alphabet a TP-DCS names (TS 23.038 §4); reserved codings read as GSM-7, as §4 asks."""
    group = dcs >> 4
    if group <= 0x07:  # noqa: PLR2004 - general data coding and automatic deletion groups
        if dcs & 0x20:
            raise PduError("compressed user data is not supported")
        return (Alphabet.GSM7, Alphabet.DATA8, Alphabet.UCS2, Alphabet.GSM7)[(dcs >> 2) & 0x03]
    if group == 0x0E:  # noqa: PLR2004 - message waiting, store, UCS-2
        return Alphabet.UCS2
    if group == 0x0F:  # noqa: PLR2004 - data coding / message class
        return Alphabet.DATA8 if dcs & 0x04 else Alphabet.GSM7
    return Alphabet.GSM7


@dataclass(frozen=True, kw_only=True)
class Concat:
    """Where a part belongs in a concatenated SMS: its reference, how many parts, which one (from 1)."""

    reference: int
    total: int
    sequence: int
    wide: bool = False

    def encode(self) -> bytes:
        """Build the information element: IEI 00 with an 8-bit reference, IEI 08 with a 16-bit one."""
        if not 1 <= self.sequence <= self.total <= 0xFF:  # noqa: PLR2004 - one octet each
            raise PduError("part number out of range")
        if self.wide:
            return (
                bytes((IEI_CONCAT_16, _CONCAT_16_LEN))
                + self.reference.to_bytes(2, "big")
                + bytes((self.total, self.sequence))
            )
        return bytes((IEI_CONCAT_8, _CONCAT_8_LEN, self.reference & 0xFF, self.total, self.sequence))


def encode_udh(concat: Concat | None) -> bytes:
    """Build the user data header with its length octet, or nothing."""
    if concat is None:
        return b""
    elements = concat.encode()
    return bytes((len(elements),)) + elements


def decode_udh(user_data: bytes) -> tuple[Concat | None, dict[int, bytes], int]:
    """Read a UDH: the concatenation element if any, every element by IEI, and the header's size in octets."""
    if not user_data:
        raise PduError("header announced but user data is empty")
    size = 1 + user_data[0]
    if size > len(user_data):
        raise PduError("header longer than the user data")
    elements: dict[int, bytes] = {}
    index = 1
    while index < size:
        if index + 2 > size:
            raise PduError("header element cut short")
        iei, length = user_data[index], user_data[index + 1]
        value = user_data[index + 2 : index + 2 + length]
        if index + 2 + length > size:
            raise PduError("header element cut short")
        elements[iei] = bytes(value)
        index += 2 + length
    concat = None
    short = elements.get(IEI_CONCAT_8)
    wide = elements.get(IEI_CONCAT_16)
    if short is not None and len(short) == _CONCAT_8_LEN:
        concat = Concat(reference=short[0], total=short[1], sequence=short[2])
    elif wide is not None and len(wide) == _CONCAT_16_LEN:
        concat = Concat(reference=int.from_bytes(wide[:2], "big"), total=wide[2], sequence=wide[3], wide=True)
    return concat, elements, size
