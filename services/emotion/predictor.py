"""The contract between the emotion service and its trained models.

The service composes a full analysis (intensity, urgency, explanations) from these
head outputs; the models behind them are loaded from local files once, at start-up.
Every method takes a batch (a single text is a batch of one) because fastText predicts
a list in one native call, which is what makes batch analysis fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

RAPPORT_EMOTIONS: tuple[str, ...] = (
    "anger",
    "frustration",
    "sadness",
    "anxiety",
    "confusion",
    "gratitude",
    "joy",
    "neutral",
)
"""Rapport's customer-service emotion taxonomy; the model card maps GoEmotions onto it."""


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    code: str  # ISO 639-1, "und" when it cannot be told
    confidence: float
    supported: bool  # an emotion model was trained for this language


@dataclass(frozen=True, slots=True)
class Identified:
    guess: LanguageGuess
    from_context: bool  # the previous language or the channel's hint decided, not the text


@dataclass(frozen=True, slots=True)
class EmotionScores:
    scores: Mapping[str, float]  # every RAPPORT_EMOTIONS label → calibrated probability
    detected: tuple[str, ...]  # labels at or above their decision threshold, best first
    model: str  # version of the model that produced the scores


@dataclass(frozen=True, slots=True)
class SentimentScore:
    label: str  # "negative" | "neutral" | "positive"
    score: float  # -1 (most negative) .. 1 (most positive)


def sentiment_at(score: float, cut: tuple[float, float]) -> SentimentScore:
    """A polarity score read with a model's cut points: negative at or below ``cut[0]``,
    positive at or above ``cut[1]``, neutral between."""
    low, high = cut
    label = "positive" if score >= high else "negative" if score <= low else "neutral"
    return SentimentScore(label, round(score, 4))


@dataclass(frozen=True, slots=True)
class SarcasmScore:
    probability: float
    detected: bool


@dataclass(frozen=True, slots=True)
class IntentGuess:
    name: str  # "unknown" below the confidence threshold
    confidence: float


@dataclass(frozen=True, slots=True)
class Embedded:
    """A text's retrieval embedding (unit length) and the space it is in."""

    space: str
    vector: tuple[float, ...]


class Predictor(Protocol):
    """Trained heads over already-loaded models; pure CPU work, safe to call concurrently."""

    @property
    def versions(self) -> Mapping[str, str]:
        """Model version per head: language, emotion, sentiment, sarcasm, intent, encoder."""
        ...

    def language(
        self, texts: Sequence[str], hints: Sequence[str], previous: Sequence[str]
    ) -> list[Identified]:
        """Each text's language, given the channel's hint and the customer's previous
        language (either may be empty)."""
        ...

    def emotions(self, texts: Sequence[str], languages: Sequence[str]) -> list[EmotionScores]: ...

    def sentiment(self, texts: Sequence[str], languages: Sequence[str]) -> list[SentimentScore]: ...

    def sarcasm(self, texts: Sequence[str]) -> list[SarcasmScore]: ...

    def intent(self, texts: Sequence[str], languages: Sequence[str]) -> list[IntentGuess]: ...

    def embeddings(
        self, texts: Sequence[str], languages: Sequence[str], wanted: Sequence[bool]
    ) -> list[Embedded | None]:
        """The retrieval embedding of each text ``wanted``, in the space its language is
        compared in (None where not wanted, or when the model has none)."""
        ...

    def embed_everywhere(self, texts: Sequence[str]) -> Mapping[str, list[tuple[float, ...]]]:
        """Each text in every retrieval space, by space (empty when the model has none)."""

    def emotion_drivers(
        self, text: str, language: str, label: str, top_k: int = 3
    ) -> list[tuple[str, float]]:
        """The words of ``text`` that raise ``label``'s score most, with how much each adds."""
        ...
