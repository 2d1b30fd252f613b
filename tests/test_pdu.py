"""The SMS PDU codec: published reference vectors, then round-trip properties."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.sms_alerts.api.pdu import (
    MAX_USER_DATA,
    Alphabet,
    Concat,
    Deliver,
    PduError,
    ReportStatus,
    StatusReport,
    Submit,
    decode_pdu,
    encode_deliver,
    encode_message,
    encode_status_report,
    encode_submit,
    report_outcome,
    split_text,
)
from custom_components.sms_alerts.api.pdu_fields import (
    decode_timestamp,
    encode_address,
    encode_timestamp,
    gsm7_decode,
    gsm7_encode,
    pack_septets,
    unpack_septets,
)
from custom_components.sms_alerts.message import split_parts

# Sources of the vectors below:
# DREAMFABRIC: the SMS-SUBMIT and SMS-DELIVER walk-throughs of http://www.dreamfabric.com/sms/ ("hellohello"),
#   also used as the SUBMIT test in Perl's SMS::PDU tests and as the DELIVER test of many decoders
# GSMMODEM: faucamp/python-gsmmodem:test/test_pdu.py @0423e91a (TestGsm7, TestSmsPdu, TestUdhConcatenation,
#   TestSmsPduAddressFields, TestTimestamp, TestRelativeValidityPeriod)

HELLO = "E8329BFD4697D9EC37"


def _tz(hours: float) -> dt.timezone:
    return dt.timezone(dt.timedelta(hours=hours))


def test_hellohello_packs_to_the_classic_septets() -> None:
    """DREAMFABRIC: "hellohello" is E8329BFD4697D9EC37 packed."""
    assert pack_septets(gsm7_encode("hellohello")).hex().upper() == HELLO
    assert gsm7_decode(unpack_septets(bytes.fromhex(HELLO), 10)) == "hellohello"


@pytest.mark.parametrize(
    ("text", "packed"),
    [
        # GSMMODEM TestGsm7: plain, 8 septets in 7 octets, the extension table, Greek capitals
        ("Hello World!", "C8329BFD065DDF72363904"),
        ("12345678", "31D98C56B3DD70"),
        ("[{abc}]~", "1BDE0615168F37A98D6FD303"),
        ("{åΦΓΛΩΠΨΣΘ€}", "1BD44332A1542C174C6653DEA400"),
    ],
)
def test_gsm7_packing_vectors(text: str, packed: str) -> None:
    """GSM-7 texts pack to the published octets and back."""
    septets = gsm7_encode(text)
    assert pack_septets(septets).hex().upper() == packed
    assert gsm7_decode(unpack_septets(bytes.fromhex(packed), len(septets))) == text


@pytest.mark.parametrize(
    ("address", "encoded"),
    [
        # GSMMODEM TestSmsPduAddressFields
        ("+9876543210", "0A918967452301"),
        ("+27829135934", "0B917228195339F4"),
        ("abc", "06D061F118"),
        ("FRANCOIS", "0ED04669D0397C26A7"),
        ("a[]{}€", "14D0E10D6FE3DBA036A94D19"),
    ],
)
def test_address_vectors(address: str, encoded: str) -> None:
    """International and alphanumeric addresses encode as published."""
    assert encode_address(address).hex().upper() == encoded


@pytest.mark.parametrize(
    ("stamp", "encoded"),
    [
        # GSMMODEM TestTimestamp: the zone in quarter hours, the sign in bit 3
        (dt.datetime(2015, 11, 27, tzinfo=_tz(0)), "51117200000000"),
        (dt.datetime(2015, 11, 27, tzinfo=_tz(2)), "51117200000080"),
        (dt.datetime(2007, 4, 12, 23, 25, 42, tzinfo=_tz(8)), "70402132522423"),
        (dt.datetime(2007, 4, 12, 23, 25, 42, tzinfo=_tz(-8)), "7040213252242B"),
    ],
)
def test_timestamp_vectors(stamp: dt.datetime, encoded: str) -> None:
    """TP-SCTS both ways, time zones west and east."""
    assert encode_timestamp(stamp).hex().upper() == encoded
    decoded, end = decode_timestamp(bytes.fromhex(encoded), 0)
    assert decoded == stamp
    assert decoded.utcoffset() == stamp.utcoffset()
    assert end == 7


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        # DREAMFABRIC SMS-SUBMIT: VPF relative, TP-VP AA (4 days), no status report
        (
            {"number": "+46708251358", "text": "hellohello", "validity": dt.timedelta(days=4)},
            "0011000B916407281553F80000AA0A" + HELLO,
        ),
        # GSMMODEM test_encodeSmsSubmit: no validity; UCS-2 with an SMSC and 52 weeks (TP-VP F4)
        ({"number": "+27820001111", "text": "Hello World!"}, "0001000B917228001011F100000CC8329BFD065DDF72363904"),
        (
            {
                "number": "+123456789",
                "text": "世界您好\uff01",
                "validity": dt.timedelta(weeks=52),
                "smsc": "+44000000000",
            },
            "07914400000000F01100099121436587F90008F40A4E16754C60A8597DFF01",
        ),
    ],
)
def test_submit_vectors(kwargs: dict[str, object], expected: str) -> None:
    """SMS-SUBMIT PDUs match the published ones byte for byte."""
    pdu = encode_submit(status_report=False, **kwargs)  # type: ignore[arg-type]
    assert pdu.hex == expected
    smsc_octets = int(expected[:2], 16) + 1
    assert pdu.length == len(expected) // 2 - smsc_octets


def test_status_report_request_sets_tp_srr() -> None:
    """TP-SRR (bit 5) is set by default: +CDS reports are how a modem learns of delivery."""
    pdu = encode_submit("+46708251358", "hellohello")
    assert pdu.hex.startswith("0021")
    decoded = decode_pdu(pdu.hex)
    assert isinstance(decoded, Submit)
    assert decoded.status_report


LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipisicing elit, sed do eiusmod tempor incididunt ut labore et "
    "dolore magna aliqua.Ut enim ad minim veniam, quinostrud exercitation ullamco laboris nisi ut aliquip ex ea "
    "commodo consequat.Duis aute irure dolor in reprehenderit in voluptate velit esse cillum doloe eu fugiat "
    "nulla pariatur.Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit "
    "anim id est laborum"
)


def test_concatenated_submit_vector() -> None:
    """GSMMODEM test_encodeSmsSubmit_concatenated: three parts, IEI 00, reference 0, one fill bit, TP-RD set."""
    alphabet, parts = split_text(LOREM)
    pdus = [
        encode_submit(
            "+15125551234",
            part,
            status_report=False,
            reject_duplicates=True,
            alphabet=alphabet,
            concat=Concat(reference=0, total=len(parts), sequence=index),
        )
        for index, part in enumerate(parts, start=1)
    ]
    assert [pdu.hex for pdu in pdus] == [
        (
            "0045000B915121551532F40000A0050003000301986F79B90D4AC3E7F53688FC66BFE5A0799A0E0AB7CB741668FC76CFCB637A995E"
            "9783C2E4343C3D4F8FD3EE33A8CC4ED359A079990C22BF41E5747DDE7E9341F4721BFE9683D2EE719A9C26D7DD74509D0E6287C56F"
            "791954A683C86FF65B5E06B5C36777181466A7E3F5B0AB4A0795DDE936284C06B5D3EE741B642FBBD3E1360B14AFA7DD"
        ),
        (
            "0045000B915121551532F40000A0050003000302DE73BABC4E0695F165F9384D0FD3D36F37A8CE6687DBE337881D16BFE5E939C89D"
            "9EA741753A28CC4EC7EB6938A88C0795C3A0F1BBDD7E93DFA0F1DB3D2FC7EB61BA8B584FCF41E13ABD0C4ACBEBF23288FC66BFE5A0"
            "B41B242FC3E56574D94D2ECBD37450DA0DB2BFD975383D4C2F83EC65769A0E2ACFE765D038CD66D7DB20F29BFD2E83CA"
        ),
        (
            "0045000B915121551532F400008C050003000303EA2073FD9C0ED341EE3A9B1D06C1C3F274985E97BB8AF871194E2FD7E5A079DA4D"
            "07BDC7E370791CA683C675789A1CA687E920F7DB0D82CBDF6972D94D6781E675371D947683C675363C0C8AD7D3A0B7D99C1EA7C320"
            "72795E96D7DD7450FBCD66A7E9A0B03BDD06A5C9A0F29C0E6287C56F79BD0D"
        ),
    ]
    assert "".join(parts) == LOREM


@pytest.mark.parametrize(
    ("pdu", "sender", "text", "stamp", "smsc"),
    [
        # DREAMFABRIC SMS-DELIVER: a sender of type C8 (national), SMSC +27381000015, zone +2 h
        (
            "07917283010010F5040BC87238880900F10000993092516195800A" + HELLO,
            "27838890001",
            "hellohello",
            dt.datetime(1999, 3, 29, 15, 16, 59, tzinfo=_tz(2)),
            "+27381000015",
        ),
        # GSMMODEM test_decode: GSM-7 with an escape, and a long text in zone +8 h
        (
            "06917228195339040B917228214365F70000313062315352800A800D8A5E98D337A910",
            "+27821234567",
            "@{tést}!",
            dt.datetime(2013, 3, 26, 13, 35, 25, tzinfo=_tz(2)),
            "+2782913593",
        ),
        (
            (
                "07915892000000F0040B915892214365F700007040213252242331493A283D0795C3F33C88FE06C9CB6132885EC6D341EDF27C1"
                "E3E97E7207B3A0C0A5241E377BB1D7693E72E"
            ),
            "+85291234567",
            "It is easy to read text messages via AT commands.",
            dt.datetime(2007, 4, 12, 23, 25, 42, tzinfo=_tz(8)),
            "+85290000000",
        ),
    ],
)
def test_deliver_vectors(pdu: str, sender: str, text: str, stamp: dt.datetime, smsc: str) -> None:
    """SMS-DELIVER: sender, text, timestamp with its zone, SMSC."""
    decoded = decode_pdu(pdu)
    assert isinstance(decoded, Deliver)
    assert (decoded.sender, decoded.text, decoded.timestamp, decoded.smsc) == (sender, text, stamp, smsc)
    assert decoded.timestamp.utcoffset() == stamp.utcoffset()
    assert decoded.concat is None


def test_deliver_with_concatenation_header() -> None:
    """GSMMODEM test_decode: a DELIVER with UDH 050003C30101 (reference 0xC3, part 1 of 1)."""
    decoded = decode_pdu(
        "0591721891F1400781721881F800003160526104848059050003C30101916536FB1DCABEEB2074D85E064941B19CAB06031"
        "9A5C522289C96D3D3ED32286C0FA7D96131BBEC024941B19CAB0603DDD36C36A88C87A7E565D0DB0D82C55EB0DB4B068BCD5C20"
    )
    assert isinstance(decoded, Deliver)
    assert decoded.sender == "2781188"
    assert decoded.text == "Hello!You have R 19.50 FREE airtime available. R 19.50 will expire on 01/07/2013. "
    assert decoded.concat == Concat(reference=0xC3, total=1, sequence=1)


def test_ucs2_submit_decodes() -> None:
    """GSMMODEM test_decode: a UCS-2 SMS-SUBMIT."""
    decoded = decode_pdu("07914346466554F601000B914316565811F9000806304253F68449")
    assert isinstance(decoded, Submit)
    assert (decoded.number, decoded.text, decoded.alphabet) == ("+34616585119", "あ叶葉", Alphabet.UCS2)


def test_submit_with_relative_validity_decodes() -> None:
    """GSMMODEM test_decode: TP-VP A9 is three days; TP-SRR set, TP-MR 13."""
    decoded = decode_pdu("07911326040000F0310D0B911326880736F40000A90FF7FBDD454E87CDE1B0DB357EB701")
    assert isinstance(decoded, Submit)
    assert (decoded.reference, decoded.number, decoded.text) == (13, "+31628870634", "www.diafaan.com")
    assert decoded.validity == dt.timedelta(days=3)
    assert decoded.status_report


def test_status_report_vector() -> None:
    """GSMMODEM test_decode: a status report for TP-MR 214 with TP-ST 00 (received by the recipient)."""
    decoded = decode_pdu("0006D60B911326880736F4111011719551401110117195714000")
    assert isinstance(decoded, StatusReport)
    assert (decoded.reference, decoded.recipient, decoded.status) == (214, "+31628870634", 0)
    assert decoded.timestamp == dt.datetime(2011, 1, 11, 17, 59, 15, tzinfo=_tz(1))
    assert decoded.discharged == dt.datetime(2011, 1, 11, 17, 59, 17, tzinfo=_tz(1))
    assert decoded.outcome is ReportStatus.DELIVERED


def test_status_report_from_a_zte_modem_decodes() -> None:
    """GSMMODEM test_decode: a semi-valid report captured from a ZTE modem still gives its reference and times."""
    decoded = decode_pdu("0297F1061C0F910B487228297020F5317062419272803170624192138000")
    assert isinstance(decoded, StatusReport)
    assert decoded.reference == 28
    assert decoded.timestamp == dt.datetime(2013, 7, 26, 14, 29, 27, tzinfo=_tz(2))
    assert decoded.discharged == dt.datetime(2013, 7, 26, 14, 29, 31, tzinfo=_tz(2))


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        # TS 23.040 §9.2.3.15: 0x00-0x1F completed, 0x20-0x3F still trying, 0x40-0x7F failed, 0x80 reserved
        (0x00, ReportStatus.DELIVERED),
        (0x01, ReportStatus.DELIVERED),
        (0x02, ReportStatus.DELIVERED),
        (0x20, ReportStatus.PENDING),
        (0x25, ReportStatus.PENDING),
        (0x40, ReportStatus.FAILED),
        (0x41, ReportStatus.FAILED),
        (0x60, ReportStatus.FAILED),
        (0x65, ReportStatus.FAILED),
        (0x80, ReportStatus.FAILED),
    ],
)
def test_report_outcomes(status: int, outcome: ReportStatus) -> None:
    """Completed is delivered, 'still trying' is pending, permanent or abandoned is failed."""
    assert report_outcome(status) is outcome


@pytest.mark.parametrize(
    ("validity", "octet"),
    [
        # GSMMODEM TestRelativeValidityPeriod
        (dt.timedelta(minutes=30), 5),
        (dt.timedelta(hours=16), 151),
        (dt.timedelta(days=3), 169),
        (dt.timedelta(weeks=5), 197),
    ],
)
def test_relative_validity_vectors(validity: dt.timedelta, octet: int) -> None:
    """TP-VP relative as published, and read back."""
    pdu = encode_submit("+1234", "x", validity=validity)
    # SMSC 00, first octet, TP-MR, TP-DA (4 digits: 4 octets), TP-PID, TP-DCS, then TP-VP
    assert bytes.fromhex(pdu.hex)[9] == octet
    decoded = decode_pdu(pdu.hex)
    assert isinstance(decoded, Submit)
    assert decoded.validity == validity


@pytest.mark.parametrize(
    "pdu",
    ["", "zz", "00", "0001", "0001000B91", "0003000B917228001011F10000", "0041000B917228001011F100000501FF"],
)
def test_garbage_is_a_pdu_error(pdu: str) -> None:
    """Cut or malformed PDUs raise PduError, never IndexError or a wrong text."""
    with pytest.raises(PduError):
        decode_pdu(pdu)


def test_wide_reference_header() -> None:
    """IEI 08 carries a 16-bit reference (GSMMODEM TestUdhConcatenation: 080401800402 is 384, part 2 of 4)."""
    assert Concat(reference=384, total=4, sequence=2, wide=True).encode().hex().upper() == "080401800402"
    assert Concat(reference=23, total=3, sequence=1).encode().hex().upper() == "0003170301"


# Round trips ------------------------------------------------------------------------------------------------

_BASIC = [bytes((code,)).decode("gsm03.38") for code in range(128) if code != 0x1B]
_EXTENSION = []
for _code in range(128):
    with contextlib.suppress(UnicodeDecodeError):
        _EXTENSION.append(bytes((0x1B, _code)).decode("gsm03.38"))
_GSM_CHARS = st.sampled_from(_BASIC + _EXTENSION)
# Short texts and long ones: left alone, Hypothesis seldom makes a text long enough for two parts
GSM_TEXT = st.one_of(st.text(_GSM_CHARS, min_size=1, max_size=170), st.text(_GSM_CHARS, min_size=150, max_size=700))
ANY_TEXT = st.one_of(st.text(min_size=1, max_size=80), st.text(min_size=60, max_size=300))


def _check_round_trip(text: str, *, wide: bool, reference: int) -> Alphabet:
    """Encode a text, decode every part, and check sizes, headers and the text."""
    pdus = encode_message("+491701234567", text, concat_reference=reference, wide=wide)
    decoded = [decode_pdu(pdu.hex) for pdu in pdus]
    assert all(isinstance(part, Submit) for part in decoded)
    parts = [part for part in decoded if isinstance(part, Submit)]
    assert "".join(part.text for part in parts) == text
    for pdu in pdus:
        octets = bytes.fromhex(pdu.hex)
        assert pdu.length == len(octets) - 1
        user_data = octets[1 + 1 + 1 + 8 + 1 + 1 + 1 :]  # SMSC, first, MR, DA (12 digits), PID, DCS, UDL
        assert len(user_data) <= MAX_USER_DATA
    if len(parts) == 1:
        assert parts[0].concat is None
    else:
        expected = reference & (0xFFFF if wide else 0xFF)
        assert [part.concat for part in parts] == [
            Concat(reference=expected, total=len(parts), sequence=index, wide=wide)
            for index in range(1, len(parts) + 1)
        ]
    return parts[0].alphabet


@settings(max_examples=150, deadline=None)
@given(text=GSM_TEXT, wide=st.booleans(), reference=st.integers(0, 0xFFFF))
def test_gsm7_round_trip(text: str, wide: bool, reference: int) -> None:
    """Any GSM-7 text comes back whole from its parts, each part within 140 octets."""
    assert _check_round_trip(text, wide=wide, reference=reference) is Alphabet.GSM7


@settings(max_examples=150, deadline=None)
@given(text=ANY_TEXT, wide=st.booleans(), reference=st.integers(0, 0xFFFF))
def test_any_text_round_trip(text: str, wide: bool, reference: int) -> None:
    """Any Unicode text comes back whole: UCS-2 parts never split a surrogate pair."""
    _check_round_trip(text, wide=wide, reference=reference)


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(GSM_TEXT, ANY_TEXT))
def test_split_agrees_with_the_message_module(text: str) -> None:
    """With an 8-bit reference the parts are the ones message.split_parts counts for the outbox."""
    if "\x1b" in text:
        return
    assert split_text(text)[1] == split_parts(text)


@given(septets=st.binary(max_size=200).map(lambda data: bytes(b & 0x7F for b in data)), fill=st.integers(0, 6))
def test_septet_packing_round_trip(septets: bytes, fill: int) -> None:
    """Packing after any fill bits and unpacking give the septets back."""
    assert unpack_septets(pack_septets(septets, fill), len(septets), fill) == septets


@given(
    stamp=st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2089, 12, 31)),  # noqa: DTZ001 - naive bounds, as Hypothesis wants,
    quarters=st.integers(-79, 79),
)
def test_timestamp_round_trip(stamp: dt.datetime, quarters: int) -> None:
    """Any second of 2000-2089 in any zone survives TP-SCTS."""
    aware = stamp.replace(microsecond=0, tzinfo=dt.timezone(dt.timedelta(minutes=15 * quarters)))
    assert decode_timestamp(encode_timestamp(aware), 0)[0] == aware


@given(
    sender=st.one_of(
        st.from_regex(r"\+[1-9][0-9]{3,14}", fullmatch=True),
        st.text(alphabet=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefgh0123456789 "), min_size=1, max_size=11),
    ),
    text=ANY_TEXT,
)
def test_deliver_round_trip(sender: str, text: str) -> None:
    """A DELIVER built for the simulator reads back: international and alphanumeric senders."""
    alphabet, parts = split_text(text)
    stamp = dt.datetime(2026, 12, 7, 1, 2, 3, tzinfo=_tz(1))
    concat = Concat(reference=7, total=len(parts), sequence=1) if len(parts) > 1 else None
    pdu = encode_deliver(sender, parts[0], timestamp=stamp, concat=concat, alphabet=alphabet)
    decoded = decode_pdu(pdu.hex)
    assert isinstance(decoded, Deliver)
    assert (decoded.sender, decoded.text, decoded.timestamp, decoded.concat) == (sender, parts[0], stamp, concat)


def test_status_report_round_trip() -> None:
    """A status report built for the simulator reads back."""
    stamp = dt.datetime(2026, 12, 7, 1, 2, 3, tzinfo=_tz(1))
    pdu = encode_status_report(
        201, "+491701234567", status=0x46, timestamp=stamp, discharged=stamp + dt.timedelta(seconds=4)
    )
    decoded = decode_pdu(pdu.hex)
    assert isinstance(decoded, StatusReport)
    assert (decoded.reference, decoded.recipient, decoded.outcome) == (201, "+491701234567", ReportStatus.FAILED)


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=180), with_smsc=st.booleans())
def test_any_octets_decode_or_raise_pdu_error(data: bytes, with_smsc: bool) -> None:
    """Whatever a modem hands over, decoding gives a message or PduError, never another exception."""
    with contextlib.suppress(PduError):
        decode_pdu(data.hex(), with_smsc=with_smsc)


# Real PDUs from the vectors above (the concatenated part already cut short)
_VALID = [
    "07917283010010F5040BC87238880900F10000993092516195800A" + HELLO,
    "0006D60B911326880736F4111011719551401110117195714000",
    "07911326040000F0310D0B911326880736F40000A90FF7FBDD454E87CDE1B0DB357EB701",
    "0041000B915121551532F40000A0050003000301986F79B90D4AC3E7F53688FC66BFE5A0799A0E0A",
    "07914346466554F601000B914316565811F9000806304253F68449",
]


@settings(max_examples=500, deadline=None)
@given(pdu=st.sampled_from(_VALID), cut=st.integers(0, 80), where=st.integers(0, 79), octet=st.integers(0, 255))
def test_damaged_pdus_decode_or_raise_pdu_error(pdu: str, cut: int, where: int, octet: int) -> None:
    """A real PDU cut short or with one octet changed decodes or raises PduError, never another exception."""
    data = bytearray(bytes.fromhex(pdu))[: max(1, len(pdu) // 2 - cut)]
    data[where % len(data)] = octet
    with contextlib.suppress(PduError):
        decode_pdu(data.hex())


def test_field_readers_refuse_what_the_spec_does_not_allow() -> None:
    """Each field names its own fault; unknown escapes and codings read as 23.038 asks."""
    from custom_components.sms_alerts.api import pdu_fields as fields  # noqa: PLC0415 - the fields on their own

    # TS 23.038 §6.2.1.1: an escape to a code the extension table lacks shows the basic character; a lone ESC goes
    assert fields.gsm7_decode(bytes((0x1B, 0x41, 0x42))) == "AB"
    assert fields.gsm7_decode(bytes((0x41, 0x1B))) == "A"
    with pytest.raises(fields.PduError, match="not a digit"):
        fields.encode_address("\u0661\u0662")  # digits to str.isdigit (Arabic-Indic), not to a semi-octet
    with pytest.raises(fields.PduError, match="alphanumeric address is empty or longer than 11"):
        fields.encode_address("Much too long a sender")
    with pytest.raises(fields.PduError, match="alphanumeric address is empty"):
        fields.encode_address("")
    with pytest.raises(fields.PduError, match="needs a time zone"):
        fields.encode_timestamp(dt.datetime(2026, 12, 7, 1, 0))  # noqa: DTZ001 - naive on purpose
    with pytest.raises(fields.PduError, match="time zone out of range"):
        fields.encode_timestamp(dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=23, minutes=59))))
    # TS 23.038 §4: message waiting groups E (UCS-2) and F (data coding / class)
    assert fields.alphabet_of(0xE8) is fields.Alphabet.UCS2
    assert fields.alphabet_of(0xF4) is fields.Alphabet.DATA8
    assert fields.alphabet_of(0xF0) is fields.Alphabet.GSM7
    assert fields.alphabet_of(0xC0) is fields.Alphabet.GSM7
    with pytest.raises(fields.PduError, match="part number out of range"):
        fields.Concat(reference=1, total=2, sequence=3).encode()
    with pytest.raises(fields.PduError, match="user data is empty"):
        fields.decode_udh(b"")
    with pytest.raises(fields.PduError, match="cut short"):
        fields.decode_udh(bytes((0x01, 0x00)))
    with pytest.raises(fields.PduError, match="cut short"):
        fields.decode_udh(bytes((0x03, 0x00, 0x05, 0x01)))
