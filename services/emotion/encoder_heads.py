"""What the encoder's outputs mean for Rapport: calibrated emotions on Rapport's taxonomy,
sentiment, sarcasm and intent, each with the cut points chosen on dev data
(``training/calibrate.py`` writes them to ``encoder/heads.json``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from services.emotion.batch_memo import LastBatch
from services.emotion.encoder import Encoder, Floats, sigmoid, softmax
from services.emotion.example_intents import ExampleIntents, Examples
from services.emotion.predictor import (
    RAPPORT_EMOTIONS,
    EmotionScores,
    IntentGuess,
    SarcasmScore,
    SentimentScore,
    sentiment_at,
)

UNKNOWN_INTENT = "unknown"
Coefficients = npt.NDArray[np.float64]


def platt(p: Floats, a: float | Coefficients, b: float | Coefficients) -> Floats:
    """Platt scaling of probabilities (``a``, ``b`` fitted on dev data; one pair for all of
    ``p``, or one per column)."""
    q = np.clip(p.astype(np.float64), 1e-6, 1 - 1e-6)
    return np.asarray(1 / (1 + np.exp(-(a * np.log(q / (1 - q)) + b))), dtype=np.float32)


@dataclass(frozen=True, slots=True)
class LabelPlan:
    """How one Rapport emotion is read: the best of its GoEmotions columns, Platt-scaled,
    detected at ``threshold``."""

    name: str
    columns: list[int]
    a: float
    b: float
    threshold: float


class PlannedScores:
    """Every plan's scores at once: per plan, the few array operations on one or two
    values cost more than the arithmetic (a tenth of a millisecond a message)."""

    def __init__(self, plans: Sequence[LabelPlan]) -> None:
        self._count = len(plans)
        mapped = [i for i, plan in enumerate(plans) if plan.columns]
        self._mapped = np.array(mapped, dtype=np.int64)
        self._columns = np.array([j for i in mapped for j in plans[i].columns], dtype=np.int64)
        self._starts = np.cumsum([0] + [len(plans[i].columns) for i in mapped[:-1]])
        self._a = np.array([plans[i].a for i in mapped], dtype=np.float64)
        self._b = np.array([plans[i].b for i in mapped], dtype=np.float64)

    def __call__(self, probabilities: Floats) -> Floats:
        """One column per plan, in order: the best of its columns of ``probabilities``,
        Platt-scaled; 0 for a plan no column maps to."""
        scores = np.zeros((len(probabilities), self._count), dtype=np.float32)
        if len(self._mapped):
            best = np.maximum.reduceat(probabilities[:, self._columns], self._starts, axis=1)
            scores[:, self._mapped] = platt(best, self._a, self._b)
        return scores


@dataclass(frozen=True, slots=True)
class Reading:
    """Every English head's answer for one text, from one encoder pass."""

    emotions: EmotionScores
    sentiment: SentimentScore
    sarcasm: SarcasmScore
    intent: IntentGuess


class EncoderHeads:
    """The encoder and its calibration; a batch is encoded once however many heads ask."""

    def __init__(self, encoder: Encoder, spec: Mapping[str, Any]) -> None:
        self.encoder = encoder
        self.version: str = spec["version"]
        labels = encoder.heads["goemotions"]
        mapping: Mapping[str, str] = spec["emotion"]["mapping"]
        self._plan = [
            LabelPlan(
                target,
                [j for j, label in enumerate(labels) if mapping[label] == target],
                float(spec["emotion"]["calibration"][target][0]),
                float(spec["emotion"]["calibration"][target][1]),
                float(spec["emotion"]["thresholds"][target]),
            )
            for target in RAPPORT_EMOTIONS
        ]
        self._scores = PlannedScores(self._plan)
        self._sentiment_labels = encoder.heads["sentiment"]
        low, high = spec["sentiment"]["cut"]
        self._sentiment_cut = (float(low), float(high))
        self._sarcasm = tuple(map(float, spec["sarcasm"]["calibration"]))
        self._sarcasm_threshold = float(spec["sarcasm"]["threshold"])
        self._intents = encoder.heads["intent"]
        self._intent_threshold = float(spec["intent"]["threshold"])
        self._examples_threshold = float(spec["intent"]["examples_threshold"])
        self.examples: ExampleIntents | None = None
        # The analyzer asks each head in turn for one batch: the first call encodes it.
        self.read = LastBatch(self._read)

    @classmethod
    def load(cls, directory: Path, examples: Examples, *, threads: int = 1) -> EncoderHeads:
        """The encoder in ``directory``, reading intents from ``examples``."""
        spec = json.loads((directory / "heads.json").read_text(encoding="utf-8"))
        heads = cls(Encoder(directory, threads=threads), spec)
        heads.use_examples(examples)
        return heads

    def use_examples(self, examples: Examples) -> None:
        """Read intents from these example messages first (see ``example_intents``)."""
        self.examples = ExampleIntents(
            lambda texts, _: self.encoder.run(texts)["embedding"], examples
        )
        self.read.forget()

    def emotion_scores(self, texts: Sequence[str], label: str) -> list[float]:
        """``label``'s calibrated score for each text (for occlusion: one padded call)."""
        column = next(j for j, plan in enumerate(self._plan) if plan.name == label)
        outputs = self.encoder.run_together(texts)
        return [float(x) for x in self._scores(sigmoid(outputs["goemotions"]))[:, column]]

    def _read(self, texts: Sequence[str]) -> list[Reading]:
        outputs = self.encoder.run(texts)
        grouped = self._scores(sigmoid(outputs["goemotions"]))
        sentiment = softmax(outputs["sentiment"])
        positive = sentiment[:, self._sentiment_labels.index("positive")]
        negative = sentiment[:, self._sentiment_labels.index("negative")]
        sarcasm = platt(sigmoid(outputs["sarcasm"])[:, 0], *self._sarcasm)
        intents = softmax(outputs["intent"])
        nearest = [IntentGuess(UNKNOWN_INTENT, 0.0)] * len(texts)
        if self.examples is not None:
            nearest = self.examples.classify(outputs["embedding"], self._examples_threshold)
        readings = []
        for i in range(len(texts)):
            scores = {
                plan.name: round(float(x), 4)
                for plan, x in zip(self._plan, grouped[i], strict=True)
            }
            detected = sorted(
                (
                    (scores[plan.name], plan.name)
                    for plan in self._plan
                    if scores[plan.name] >= plan.threshold
                ),
                reverse=True,
            )
            intent = nearest[i]
            if intent.name == UNKNOWN_INTENT:
                # No example is near enough: the head trained on Bitext's requests decides.
                best = int(intents[i].argmax())
                confidence = float(intents[i, best])
                name = (
                    self._intents[best] if confidence >= self._intent_threshold else UNKNOWN_INTENT
                )
                intent = IntentGuess(name, round(confidence, 4))
            sarcastic = round(float(sarcasm[i]), 4)
            readings.append(
                Reading(
                    EmotionScores(scores, tuple(x for _, x in detected), self.version),
                    sentiment_at(float(positive[i] - negative[i]), self._sentiment_cut),
                    SarcasmScore(sarcastic, sarcastic >= self._sarcasm_threshold),
                    intent,
                )
            )
        return readings
