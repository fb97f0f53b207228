"""Text as Rapport's models read it: cleaned of what breaks a tokenizer (lone surrogates,
invisible characters, line breaks), and for the fastText heads normalised into tokens."""

from __future__ import annotations

import functools
import re
import sys
import unicodedata


def _mark_class() -> str:
    """A regex class of every combining mark, so marks stay glued to their letters."""
    ranges: list[str] = []
    start = -1
    for cp in range(sys.maxunicode + 2):
        is_mark = cp <= sys.maxunicode and unicodedata.category(chr(cp))[0] == "M"
        if is_mark and start < 0:
            start = cp
        elif not is_mark and start >= 0:
            ranges.append(f"{re.escape(chr(start))}-{re.escape(chr(cp - 1))}")
            start = -1
    return "".join(ranges)


# Invisible characters removed outright: zero-width, bidi controls, soft hyphen, variation
# selectors; typographic quotes folded to the ASCII apostrophe; control characters → space.
_CLEAN = {
    **dict.fromkeys(
        map(ord, "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"),
        None,
    ),
    **dict.fromkeys(map(ord, "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"), None),
    **dict.fromkeys(range(0xFE00, 0xFE10), None),
    **dict.fromkeys(map(ord, "\u2018\u2019\u201b\u02bc`\u00b4"), "'"),
    **dict.fromkeys([*range(0x20), *range(0x7F, 0xA1), 0x2028, 0x2029], " "),
}
_ASCII_SYMBOLS = {
    **{ord(c): f" {c} " for c in '!"#$%&()*+,-./:;<=>?@[\\]^`{|}~'},
    **{ord(c): " " for c in "\t\n\v\f\r"},
}
_DIGITS = re.compile(r"\d+")
_ELONGATED = re.compile(r"(\w)\1{2,}")
_REPEATED_MARK = re.compile(r"([^\w\s])\1{3,}")
_SYMBOL = re.compile(rf"([^\w\s'{_mark_class()}])")
LETTER = re.compile(r"[^\W\d_]")
_LOOSE_APOSTROPHE = re.compile(r"(?<!\w)'|'(?!\w)")


def clean_text(text: str) -> str:
    """Text any fastText model accepts: valid UTF-8 (lone surrogates replaced), NFC,
    no invisible characters, a single line (fastText refuses '\\n')."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Pairs of surrogates become the character they encode; lone ones become U+FFFD.
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if text.isascii():
        return " ".join(text.translate(_CLEAN).split())
    return " ".join(unicodedata.normalize("NFC", text).translate(_CLEAN).split())


@functools.lru_cache(maxsize=16384)
def normalize(text: str) -> str:
    """The one normalisation of training and runtime text for Rapport's own models:
    clean, lower-case, numbers as ``0``, elongations shortened, and every punctuation
    mark, symbol and emoji its own token (fastText splits on spaces only). Cached: every
    head of an analysis normalises the same text."""
    text = clean_text(text).lower()
    text = _DIGITS.sub("0", text)
    text = _ELONGATED.sub(r"\1\1", text)
    text = _REPEATED_MARK.sub(r"\1\1\1", text)
    if text.isascii():
        text = text.translate(_ASCII_SYMBOLS)
    else:
        text = _SYMBOL.sub(r" \1 ", text)
    if "'" in text:
        text = _LOOSE_APOSTROPHE.sub(" ", text)
    return " ".join(text.split())
