"""Intents a business defines with a handful of example messages, in any language.

No training: every example is embedded once by the encoder, and a message belongs to the
intent whose examples it is nearest to (the mean cosine similarity of its ``k`` nearest
examples of that intent). Below a calibrated similarity it belongs to none: ``unknown``.
Adding an intent is adding examples; the encoder is never retrained for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import yaml

from services.emotion.encoder import Floats
from services.emotion.predictor import IntentGuess
from shared.nearest_groups import NearestGroups

UNKNOWN = "unknown"
# Nearest examples averaged per intent: 2 read the hand-written dev messages best (0.95
# against 0.94 for 1 and 3, 0.93 for 5); one stray example cannot decide alone.
NEAREST = 2
Examples = Mapping[str, Mapping[str, Sequence[str]]]
"""``{intent: {language: [example message, ...]}}``, as an intents file writes them."""
Embed = Callable[[Sequence[str], Sequence[str]], Floats]
"""Unit vectors of texts, given each text's language (an encoder may use or ignore it)."""


def load_examples(path: Path) -> dict[str, dict[str, list[str]]]:
    """The examples of an intents file: ``intents: {name: {language: [examples]}}``. A
    malformed file stops the service at start-up, naming what is wrong."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    intents = document.get("intents") if isinstance(document, dict) else None
    if not isinstance(intents, dict) or not intents:
        raise ValueError(f"{path}: expected a mapping 'intents: {{name: {{language: [...]}}}}'")
    examples: dict[str, dict[str, list[str]]] = {}
    for name, by_language in intents.items():
        if name == UNKNOWN or not isinstance(by_language, dict):
            raise ValueError(f"{path}: intent {name!r} needs examples by language")
        groups = {str(language): list(group or []) for language, group in by_language.items()}
        texts = [t for group in groups.values() for t in group]
        if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise ValueError(f"{path}: intent {name!r} needs non-empty example messages")
        examples[str(name)] = {language: group for language, group in groups.items() if group}
    return examples


class ExampleIntents:
    def __init__(self, embed: Embed, examples: Examples, k: int = NEAREST) -> None:
        if not examples or any(
            not any(group for group in by_language.values()) for by_language in examples.values()
        ):
            raise ValueError("every intent needs at least one example message")
        self.names: tuple[str, ...] = tuple(sorted(examples))
        pairs = [
            (text, language)
            for name in self.names
            for language, group in examples[name].items()
            for text in group
        ]
        texts = [text for text, _ in pairs]
        self._groups = NearestGroups(
            embed(texts, [language for _, language in pairs]),
            [sum(map(len, examples[name].values())) for name in self.names],
            k,
        )

    def similarities(self, embeddings: Floats) -> Floats:
        """Per message and intent: the mean cosine of the ``k`` nearest examples."""
        return self._groups.similarities(embeddings)

    def classify(self, embeddings: Floats, threshold: float) -> list[IntentGuess]:
        """The nearest intent of each message, or ``unknown`` below ``threshold``."""
        guesses = []
        for row in self.similarities(embeddings):
            best = int(row.argmax())
            score = float(row[best])
            name = self.names[best] if score >= threshold else UNKNOWN
            guesses.append(IntentGuess(name, round(score, 4)))
        return guesses
