"""The fastText models the service ran before its encoders, behind the ``Predictor``
contract. The service no longer loads them; ``make eval`` still scores them, so every
model card shows what the encoders replaced."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import fasttext  # type: ignore[import-untyped]

from services.emotion.drivers import occlusion_drivers
from services.emotion.predictor import (
    RAPPORT_EMOTIONS,
    Embedded,
    EmotionScores,
    IntentGuess,
    SarcasmScore,
    SentimentScore,
    sentiment_at,
)
from services.emotion.text import normalize

UNDETERMINED = "und"
UNKNOWN_INTENT = "unknown"
# Labels below MIN_PROBABILITY are not returned by fastText (fewer cross from C++ to
# Python) and count as FLOOR, the smallest probability fastText ever reports.
MIN_PROBABILITY = 1e-4
FLOOR = 1e-5


def calibrate(p: float, a: float, b: float) -> float:
    """Platt scaling of a raw fastText probability (``a``, ``b`` fitted on dev data)."""
    p = min(max(p, 1e-6), 1.0 - 1e-6)
    return 1.0 / (1.0 + math.exp(-(a * math.log(p / (1.0 - p)) + b)))


class Ensemble:
    """One or more fastText models over the same labels; their probabilities are averaged."""

    def __init__(self, paths: Sequence[Path], labels: Sequence[str]) -> None:
        # The native predictor of each model: fasttext-predict's list predict returns labels
        # without probabilities, and its per-line wrapper only adds overhead, so every line
        # is one direct native call (the text must end with a newline, as fastText reads it).
        self._predict = [fasttext.load_model(str(path)).f.predict for path in paths]
        self.labels = tuple(labels)
        self._index = {f"__label__{label}": i for i, label in enumerate(self.labels)}

    def probabilities(self, lines: Sequence[str]) -> list[list[float]]:
        """One probability per label for every normalised line."""
        n, index, share = len(self.labels), self._index, 1.0 / len(self._predict)
        rows = []
        for line in lines:
            row = [FLOOR] * n
            for predict in self._predict:
                for p, label in predict(line + "\n", -1, MIN_PROBABILITY, "replace"):
                    row[index[label]] += (p - FLOOR) * share
            rows.append(row)
        return rows

    def best(self, lines: Sequence[str]) -> list[tuple[str, float]]:
        """The most probable label of every normalised line, with its probability."""
        if len(self._predict) > 1:
            rows = self.probabilities(lines)
            tops = [max(range(len(row)), key=row.__getitem__) for row in rows]
            return [(self.labels[j], row[j]) for j, row in zip(tops, rows, strict=True)]
        predict, results = self._predict[0], []
        for line in lines:
            found = predict(line + "\n", 1, 0.0, "replace")
            results.append((found[0][1][9:], found[0][0]) if found else ("", 0.0))
        return results


class EmotionModel:
    """A trained emotion model mapped onto Rapport's taxonomy, calibrated, with thresholds."""

    def __init__(self, models_dir: Path, spec: Mapping[str, Any]) -> None:
        self.version: str = spec["version"]
        self.ensemble = Ensemble([models_dir / f for f in spec["files"]], spec["labels"])
        mapping: Mapping[str, str] = spec["mapping"]
        labels = self.ensemble.labels
        # Per Rapport label: the model labels it gathers, its Platt parameters, threshold.
        self._plan = [
            (
                target,
                [i for i, label in enumerate(labels) if mapping[label] == target],
                float(spec["calibration"][target][0]),
                float(spec["calibration"][target][1]),
                float(spec["thresholds"][target]),
            )
            for target in RAPPORT_EMOTIONS
        ]
        polarity: Mapping[str, str] = spec["polarity"]
        self._positive = [i for i, x in enumerate(labels) if polarity[x] == "positive"]
        self._negative = [i for i, x in enumerate(labels) if polarity[x] == "negative"]
        self._sentiment_cut = (float(spec["sentiment"][0]), float(spec["sentiment"][1]))

    def raw(self, texts: Sequence[str]) -> list[list[float]]:
        """Probabilities over the model's own labels (GoEmotions' 28, XED's Plutchik 8...)."""
        return self.ensemble.probabilities([normalize(text) for text in texts])

    def scores(self, raw: Sequence[Sequence[float]]) -> list[EmotionScores]:
        """Rapport's labels: the best of their source labels, calibrated, thresholded."""
        results = []
        for row in raw:
            scores: dict[str, float] = {}
            detected = []
            for label, sources, a, b, threshold in self._plan:
                score = calibrate(max(map(row.__getitem__, sources)), a, b) if sources else 0.0
                scores[label] = score
                if score >= threshold:
                    detected.append((score, label))
            detected.sort(reverse=True)
            results.append(EmotionScores(scores, tuple(x for _, x in detected), self.version))
        return results

    def polarity(self, row: Sequence[float]) -> float:
        """Positive minus negative evidence, in [-1, 1]."""
        positive = max(map(row.__getitem__, self._positive), default=0.0)
        negative = max(map(row.__getitem__, self._negative), default=0.0)
        return max(-1.0, min(1.0, positive - negative))

    def sentiment(self, raw: Sequence[Sequence[float]]) -> list[SentimentScore]:
        return [sentiment_at(self.polarity(row), self._sentiment_cut) for row in raw]


