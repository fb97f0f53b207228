"""Composes the trained heads into one analysis of a customer's message, with its reasons.

The models (behind :class:`Predictor`) give probabilities; this module decides what they
mean for Rapport: which language to trust (the text's, or the channel's hint when the
text is too short to tell), the dominant emotion and its intensity, urgency, and which
words drove the emotion. Pure CPU work, no I/O; each head's time is measured, because
model latency is what an operator tunes batch sizes and replicas against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.emotion.metrics import INFERENCE_SECONDS
from services.emotion.needs_person import NeedsPerson, NeedsPersonModel, features
from services.emotion.predictor import (
    Embedded,
    EmotionScores,
    IntentGuess,
    LanguageGuess,
    Predictor,
    SarcasmScore,
    SentimentScore,
)
from services.emotion.urgency import Urgency, shouting, urgency

NEUTRAL = "neutral"
# How much each emotion stirs a person up, for intensity: anger runs hotter than sadness.
_AROUSAL = {
    "anger": 1.0,
    "frustration": 0.85,
    "anxiety": 0.85,
    "sadness": 0.7,
    "confusion": 0.5,
    "gratitude": 0.6,
    "joy": 0.6,
    NEUTRAL: 0.0,
}


@dataclass(frozen=True, slots=True)
class Request:
    text: str
    language_hint: str = ""
    previous_language: str = ""  # the language the customer last wrote in
    include_embedding: bool = False  # also the retrieval embedding
    # ...unless the message is read as one of these intents (its caller would not use it)
    no_embedding_for_intents: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Analysis:
    language: LanguageGuess
    language_from_hint: bool
    emotions: EmotionScores
    dominant_emotion: str
    intensity: float
    sentiment: SentimentScore
    sarcasm: SarcasmScore
    intent: IntentGuess
    urgency: Urgency
    needs_person: NeedsPerson
    drivers: tuple[tuple[str, float], ...]
    truncated: bool
    analysed_chars: int
    embedding: Embedded | None = None


def intensity(scores: EmotionScores, dominant: str, text: str) -> float:
    """0 (calm) to 1: the dominant emotion's probability weighted by its arousal, plus
    the marks of a raised voice (exclamation marks, capitals)."""
    if dominant == NEUTRAL:
        return 0.0
    base = scores.scores.get(dominant, 0.0) * _AROUSAL.get(dominant, 0.5)
    raised = 0.07 * min(text.count("!"), 3) + (0.15 if shouting(text) else 0.0)
    return round(min(1.0, base + raised), 3)


class Analyzer:
    def __init__(
        self,
        predictor: Predictor,
        needs_person: NeedsPersonModel,
        *,
        max_chars: int,
    ) -> None:
        self._predictor = predictor
        self._needs_person = needs_person
        self._max_chars = max_chars

    @property
    def max_chars(self) -> int:
        return self._max_chars

    @property
    def versions(self) -> Mapping[str, str]:
        """Model version per head, which every answer carries."""
        return {**self._predictor.versions, "needs_person": self._needs_person.version}

    def embed_everywhere(self, texts: Sequence[str]) -> Mapping[str, list[tuple[float, ...]]]:
        """``texts`` in every retrieval space (what a message's embedding is compared with)."""
        with INFERENCE_SECONDS.labels("embedding").time():
            return self._predictor.embed_everywhere([t[: self._max_chars] for t in texts])

    def analyze(self, request: Request, *, include_drivers: bool) -> Analysis:
        """One message, explained when asked."""
        return self.analyze_batch([request], include_drivers)[0]

    def analyze_batch(self, requests: Sequence[Request], include_drivers: bool) -> list[Analysis]:
        """Many messages; each head predicts the whole batch in one call."""
        texts = [r.text[: self._max_chars] for r in requests]
        with INFERENCE_SECONDS.labels("language").time():
            languages = self._predictor.language(
                texts,
                [r.language_hint for r in requests],
                [r.previous_language for r in requests],
            )
        codes = [language.guess.code for language in languages]
        with INFERENCE_SECONDS.labels("emotion").time():
            emotions = self._predictor.emotions(texts, codes)
        with INFERENCE_SECONDS.labels("sentiment").time():
            sentiments = self._predictor.sentiment(texts, codes)
        with INFERENCE_SECONDS.labels("sarcasm").time():
            sarcasms = self._predictor.sarcasm(texts)
        with INFERENCE_SECONDS.labels("intent").time():
            intents = self._predictor.intent(texts, codes)
        with INFERENCE_SECONDS.labels("embedding").time():
            embeddings = self._predictor.embeddings(
                texts,
                codes,
                [
                    r.include_embedding and intent.name not in r.no_embedding_for_intents
                    for r, intent in zip(requests, intents, strict=True)
                ],
            )
        results = []
        for i, text in enumerate(texts):
            scores = emotions[i]
            dominant = scores.detected[0] if scores.detected else NEUTRAL
            strength = intensity(scores, dominant, text)
            urgent = urgency(text, dominant, strength)
            needs_person = self._needs_person.read(
                features(scores, strength, sentiments[i], sarcasms[i], urgent, intents[i], codes[i])
            )
            drivers: tuple[tuple[str, float], ...] = ()
            if include_drivers and dominant != NEUTRAL:
                with INFERENCE_SECONDS.labels("drivers").time():
                    drivers = tuple(self._predictor.emotion_drivers(text, codes[i], dominant))
            results.append(
                Analysis(
                    language=languages[i].guess,
                    language_from_hint=languages[i].from_context,
                    emotions=scores,
                    dominant_emotion=dominant,
                    intensity=strength,
                    sentiment=sentiments[i],
                    sarcasm=sarcasms[i],
                    intent=intents[i],
                    urgency=urgent,
                    needs_person=needs_person,
                    drivers=drivers,
                    truncated=len(requests[i].text) > self._max_chars,
                    analysed_chars=len(text),
                    embedding=embeddings[i],
                )
            )
        return results
