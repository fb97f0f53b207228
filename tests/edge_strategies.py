"""Hypothesis strategies for what reaches Rapport's edges, and the checks on what gets past.

Customer text is drawn around a known word (``noise word noise``) so a test can tell its
message in what was published without applying the edge rules itself: whatever the
noise (lone surrogates, control characters, any code point), the word must arrive, and
the published text must be text every encoder takes.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from hypothesis import strategies as st

SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=())
CONTROLS = st.sampled_from([chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))])
ANY_CHARACTER = st.one_of(st.characters(exclude_categories=()), SURROGATES, CONTROLS)
NOISE = st.text(ANY_CHARACTER, max_size=16)
WORD = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz"), min_size=3, max_size=10)
BLANK = st.text(
    st.sampled_from([" ", "\t", "\n", "\r", "\x00", "\x07", "\x1b", "\x7f", "\x85", "\xa0"]),
    max_size=8,
)
HUGE_DIGITS = st.sampled_from(["9" * 5000, "1" + "0" * 4400, "0" * 300 + "1", "²", "٣", "1e3"])


@dataclass(frozen=True, slots=True)
class Said:
    """A customer's text and the word it surely contains."""

    text: str
    word: str


SAID = st.builds(
    lambda before, word, after: Said(f"{before} {word} {after}", word), NOISE, WORD, NOISE
)


def assert_clean(text: str) -> None:
    """``text`` is what the edge rules promise: encodable, no stray controls, NFC, trimmed."""
    text.encode("utf-8")  # no lone surrogate left
    assert all(c in "\n\t" or unicodedata.category(c) != "Cc" for c in text), ascii(text)
    assert unicodedata.is_normalized("NFC", text), ascii(text)
    assert text == text.strip()