class FastTextPredictor:
    """Every head over local fastText files; thread-safe (the models are only read)."""

    def __init__(self, models_dir: Path, heads: Mapping[str, Any]) -> None:
        emotion = heads["emotion"]
        self.english = EmotionModel(models_dir, emotion["en"])
        self.multilingual = EmotionModel(models_dir, emotion["xx"])
        self.multilingual_languages = frozenset(emotion["xx"]["languages"])
        self.supported_languages = frozenset({"en"}) | self.multilingual_languages
        sarcasm, intent = heads["sarcasm"], heads["intent"]
        self.sarcasm_model = Ensemble([models_dir / f for f in sarcasm["files"]], sarcasm["labels"])
        self._sarcasm_calibration = (
            float(sarcasm["calibration"][0]),
            float(sarcasm["calibration"][1]),
        )
        self._sarcasm_threshold = float(sarcasm["threshold"])
        self.intent_model = Ensemble([models_dir / f for f in intent["files"]], intent["labels"])
        self._intent_threshold = float(intent["threshold"])
        self._versions = {
            "emotion": f"{self.english.version}+{self.multilingual.version}",
            "sentiment": heads["sentiment"]["version"],
            "sarcasm": sarcasm["version"],
            "intent": intent["version"],
        }
        self._last_raw: tuple[tuple[str, ...], tuple[str, ...], list[list[float]]] | None = None

    @classmethod
    def load(cls, models_dir: Path) -> FastTextPredictor:
        """Read ``heads.json`` (versions, calibration, thresholds) and load every model."""
        heads = json.loads((models_dir / "heads.json").read_text(encoding="utf-8"))
        return cls(models_dir, heads)

    @property
    def versions(self) -> Mapping[str, str]:
        return dict(self._versions)

    # Emotion and sentiment ------------------------------------------------------------

    def _route(self, language: str) -> EmotionModel | None:
        """English (and text whose language cannot be told, e.g. emoji only) goes to the
        GoEmotions model, XED's languages to the multilingual one, the rest to none."""
        if language in ("en", UNDETERMINED, ""):
            return self.english
        if language in self.multilingual_languages:
            return self.multilingual
        return None

    def _raw(
        self, texts: Sequence[str], languages: Sequence[str]
    ) -> tuple[list[EmotionModel | None], list[list[float]]]:
        """Each text's raw probabilities from its language's model. The analyzer asks for
        emotions and then sentiment of the same batch: the second call reuses the first."""
        key = (tuple(texts), tuple(languages))
        models = [self._route(language) for language in languages]
        last = self._last_raw
        if last is not None and last[0] == key[0] and last[1] == key[1]:
            return models, last[2]
        raw: list[list[float]] = [[] for _ in texts]
        for model in (self.english, self.multilingual):
            chosen = [i for i, m in enumerate(models) if m is model]
            if chosen:
                for i, row in zip(chosen, model.raw([texts[i] for i in chosen]), strict=True):
                    raw[i] = row
        self._last_raw = (key[0], key[1], raw)
        return models, raw

    def emotions(self, texts: Sequence[str], languages: Sequence[str]) -> list[EmotionScores]:
        models, raw = self._raw(texts, languages)
        return [
            model.scores([row])[0] if model is not None else _UNSUPPORTED_EMOTIONS
            for model, row in zip(models, raw, strict=True)
        ]

    def sentiment(self, texts: Sequence[str], languages: Sequence[str]) -> list[SentimentScore]:
        models, raw = self._raw(texts, languages)
        return [
            model.sentiment([row])[0] if model is not None else SentimentScore("neutral", 0.0)
            for model, row in zip(models, raw, strict=True)
        ]

    # Sarcasm and intent -------------------------------------------------------------

    def sarcasm(self, texts: Sequence[str]) -> list[SarcasmScore]:
        positive = self.sarcasm_model.labels.index("1")
        a, b = self._sarcasm_calibration
        results = []
        for row in self.sarcasm_model.probabilities([normalize(text) for text in texts]):
            p = round(calibrate(row[positive], a, b), 4)
            results.append(SarcasmScore(p, p >= self._sarcasm_threshold))
        return results

    def embeddings(
        self, texts: Sequence[str], languages: Sequence[str], wanted: Sequence[bool]
    ) -> list[Embedded | None]:
        """fastText's heads have no sentence embedding."""
        return [None for _ in texts]

    def embed_everywhere(self, texts: Sequence[str]) -> Mapping[str, list[tuple[float, ...]]]:
        return {}

    def intent(self, texts: Sequence[str], languages: Sequence[str] = ()) -> list[IntentGuess]:
        results = []
        for name, p in self.intent_model.best([normalize(text) for text in texts]):
            confidence = round(min(1.0, p), 4)
            if not name or confidence < self._intent_threshold:
                name = UNKNOWN_INTENT
            results.append(IntentGuess(name, confidence))
        return results

    # Explanations ---------------------------------------------------------------------

    def emotion_drivers(
        self, text: str, language: str, label: str, top_k: int = 3
    ) -> list[tuple[str, float]]:
        model = self._route(language)
        if model is None or label not in RAPPORT_EMOTIONS:
            return []
        return occlusion_drivers(
            text, lambda texts: [s.scores[label] for s in model.scores(model.raw(texts))], top_k
        )


_UNSUPPORTED_EMOTIONS = EmotionScores(
    MappingProxyType({x: (0.5 if x == "neutral" else 0.05) for x in RAPPORT_EMOTIONS}), (), "none"
)
"""Languages without an emotion model: low-confidence, neutral-leaning, nothing detected."""
