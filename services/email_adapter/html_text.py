"""HTML mail bodies turned into the text a person reads, safely.

The HTML is only parsed (lxml through inscriptis): nothing is executed or fetched, and
what is never shown to a reader (``<head>``, ``<script>``, ``<style>`` and their kin) is
dropped. Pure: no I/O.
"""

from __future__ import annotations

import html
import re

from inscriptis import get_text  # type: ignore[import-untyped]
from inscriptis.css_profiles import CSS_PROFILES  # type: ignore[import-untyped]
from inscriptis.html_properties import Display  # type: ignore[import-untyped]
from inscriptis.model.config import ParserConfig  # type: ignore[import-untyped]
from inscriptis.model.html_element import HtmlElement  # type: ignore[import-untyped]

from shared.channels.edge import clean_text

_HIDDEN_ELEMENTS = ("head", "title", "script", "style", "noscript", "template", "iframe", "object")
_CONFIG = ParserConfig(
    css={
        **CSS_PROFILES["strict"],
        **{name: HtmlElement(display=Display.none) for name in _HIDDEN_ELEMENTS},
    }
)
_BLANK_RUNS = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_HIDDEN_BLOCKS = re.compile(
    r"<(script|style|head|title|noscript|template)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
_TAG = re.compile(r"<[^>]*>")


def html_to_text(markup: str) -> str:
    """The visible text of ``markup``, paragraphs kept, at most one blank line in a row.

    Markup that lxml cannot take at all is reduced by stripping its tags instead, so a
    broken HTML part still gives its words.
    """
    cleaned = clean_text(markup)
    try:
        text: str = get_text(cleaned, _CONFIG)
    except (ValueError, TypeError, LookupError, RecursionError):
        text = html.unescape(_TAG.sub(" ", _HIDDEN_BLOCKS.sub(" ", cleaned)))
    return tidy_text(text)


def tidy_text(text: str) -> str:
    """``text`` cleaned by the edge rules, without trailing spaces or runs of blank lines."""
    unified = _TRAILING_SPACE.sub("\n", clean_text(text) + "\n")
    return _BLANK_RUNS.sub("\n\n", unified).strip()
