"""Splitting long texts into numbered parts for providers with a length limit."""

from __future__ import annotations

import random
from urllib.parse import urlencode

import pytest

from custom_components.sms_alerts.api.base import form_body
from custom_components.sms_alerts.api.text import split_numbered, utf16_len


def test_short_text_is_one_part() -> None:
    """A text within the limit is sent as it is."""
    assert split_numbered("Disk full", 300) == ["Disk full"]
    assert split_numbered("x" * 300, 300) == ["x" * 300]


def test_long_text_is_split_on_words_with_numbered_prefixes() -> None:
    """Parts break between words and carry (i/n); the prefix counts toward the limit."""
    text = " ".join(f"word{i:03d}" for i in range(100))  # 799 characters
    parts = split_numbered(text, 300)
    assert [p[:6] for p in parts] == ["(1/3) ", "(2/3) ", "(3/3) "]
    assert all(utf16_len(p) <= 300 for p in parts)
    assert " ".join(p[6:] for p in parts) == text


def test_a_word_longer_than_a_part_is_hard_cut() -> None:
    """Only a single word that cannot fit is cut."""
    parts = split_numbered("a" * 700, 300)
    assert all(utf16_len(p) <= 300 for p in parts)
    assert "".join(p.split(") ", 1)[1] for p in parts) == "a" * 700


def test_surrogate_pairs_are_never_split() -> None:
    """Emoji (two UTF-16 units) stay whole at part boundaries."""
    text = "🚨" * 400  # 800 units, one "word"
    parts = split_numbered(text, 300)
    assert all(utf16_len(p) <= 300 for p in parts)
    assert "".join(p.split(") ", 1)[1] for p in parts) == text


@pytest.mark.parametrize("count", [9, 10, 11, 99, 100])
def test_prefix_width_grows_with_the_number_of_parts(count: int) -> None:
    """(10/10) is wider than (9/9): the split still respects the limit."""
    text = " ".join(["abcdefghi"] * (count * 3))
    parts = split_numbered(text, 40)
    assert all(utf16_len(p) <= 40 for p in parts)
    assert parts[-1].startswith(f"({len(parts)}/{len(parts)}) ")


def test_utf16_length() -> None:
    """BMP characters count one unit, others two."""
    assert utf16_len("ř€a") == 3
    assert utf16_len("🚨") == 2


def test_form_body_encodes_as_urlencode_does() -> None:
    """The fast form encoder gives urlencode's bytes for plain, spaced, quoted, slashed, accented and emoji text."""
    rng = random.Random(7)  # noqa: S311 - reproducible test texts
    alphabet = "aZ09_.~-+&=%/ \"'\\?#€éřß日本😀\n\t\x00"
    samples = ["", "apiuser", "00491701234567", "Disk full", "a+b&c=d", "P@ss w0rd!", "Teplota 31 °C 🔥"]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(2000)]
    for value in samples:
        fields = {"username": value, "text": value, value or "k": "v"}
        assert form_body(fields) == urlencode(fields).encode(), repr(value)
