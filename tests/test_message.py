"""Targets, title folding, GSM-7 versus UCS-2 and SMS parts."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from custom_components.sms_alerts.api.base import Target, TargetKind
from custom_components.sms_alerts.api.text import utf16_len
from custom_components.sms_alerts.message import (
    MAX_MESSAGE_LENGTH,
    Encoding,
    MessageError,
    encoding_of,
    fold_title,
    normalize_number,
    parse_target,
    prepare,
    sms_info,
    split_parts,
    to_gsm7,
    truncate,
    truncate_gsm,
)

ALL_KINDS = frozenset(TargetKind)
NUMBERS_ONLY = frozenset({TargetKind.NUMBER})


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+39 333 123 4567", None, "+393331234567"),
        ("0039 333 123 4567", None, "+393331234567"),
        ("0039-333-123.4567", "DE", "+393331234567"),
        ("(0039) 333/1234567", "IT", "+393331234567"),
        ("0333 123 4567", "IT", "+3903331234567"),
        ("777888999", "CZ", "+420777888999"),
        ("01701234567", "DE", "+491701234567"),
        ("0049 170 1234567", "US", "+491701234567"),
        ("+49 (170) 123-4567", "US", "+491701234567"),
    ],
)
def test_numbers_are_normalised_to_e164(raw: str, region: str | None, expected: str) -> None:
    """Every usual way of writing a number gives the same E.164 form."""
    assert normalize_number(raw, region) == expected


def test_leading_00_is_not_read_as_a_us_number() -> None:
    """Phonenumbers alone would turn 0049… with region US into an invalid +1 0049…; we rewrite 00 first."""
    assert normalize_number("004917012345678", "US").startswith("+49")


@pytest.mark.parametrize(
    ("raw", "region", "key"),
    [
        ("01701234567", None, "missing_country"),
        ("hello", "DE", "invalid_number"),
        ("", "DE", "invalid_number"),
        ("+49 1", "DE", "invalid_number"),
        ("+1234567890123456789", None, "invalid_number"),
    ],
)
def test_bad_numbers_raise_a_keyed_error(raw: str, region: str | None, key: str) -> None:
    """A number that cannot be read names the problem."""
    with pytest.raises(MessageError) as err:
        normalize_number(raw, region)
    assert err.value.key == key
    assert err.value.placeholders["target"] == raw


def test_unknown_but_possible_number_is_sent_with_a_warning_once(caplog: pytest.LogCaptureFixture) -> None:
    """A possible number that no numbering plan knows is kept, and the log says so (masked), once per number."""
    assert normalize_number("+49 999 9999871", None) == "+499999999871"
    assert "+499999999871" not in caplog.text
    for _ in range(3):
        assert normalize_number("0049 999 9999871", None) == "+499999999871"
    assert caplog.text.count("not a known valid number") == 1
    normalize_number("+49 999 9999872", None)
    assert caplog.text.count("not a known valid number") == 2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("group:Oncall", Target(kind=TargetKind.GROUP, value="Oncall")),
        ("GROUP: 12 ", Target(kind=TargetKind.GROUP, value="12")),
        ("contact:Alice Smith", Target(kind=TargetKind.CONTACT, value="Alice Smith")),
        ("ext:1001", Target(kind=TargetKind.EXTENSION, value="1001")),
        ("+39 333 123 4567", Target(kind=TargetKind.NUMBER, value="+393331234567")),
    ],
)
def test_target_forms(raw: str, expected: Target) -> None:
    """Prefixes select the kind of target; the rest is a number."""
    assert parse_target(raw, "DE", ALL_KINDS) == expected


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("fax:123", "unknown_target_kind"),
        ("group:", "invalid_target"),
        ("ext:1001", "unsupported_target"),
        ("contact:Alice", "unsupported_target"),
    ],
)
def test_target_errors(raw: str, key: str) -> None:
    """Unknown kinds, empty names and kinds the provider cannot serve are refused."""
    with pytest.raises(MessageError) as err:
        parse_target(raw, "DE", NUMBERS_ONLY)
    assert err.value.key == key


def test_target_str_is_the_written_form() -> None:
    """Results show numbers as E.164 and others with their prefix."""
    assert str(Target(kind=TargetKind.NUMBER, value="+491701234567")) == "+491701234567"
    assert str(Target(kind=TargetKind.GROUP, value="Oncall")) == "group:Oncall"


@pytest.mark.parametrize(
    ("message", "title", "expected"),
    [
        ("Disk full", None, "Disk full"),
        ("Disk full", "NAS", "NAS\nDisk full"),
        ("  Disk full ", "  ", "Disk full"),
        ("", "Only a title", "Only a title"),
    ],
)
def test_title_goes_before_the_message(message: str, title: str | None, expected: str) -> None:
    """The title is its own first line."""
    assert fold_title(message, title) == expected


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Grüße aus München", Encoding.GSM7),
        ("Příliš žluťoučký kůň", Encoding.UCS2),
        ("Ça va", Encoding.GSM7),
        ("ça va", Encoding.UCS2),
        ("Price: 5€ [approx] {x} ~ | ^ \\", Encoding.GSM7),
        ("Freezer warm 🥶", Encoding.UCS2),
        ('It\'s "quoted" / slashed', Encoding.GSM7),
    ],
)
def test_encoding(text: str, encoding: Encoding) -> None:
    """One character outside GSM 03.38 makes the whole text UCS-2."""
    assert sms_info(text).encoding is encoding


@pytest.mark.parametrize(
    ("text", "units", "parts"),
    [
        ("", 0, 0),
        ("a" * 160, 160, 1),
        ("a" * 161, 161, 2),
        ("a" * 306, 306, 2),
        ("a" * 307, 307, 3),
        ("€" * 80, 160, 1),
        ("€" * 81, 162, 2),
        ("ř" * 70, 70, 1),
        ("ř" * 71, 71, 2),
        ("ř" * 134, 134, 2),
        ("ř" * 135, 135, 3),
        ("🚨" * 35, 70, 1),
        ("🚨" * 36, 72, 2),
    ],
)
def test_units_and_parts(text: str, units: int, parts: int) -> None:
    """160/153 septets for GSM-7 (escapes cost two), 70/67 UTF-16 units for UCS-2 (emoji cost two)."""
    info = sms_info(text)
    assert (info.units, info.parts) == (units, parts)


def _codec_units(text: str) -> tuple[Encoding, int]:
    """Encoding and units the slow way: the whole text through the GSM 03.38 codec, else UTF-16."""
    try:
        return Encoding.GSM7, len(text.encode("gsm03.38"))
    except UnicodeEncodeError:
        return Encoding.UCS2, len(text.encode("utf-16-le", "surrogatepass")) // 2


def test_character_table_agrees_with_the_codec() -> None:
    """The cached per-character costs say what the codec says, for every character of the BMP and beyond."""
    chars = [chr(code) for code in range(0x10000)] + ["🚨", "🥶", "\U0001f3fb", "\U000e0067"]
    for char in chars:
        assert (encoding_of(char), sms_info(char).units) == _codec_units(char), hex(ord(char))


def test_random_texts_agree_with_the_codec() -> None:
    """Mixed texts of GSM-7, extension, Latin, Czech, Cyrillic and emoji characters: same encoding and units."""
    rng = random.Random(7)  # noqa: S311 - reproducible test texts, not secrets
    alphabet = "aZ09 @£$¥èéùìòÇ\nØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà^{}[]~|€řěščЖж🚨\u200d"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        info = sms_info(text)
        assert (info.encoding, info.units) == _codec_units(text), text
        assert info.parts == len(split_parts(text))
        assert "".join(split_parts(text)) == text


def test_escape_pair_is_never_split_across_parts() -> None:
    """A euro sign that would straddle septet 153 moves whole into the next part."""
    text = "a" * 152 + "€" + "b" * 10
    parts = split_parts(text)
    assert parts[0] == "a" * 152
    assert parts[1].startswith("€")
    assert "".join(parts) == text


def test_surrogate_pair_is_never_split_across_parts() -> None:
    """An emoji that would straddle unit 67 moves whole into the next part."""
    text = "ř" * 66 + "🚨" + "ř" * 10
    parts = split_parts(text)
    assert parts[0] == "ř" * 66
    assert parts[1].startswith("🚨")
    assert "".join(parts) == text


def test_prepare_keeps_the_targets_it_can_read_and_rejects_the_others() -> None:
    """One bad target does not refuse the message: it is rejected with its reason, the others go."""
    prepared = prepare(
        "Disk full", None, ["not a number", "+491701234567", "ext:12"], region="DE", supported=NUMBERS_ONLY
    )
    assert prepared.targets == (Target(kind=TargetKind.NUMBER, value="+491701234567"),)
    assert [(raw, err.key) for raw, err in prepared.rejected] == [
        ("not a number", "invalid_number"),
        ("ext:12", "unsupported_target"),
    ]


def test_prepare_refuses_a_message_without_a_readable_target() -> None:
    """When no target can be read, the first one's error refuses the message."""
    with pytest.raises(MessageError) as err:
        prepare("Disk full", None, ["not a number", "ext:12"], region="DE", supported=NUMBERS_ONLY)
    assert err.value.key == "invalid_number"


