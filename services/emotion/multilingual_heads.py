"""What the multilingual encoder's embedding means for Rapport: emotions, sentiment and
intent of a message in a language other than English.

Linear heads on the frozen multilingual-e5-small embedding, fitted on XED (eight
languages) and GoEmotions and calibrated on their dev splits by
``training/multilingual.py``, which writes ``multilingual/heads.json``. Intent comes from
the same example messages as English (``intents.yaml``): e5 places a Spanish request
near its English and German paraphrases, so every example counts in every language.

e5's vectors also say which language a text is in: two German texts are nearer than a
German and a French one saying the same, so "wo ist meine Bestellung" sat nearer a German
example of another intent than the French and English examples of its own. Every vector
is therefore moved by its language's mean vector (``LanguageCentring``, a known remedy
for multilingual encoders) before any head or example reads it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from services.emotion.batch_memo import LastBatch
from services.emotion.encoder import Floats, as_tuple, sigmoid, softmax
from services.emotion.encoder_heads import platt
from services.emotion.example_intents import ExampleIntents, Examples
from services.emotion.multilingual_encoder import MultilingualEncoder, load_known
from services.emotion.predictor import (
    RAPPORT_EMOTIONS,
    EmotionScores,
    IntentGuess,
    SentimentScore,
    sentiment_at,
)

EXAMPLE_VECTORS = "examples.npz"
"""The shipped intent examples' vectors, so that start-up need not embed them."""


@dataclass(frozen=True, slots=True)
class LinearHead:
    """``labels`` scored from an embedding: ``embedding @ weights.T + bias``."""

    labels: tuple[str, ...]
    weights: Floats
    bias: Floats

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> LinearHead:
        return cls(
            tuple(spec["labels"]),
            np.asarray(spec["weights"], dtype=np.float32),
            np.asarray(spec["bias"], dtype=np.float32),
        )

    def logits(self, embeddings: Floats) -> Floats:
        return np.asarray(embeddings @ self.weights.T + self.bias, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class LanguageCentring:
    """Subtracts ``strength`` times the mean vector of each text's language (from XED's
    training lines) and renormalises; a language without a mean takes the mean of all."""

    means: Mapping[str, Floats]
    strength: float
    overall: Floats = field(init=False)  # the mean of the means, for other languages

    def __post_init__(self) -> None:
        object.__setattr__(self, "overall", np.mean(list(self.means.values()), axis=0))

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> LanguageCentring:
        means = {k: np.asarray(v, dtype=np.float32) for k, v in spec["means"].items()}
        return cls(means, float(spec["strength"]))

    def apply(self, vectors: Floats, languages: Sequence[str]) -> Floats:
        shift = np.array([self.means.get(language, self.overall) for language in languages])
        moved = vectors - self.strength * shift.reshape(vectors.shape)
        norms = np.linalg.norm(moved, axis=1, keepdims=True)
        return np.asarray(moved / np.where(norms == 0, 1.0, norms), dtype=np.float32)


@dataclass(frozen=True, slots=True)
class MultilingualReading:
    emotions: EmotionScores
    sentiment: SentimentScore
    intent: IntentGuess
    vector: tuple[float, ...] = ()  # e5's own unit vector, before centring (for retrieval)


class MultilingualHeads:
    """The multilingual encoder and its heads; a batch is embedded once for all heads."""

    def __init__(
        self,
        encoder: MultilingualEncoder,
        spec: Mapping[str, Any],
        examples: Examples,
    ) -> None:
        self.encoder = encoder
        self.version: str = spec["version"]
        self._emotion = LinearHead.from_spec(spec["emotion"])
        # Platt scaling fitted on customer messages: scores comparable across labels
        # (one (a, b) pair per label, as columns).
        self._calibration = np.array(
            [spec["emotion"]["calibration"][label] for label in self._emotion.labels],
            dtype=np.float64,
        ).T
        self._thresholds = np.array(
            [spec["emotion"]["thresholds"][label] for label in self._emotion.labels]
        )
        self._sentiment = LinearHead.from_spec(spec["sentiment"])
        low, high = spec["sentiment"]["cut"]
        self._sentiment_cut = (float(low), float(high))
        self._intent_threshold = float(spec["intent"]["threshold"])
        self.centring = LanguageCentring.from_spec(spec["centring"])
        self.examples = ExampleIntents(self.embed, examples)
        # The analyzer asks each head in turn for one batch: the first call embeds it.
        self.read = LastBatch(self._read)

    @classmethod
    def load(cls, directory: Path, examples: Examples, *, threads: int = 1) -> MultilingualHeads:
        spec = json.loads((directory / "heads.json").read_text(encoding="utf-8"))
        known = load_known(directory / EXAMPLE_VECTORS)
        return cls(MultilingualEncoder(threads=threads, known=known), spec, examples)

    def _read(self, texts: Sequence[str], languages: Sequence[str]) -> list[MultilingualReading]:
        raw = self.encoder.embed(texts)
        readings = self.read_embeddings(self.centring.apply(raw, languages))
        return [replace(r, vector=as_tuple(v)) for r, v in zip(readings, raw, strict=True)]

    def embed(self, texts: Sequence[str], languages: Sequence[str]) -> Floats:
        """The vectors every head reads: e5's, centred on each text's language."""
        return self.centring.apply(self.encoder.embed(texts), languages)

    def emotion_scores(self, texts: Sequence[str], language: str, label: str) -> list[float]:
        """``label``'s score for each text (for explanations by occlusion)."""
        column = self._emotion.labels.index(label)
        vectors = self.embed(texts, [language] * len(texts))
        return [float(x) for x in self.emotion_probabilities(vectors)[:, column]]

    def emotion_probabilities(self, embeddings: Floats) -> Floats:
        """Calibrated probability of each label (columns in ``RAPPORT_EMOTIONS`` order)."""
        raw = sigmoid(self._emotion.logits(embeddings))
        return platt(raw, self._calibration[0], self._calibration[1])

    def read_embeddings(self, embeddings: Floats) -> list[MultilingualReading]:
        """Every head's reading of already centred embeddings."""
        emotions = self.emotion_probabilities(embeddings)
        sentiment = softmax(self._sentiment.logits(embeddings))
        labels = self._sentiment.labels
        polarity = sentiment[:, labels.index("positive")] - sentiment[:, labels.index("negative")]
        intents = self.examples.classify(embeddings, self._intent_threshold)
        readings = []
        for i, row in enumerate(emotions):
            scores = dict.fromkeys(RAPPORT_EMOTIONS, 0.0)
            scores.update(
                {
                    label: round(float(x), 4)
                    for label, x in zip(self._emotion.labels, row, strict=True)
                }
            )
            detected = tuple(
                self._emotion.labels[j] for j in np.argsort(-row) if row[j] >= self._thresholds[j]
            )
            readings.append(
                MultilingualReading(
                    EmotionScores(scores, detected, self.version),
                    sentiment_at(float(polarity[i]), self._sentiment_cut),
                    intents[i],
                )
            )
        return readings
