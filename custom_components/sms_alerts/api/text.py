"""Text helpers the provider clients share: UTF-16 length and splitting into numbered parts."""

from __future__ import annotations

import re

_WORD = re.compile(r"\S+\s*")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: characters outside the BMP count twice (a stray surrogate once)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _cut(word: str, limit: int) -> tuple[str, str]:
    """Cut the longest head of a word that fits in `limit` UTF-16 units, never inside a surrogate pair."""
    used = 0
    for index, char in enumerate(word):
        cost = 2 if ord(char) > 0xFFFF else 1  # noqa: PLR2004 - the BMP's last code point
        if used + cost > limit:
            return word[:index], word[index:]
        used += cost
    return word, ""


def _pack(text: str, limit: int) -> list[str]:
    """Pack words into chunks of at most `limit` UTF-16 units; hard-cut only a word longer than a chunk."""
    chunks: list[str] = []
    current = ""
    for found in _WORD.findall(text):
        rest = found
        while rest:
            if utf16_len(current + rest.rstrip()) <= limit:
                current += rest
                rest = ""
            elif current:
                chunks.append(current.rstrip())
                current = ""
            else:
                head, rest = _cut(rest, limit)
                chunks.append(head)
    if current.strip():
        chunks.append(current.rstrip())
    return chunks


def split_numbered(text: str, limit: int) -> list[str]:
    """Split a text longer than `limit` UTF-16 units into parts "(1/3) …", the prefix counted in the limit."""
    text = text.strip()
    if utf16_len(text) <= limit:
        return [text]
    count = 2
    while True:
        prefix_len = len(f"({count}/{count}) ")
        chunks = _pack(text, limit - prefix_len)
        if len(chunks) <= count:
            total = len(chunks)
            return [f"({index}/{total}) {chunk}" for index, chunk in enumerate(chunks, 1)]
        count = len(chunks)