@pytest.mark.parametrize(
    ("message", "title", "key"),
    [
        ("", None, "empty_message"),
        ("   ", "", "empty_message"),
    ],
)
def test_prepare_refuses_empty_messages(message: str, title: str | None, key: str) -> None:
    """Empty texts are named errors."""
    with pytest.raises(MessageError) as err:
        prepare(message, title, ["+491701234567"], region="DE", supported=NUMBERS_ONLY)
    assert err.value.key == key


def test_prepare_merges_duplicate_targets() -> None:
    """The same number written twice is sent once."""
    prepared = prepare("Disk full", "NAS", ["+49 170 1234567", "01701234567"], region="DE", supported=NUMBERS_ONLY)
    assert prepared.targets == (Target(kind=TargetKind.NUMBER, value="+491701234567"),)
    assert prepared.text == "NAS\nDisk full"
    assert prepared.info.parts == 1


def test_prepare_needs_a_target() -> None:
    """No targets at all is an error, not a silent no-op."""
    with pytest.raises(MessageError) as err:
        prepare("Disk full", None, [], region="DE", supported=NUMBERS_ONLY)
    assert err.value.key == "no_targets"


# Every character GSM 03.38 has, the extension table included (ESC, the escape itself, left out)
GSM_ALPHABET = (
    "@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\n\u00d8\u00f8\r\u00c5\u00e5"
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\u00c6\u00e6\u00df\u00c9"
    " !\"#\u00a4%&'()*+,-./0123456789:;<=>?\u00a1ABCDEFGHIJKLMNOPQRSTUVWXYZ\u00c4\u00d6\u00d1\u00dc\u00a7"
    "\u00bfabcdefghijklmnopqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0"
    "\f^{}\\[~]|\u20ac"
)
# Code points to draw random texts from: every plane, and more often the ranges where the hard cases live
_POOLS: tuple[tuple[int, int], ...] = (
    (0x0000, 0x007F),  # ASCII with control characters
    (0x0080, 0x024F),  # Latin-1 and Latin Extended
    (0x0300, 0x036F),  # combining marks
    (0x0370, 0x04FF),  # Greek and Cyrillic
    (0x2000, 0x206F),  # general punctuation: spaces, quotes, dashes, joiners
    (0x2100, 0x22FF),  # letter-like symbols, number forms, arrows, maths
    (0x3000, 0x9FFF),  # CJK
    (0xD800, 0xDFFF),  # lone surrogates
    (0xE000, 0xF8FF),  # private use
    (0xFE00, 0xFFFF),  # variation selectors, half- and full-width forms, specials
    (0x1F1E6, 0x1F1FF),  # regional indicators (flags)
    (0x1F300, 0x1FAFF),  # emoji and skin tones
    (0xE0000, 0xE01EF),  # tags and variation selectors supplement
    (0x0000, 0x10FFFF),  # anything at all
)


