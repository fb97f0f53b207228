"""Which words drove an emotion: occlusion, the model-agnostic explanation.

Drop each word in turn and see how much the label's calibrated score falls; the text and
every variant are scored in one batch, so one call to the model explains a message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from services.emotion.text import clean_text


def occlusion_drivers(
    text: str, score: Callable[[Sequence[str]], Sequence[float]], top_k: int = 3
) -> list[tuple[str, float]]:
    """The ``top_k`` words whose removal lowers ``score`` most, with how much each adds."""
    words = clean_text(text).split(" ")
    if not any(words):
        return []
    variants = [text] + [" ".join(words[:i] + words[i + 1 :]) for i in range(len(words))]
    scores = score(variants)
    drops: dict[str, float] = {}
    for word, variant_score in zip(words, scores[1:], strict=True):
        drop = scores[0] - variant_score
        shown = word.strip(".,;:!?\"'()[]{}") or word
        if drop > 0 and drop > drops.get(shown, 0.0):
            drops[shown] = drop
    ranked = sorted(drops.items(), key=lambda item: -item[1])[:top_k]
    return [(word, round(drop, 4)) for word, drop in ranked]
