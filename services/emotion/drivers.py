"""Which words drove an emotion: occlusion, the model-agnostic explanation.

Drop a piece of the text and see how much the label's calibrated score falls; the text and
every variant are scored in one batch, so one call to the model explains a message. The
pieces are single words up to ``MAX_PIECES`` words; a longer message is cut into that
many runs of neighbouring words, so explaining costs the same few variants however long
the message (word by word, a 30-word message took 31 variants and about 100 ms on one
core, most of an ``Analyze`` call).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from services.emotion.text import clean_text

MAX_PIECES = 8


def pieces(words: Sequence[str], most: int = MAX_PIECES) -> list[tuple[int, int]]:
    """``(start, end)`` word spans covering ``words`` in order: one a word when there are
    at most ``most`` words, else ``most`` runs of near-equal length."""
    count = min(len(words), most)
    bounds = [round(i * len(words) / count) for i in range(count + 1)]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def occlusion_drivers(
    text: str, score: Callable[[Sequence[str]], Sequence[float]], top_k: int = 3
) -> list[tuple[str, float]]:
    """The ``top_k`` words (or runs of words) whose removal lowers ``score`` most, with how
    much each adds."""
    words = [word for word in clean_text(text).split(" ") if word]
    if not words:
        return []
    spans = pieces(words)
    variants = [text] + [" ".join(words[:start] + words[end:]) for start, end in spans]
    scores = score(variants)
    drops: dict[str, float] = {}
    for (start, end), variant_score in zip(spans, scores[1:], strict=True):
        drop = scores[0] - variant_score
        shown = " ".join(words[start:end]).strip(".,;:!?\"'()[]{}") or words[start]
        if drop > 0 and drop > drops.get(shown, 0.0):
            drops[shown] = drop
    ranked = sorted(drops.items(), key=lambda item: -item[1])[:top_k]
    return [(piece, round(drop, 4)) for piece, drop in ranked]