def _random_texts(count: int, seed: int) -> list[str]:
    """Texts of up to 40 code points from the pools above, the same on every run."""
    rng = random.Random(seed)  # noqa: S311 - repeatable test data, not secrets
    texts: list[str] = []
    for _ in range(count):
        chars = [chr(rng.randint(*rng.choice(_POOLS))) for _ in range(rng.randint(0, 40))]
        if rng.random() < 0.3:  # an emoji ZWJ sequence somewhere
            chars.insert(rng.randint(0, len(chars)), "\U0001f469\u200d\U0001f527\ufe0f")
        texts.append("".join(chars))
    return texts


RANDOM_TEXTS = _random_texts(200, seed=20240501)
RANDOM_IDS = [f"random-{index}" for index in range(len(RANDOM_TEXTS))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P\u0159\u00edli\u0161 \u017elu\u0165ou\u010dk\u00fd k\u016f\u0148", "Prilis zlutoucky kun"),
        ("\u00fap\u011bl \u010f\u00e1belsk\u00e9 \u00f3dy", "upel dabelsk\u00e9 ody"),
        (
            "Gr\u00fc\u00dfe aus M\u00fcnchen, \u00c4rger, \u00d6l",
            "Gr\u00fc\u00dfe aus M\u00fcnchen, \u00c4rger, \u00d6l",
        ),
        ("\u00c7a va, le gar\u00e7on? \u0152uvre, c\u0153ur", "\u00c7a va, le garcon? OEuvre, coeur"),
        ("\u0141\u00f3d\u017a, za\u017c\u00f3\u0142\u0107 g\u0119\u015bl\u0105", "Lodz, zazolc gesla"),
        (
            "\u00c0 \u00c8 \u00cc \u00d2 \u00d9 \u00e0 \u00e8 \u00ec \u00f2 \u00f9",
            "A E I O U \u00e0 \u00e8 \u00ec \u00f2 \u00f9",
        ),
        ("\u201cHot\u201d \u2018cold\u2019 \u201elow\u201c \u201ahigh\u2018", "\"Hot\" 'cold' \"low\" 'high'"),
        ("\u00abAlarm\u00bb 10\u201312 \u2014 x\u2212y", '"Alarm" 10-12 - x-y'),
        ("Wait\u2026", "Wait..."),
        ("5\u2032 7\u2033 \u2022 item", "5' 7\" * item"),
        ("it\u2019s \u2033hot\u2033 in rack 3\u22154 at C:\u29f5srv", 'it\'s "hot" in rack 3/4 at C:\\srv'),
        ("Freezer \u221218\u2009\u00b0C", "Freezer -18 degC"),
        ("\u2103 \u00bd \u2122 m\u00b2 5 \u00b5s \ufb01le \u00a9", "degC 1/2 TM m2 5 us file (c)"),
        ("a\u00a0b\u202fc\u3000d\te\u2028f", "a b c d e\nf"),
        ("zero\u200bwidth soft\u00adhyphen \ufeffbom", "zerowidth softhyphen bom"),
        ("e\u0301te\u0301 c\u030c", "\u00e9t\u00e9 c"),
        (
            "\u0394\u0398 \u03b1\u03b2\u03b3 \u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1",
            "\u0394\u0398 AB\u0393 KA\u039bHMEPA",
        ),
        ("5\u20ac [a] {b} ~ | ^ \\ \f", "5\u20ac [a] {b} ~ | ^ \\ \f"),
        ("\U0001f6a8\U0001f525 Fire", "? Fire"),
        ("\U0001f469\u200d\U0001f527 on the way", "? on the way"),
        ("ok \U0001f44d\U0001f3fd \U0001f1e9\U0001f1ea \u2764\ufe0f", "ok ? ? ?"),
        ("\U0001f6a8 \U0001f525", "? ?"),
        ("#\ufe0f\u20e3 1\ufe0f\u20e3", "# 1"),
        ("\u8b66\u62a5: \u706b", "?: ?"),
        ("Really?\U0001f6a8", "Really??"),
        ("a\x1bb\x00c", "a?b?c"),
        ("x\ud83d\udea8\ud83d\udd25y", "x?y"),
        ("x\ud83dy\udd25", "x?y?"),
        (
            "Alarm \U0001f6a8: Teplota v mraz\u00e1ku \u221218 \u00b0C \u2014 zkontrolujte \u201edve\u0159e\u201c!",
            'Alarm ?: Teplota v mrazaku -18 degC - zkontrolujte "dvere"!',
        ),
        ("", ""),
    ],
)
def test_to_gsm7(text: str, expected: str) -> None:
    """GSM-7 characters stay, look-alikes become ASCII, accents go, and each run of the unwritable is one "?"."""
    assert to_gsm7(text) == expected
    assert encoding_of(expected) is Encoding.GSM7


