"""Reading a satisfaction rating (CSAT, 1 to 5) from what a customer wrote back.

Only asked for right after an agent resolved a conversation, so a message that starts
with a score is taken as the answer: "4", "4/5", "5 stars, thanks!", "⭐⭐⭐", "2 - slow".
Anything else is an ordinary message and the conversation goes back to the bot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_STAR_WORDS = r"stars?|estrellas?|étoiles?|sterne?|estrelas?"
_SCORE = re.compile(
    rf"^\s*([1-5])(?!\d|[.,]\d)\s*(?:/\s*5|(?:{_STAR_WORDS})\b|[★⭐]+)?\s*[-–—:,.!)]*\s*(.*)$",
    re.IGNORECASE | re.DOTALL,
)
_STARS = re.compile(r"^\s*([★⭐](?:\ufe0f)?){1,5}(?![★⭐])\s*[-–—:,.!]*\s*(.*)$", re.DOTALL)
_STAR = re.compile(r"[★⭐]")


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
