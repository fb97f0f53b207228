"""SMS encoding and segments, as carriers count them.

A message that fits the GSM 03.38 alphabet travels as GSM-7: 160 characters in one
segment, 153 per segment when split (the rest is the concatenation header); characters
of the extension table (``{ } [ ] ~ \\ | ^ €`` and form feed) take two septets. Any other
character switches the whole message to UCS-2: 70 characters, 67 per segment, where a
character outside the Basic Multilingual Plane (most emoji) takes two.
"""

from __future__ import annotations

from dataclasses import dataclass

_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_EXTENSION = set("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True, slots=True)
class Segments:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    count: int


def is_gsm7(text: str) -> bool:
    return all(c in _BASIC or c in _EXTENSION for c in text)


def _units(text: str, gsm7: bool) -> int:
    if gsm7:
        return sum(2 if c in _EXTENSION else 1 for c in text)
    return len(text.encode("utf-16-le")) // 2


def segments(text: str) -> Segments:
    """How a carrier will encode and split ``text``."""
    gsm7 = is_gsm7(text)
    units = _units(text, gsm7)
    single, part = (GSM7_SINGLE, GSM7_PART) if gsm7 else (UCS2_SINGLE, UCS2_PART)
    count = 1 if units <= single else -(-units // part)
    return Segments("GSM-7" if gsm7 else "UCS-2", units, count)


def fit(text: str, max_segments: int, ellipsis: str = "...") -> str:
    """``text`` shortened (at a word boundary when possible) to at most ``max_segments``."""
    if segments(text).count <= max_segments:
        return text
    gsm7 = is_gsm7(text)
    single, part = (GSM7_SINGLE, GSM7_PART) if gsm7 else (UCS2_SINGLE, UCS2_PART)
    budget = (single if max_segments == 1 else part * max_segments) - _units(ellipsis, gsm7)
    kept, used = [], 0
    for char in text:
        cost = _units(char, gsm7)
        if used + cost > budget:
            break
        kept.append(char)
        used += cost
    cut = "".join(kept)
    if " " in cut[len(cut) // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip() + ellipsis
