"""Reading a satisfaction rating from what a customer wrote back: CSAT (1 to 5) or, when
the business chose it (``rating_scale`` in policy.yaml), NPS (0 to 10).

Only asked for right after an agent resolved a conversation, so a message that starts
with a score is taken as the answer: "4", "4/5", "5 stars, thanks!", "⭐⭐⭐", "2 - slow";
on NPS "9", "10/10", "nine!", "sieben - gut". Anything else is an ordinary message and
the conversation goes back to the bot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_STAR_WORDS = r"stars?|estrellas?|étoiles?|sterne?|estrelas?"
_SCORE = re.compile(
    rf"^\s*([1-5])(?!\d|[.,]\d)\s*(?:/\s*5|(?:{_STAR_WORDS})\b|[★⭐]+)?\s*[-–—:,.!)]*\s*(.*)$",
    re.IGNORECASE | re.DOTALL,
)
_STARS = re.compile(r"^\s*([★⭐](?:\ufe0f)?){1,5}(?![★⭐])\s*[-–—:,.!]*\s*(.*)$", re.DOTALL)
_STAR = re.compile(r"[★⭐]")

_NPS_SCORE = re.compile(
    r"^\s*(10|[0-9])(?!\d|[.,]\d)\s*(?:/\s*10)?\s*[-–—:,.!)]*\s*(.*)$", re.DOTALL
)
# 0 to 10 in words, in the voice's languages (en, es, fr, de, pt).
_NUMBER_WORDS = {
    0: "zero cero zéro null",
    1: "one uno una un une eins ein um",
    2: "two dos deux zwei dois duas",
    3: "three tres trois drei três",
    4: "four cuatro quatre vier quatro",
    5: "five cinco cinq fünf",
    6: "six seis sechs",
    7: "seven siete sept sieben sete",
    8: "eight ocho huit acht oito",
    9: "nine nueve neuf neun nove",
    10: "ten diez dix zehn dez",
}
_SCORE_OF_WORD = {word: score for score, words in _NUMBER_WORDS.items() for word in words.split()}
# A number word counts alone or before a separator: "nine, great" but not "one more thing".
_NPS_WORD = re.compile(
    rf"^\s*({'|'.join(_SCORE_OF_WORD)})(?!\w)\s*(?:/\s*10)?\s*(?:[-–—:,.!)]+\s*(.*)|$)",
    re.IGNORECASE | re.DOTALL,
)


class Scale(StrEnum):
    """The question the customer is asked after a resolution."""

    CSAT_5 = "csat_5"
    NPS_10 = "nps_10"


@dataclass(frozen=True, slots=True)
class Rating:
    score: int
    comment: str


def read_rating(text: str) -> Rating | None:
    """The rating in ``text``, or None when it does not start with one."""
    if matched := _SCORE.match(text):
        return Rating(int(matched.group(1)), matched.group(2).strip())
    if matched := _STARS.match(text):
        stars = len(_STAR.findall(text[: matched.start(2)]))
        return Rating(stars, matched.group(2).strip())
    return None


def read_nps(text: str) -> Rating | None:
    """The 0-10 answer to "how likely are you to recommend us?" that ``text`` starts
    with, in digits or in words, or None."""
    if matched := _NPS_SCORE.match(text):
        return Rating(int(matched.group(1)), matched.group(2).strip())
    if matched := _NPS_WORD.match(text):
        return Rating(_SCORE_OF_WORD[matched.group(1).lower()], (matched.group(2) or "").strip())
    return None


def read_score(text: str, scale: Scale) -> Rating | None:
    """The answer to the question of ``scale`` that ``text`` starts with, or None."""
    return read_nps(text) if scale is Scale.NPS_10 else read_rating(text)