@pytest.mark.parametrize("text", RANDOM_TEXTS, ids=RANDOM_IDS)
def test_to_gsm7_always_gives_gsm7(text: str) -> None:
    """Whatever comes in, GSM-7 comes out, and a second pass changes nothing."""
    result = to_gsm7(text)
    assert encoding_of(result) is Encoding.GSM7
    assert "\x1b" not in result
    assert to_gsm7(result) == result


def test_to_gsm7_keeps_gsm7_text_as_it_is() -> None:
    """A text that is GSM-7 already comes back unchanged, the extension table included."""
    assert encoding_of(GSM_ALPHABET) is Encoding.GSM7
    rng = random.Random(7)  # noqa: S311 - repeatable test data, not secrets
    for _ in range(200):
        text = "".join(rng.choices(GSM_ALPHABET, k=rng.randint(0, 60)))
        assert to_gsm7(text) == text


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Disk full", 20, "Disk full"),
        ("Disk full", 9, "Disk full"),
        ("", 0, ""),
        ("Disk full on nas", 10, "Disk full\u2026"),
        ("The freezer door is open", 14, "The freezer\u2026"),
        ("Hi Temperaturueberschreitung", 12, "Hi Temperat\u2026"),
        ("Temperatur\u00fcberschreitung erkannt", 10, "Temperatu\u2026"),
        ("Disk    full", 8, "Disk\u2026"),
        ("\u0159\u0159\u0159\u0159\u0159\U0001f6a8x", 7, "\u0159\u0159\u0159\u0159\u0159\u2026"),
        ("abcd\U0001f6a8", 5, "abcd\u2026"),
        ("abc\U0001f6a8\U0001f6a8", 6, "abc\U0001f6a8\u2026"),
        ("xy\U0001f469\u200d\U0001f527z", 6, "xy\U0001f469\u2026"),
        ("Disk full", 1, "\u2026"),
        ("Disk full", 0, ""),
    ],
)
def test_truncate(text: str, limit: int, expected: str) -> None:
    """Cut to the UTF-16 limit with "…" counted, at a late word boundary, never inside a surrogate pair."""
    result = truncate(text, limit)
    assert result == expected
    assert utf16_len(result) <= limit


