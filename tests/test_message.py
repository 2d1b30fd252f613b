"""Targets, title folding, GSM-7 versus UCS-2 and SMS parts."""

from __future__ import annotations

import pytest

from custom_components.sms_alerts.api.base import Target, TargetKind
from custom_components.sms_alerts.message import (
    MAX_MESSAGE_LENGTH,
    Encoding,
    MessageError,
    fold_title,
    normalize_number,
    parse_target,
    prepare,
    sms_info,
    split_parts,
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


def test_unknown_but_possible_number_is_sent_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """A possible number that no numbering plan knows is kept, and the log says so (masked)."""
    assert normalize_number("+49 999 9999999", None) == "+499999999999"
    assert "not a known valid number" in caplog.text
    assert "+499999999999" not in caplog.text


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


def test_prepare_checks_text_and_every_target_before_sending() -> None:
    """One bad target refuses the whole message."""
    with pytest.raises(MessageError) as err:
        prepare("Disk full", None, ["+491701234567", "not a number"], region="DE", supported=NUMBERS_ONLY)
    assert err.value.key == "invalid_number"


@pytest.mark.parametrize(
    ("message", "title", "key"),
    [
        ("", None, "empty_message"),
        ("   ", "", "empty_message"),
        ("x" * (MAX_MESSAGE_LENGTH + 1), None, "message_too_long"),
    ],
)
def test_prepare_refuses_empty_and_huge_messages(message: str, title: str | None, key: str) -> None:
    """Empty and oversized texts are named errors."""
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