@pytest.mark.parametrize(
    ("text", "septets", "expected"),
    [
        ("Disk full", 20, "Disk full"),
        ("Disk full", 9, "Disk full"),
        ("\u20ac\u20ac\u20ac\u20ac\u20ac", 10, "\u20ac\u20ac\u20ac\u20ac\u20ac"),
        ("\u20ac\u20ac\u20ac\u20ac\u20ac", 9, "\u20ac\u20ac\u20ac..."),
        ("aaaaaa\u20acbbb", 10, "aaaaaa..."),
        ("aaaaa[b]", 8, "aaaaa..."),
        ("Disk full on nas", 12, "Disk full..."),
        ("The freezer door is open", 16, "The freezer..."),
        ("Temperatur\u00fcberschreitung erkannt", 12, "Temperatu..."),
        ("Disk", 3, "..."),
        ("Disk", 2, ".."),
        ("Disk", 0, ""),
    ],
)
def test_truncate_gsm(text: str, septets: int, expected: str) -> None:
    """Cut to the septet limit with "..." counted; an extension character costs two and is never split."""
    result = truncate_gsm(text, septets)
    assert result == expected
    assert encoding_of(result) is Encoding.GSM7
    assert sms_info(result).units <= septets


def _is_cut_of(result: str, text: str, marker: str) -> bool:
    """Tell whether a result is the text itself, a head of it followed by the marker, or part of the marker."""
    if result == text or marker.startswith(result):
        return True
    return result.endswith(marker) and text.startswith(result.removesuffix(marker))


@pytest.mark.parametrize("text", RANDOM_TEXTS[:50], ids=RANDOM_IDS[:50])
def test_truncate_stays_within_the_limit(text: str) -> None:
    """For any text and limit, the cut text fits, starts like the original, and is the original when it fits."""
    gsm = to_gsm7(text)
    for limit in range(12):
        result = truncate(text, limit)
        assert len(result.encode("utf-16-le", "surrogatepass")) // 2 <= limit
        assert _is_cut_of(result, text, "\u2026")
        gsm_result = truncate_gsm(gsm, limit)
        assert sms_info(gsm_result).units <= limit
        assert _is_cut_of(gsm_result, gsm, "...")


@pytest.mark.parametrize(
    ("func", "text", "limit"),
    [(truncate, "Disk full", -1), (truncate_gsm, "Disk full", -1), (truncate_gsm, "\u0159\u0159\u0159", 10)],
)
def test_truncate_refuses_bad_input(func: Callable[[str, int], str], text: str, limit: int) -> None:
    """A negative limit, or a text that is not GSM-7 for truncate_gsm, is a ValueError."""
    with pytest.raises(ValueError, match=r"limit|GSM-7"):
        func(text, limit)


def test_prepare_cuts_a_huge_message_instead_of_refusing_it() -> None:
    """An alert longer than the limit is cut to it at a word boundary, with an ellipsis; its head survives."""
    text = "Disk full on /config: " + " ".join(f"line{index}" for index in range(1000))
    prepared = prepare(text, None, ["+491701234567"], region="DE", supported=NUMBERS_ONLY)
    assert prepared.cut_from == len(text) > MAX_MESSAGE_LENGTH
    assert len(prepared.text) <= MAX_MESSAGE_LENGTH
    assert prepared.text.startswith("Disk full on /config: line0 line1")
    # Still GSM-7: cut with "...", as "…" would make the whole text UCS-2 and more than double its SMS
    assert prepared.text.endswith("...")
    assert prepared.info.encoding is Encoding.GSM7
    assert prepared.info.parts == 30
    czech = prepare("Příliš " * 1000, None, ["+491701234567"], region="DE", supported=NUMBERS_ONLY)
    assert czech.cut_from == len(("Příliš " * 1000).strip())
    assert len(czech.text) <= MAX_MESSAGE_LENGTH
    assert czech.text.endswith("\u2026")
    assert czech.info.encoding is Encoding.UCS2
    exact = prepare("x" * MAX_MESSAGE_LENGTH, None, ["+491701234567"], region="DE", supported=NUMBERS_ONLY)
    assert exact.cut_from is None
    assert exact.text == "x" * MAX_MESSAGE_LENGTH
