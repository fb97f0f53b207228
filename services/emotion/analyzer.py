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
    # The customer opted out of emotion analysis: no reading of their feelings at all.
    language_and_intent_only: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class LanguageAndIntent:
    """What is read of every message, the opted-out customer's included: none of it is
    about the customer's feelings."""

    language: LanguageGuess
    language_from_hint: bool
    intent: IntentGuess
    truncated: bool
    analysed_chars: int
    embedding: Embedded | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Analysis(LanguageAndIntent):
    """The full reading, for a customer who allows emotion analysis."""

    emotions: EmotionScores
    dominant_emotion: str
    intensity: float
    sentiment: SentimentScore
    sarcasm: SarcasmScore
    urgency: Urgency
    needs_person: NeedsPerson
    drivers: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class _Feelings:
    """The feeling heads' answers for a batch (each list in batch order)."""

    emotions: list[EmotionScores]
    sentiments: list[SentimentScore]
    sarcasms: list[SarcasmScore]


def full_analyses(readings: Sequence[LanguageAndIntent]) -> list[Analysis]:
    """``readings`` of requests that all allowed emotion analysis, typed as such."""
    analyses = [r for r in readings if isinstance(r, Analysis)]
    if len(analyses) != len(readings):
        raise ValueError("a request asked for language and intent only")
    return analyses


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

    def analyze(self, request: Request, *, include_drivers: bool) -> LanguageAndIntent:
        """One message, explained when asked."""
        return self.analyze_batch([request], include_drivers)[0]

    def analyze_batch(
        self, requests: Sequence[Request], include_drivers: bool
    ) -> list[LanguageAndIntent]:
        """Many messages; each head predicts the whole batch in one call. A request with
        ``language_and_intent_only`` gets a :class:`LanguageAndIntent`, the others an
        :class:`Analysis`."""
        texts = [r.text[: self._max_chars] for r in requests]
        with INFERENCE_SECONDS.labels("language").time():
            languages = self._predictor.language(
                texts,
                [r.language_hint for r in requests],
                [r.previous_language for r in requests],
            )
        codes = [language.guess.code for language in languages]
        feelings = self._feelings(requests, texts, codes)
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
        results: list[LanguageAndIntent] = []
        for i, (request, text) in enumerate(zip(requests, texts, strict=True)):
            read = LanguageAndIntent(
                language=languages[i].guess,
                language_from_hint=languages[i].from_context,
                intent=intents[i],
                truncated=len(request.text) > self._max_chars,
                analysed_chars=len(text),
                embedding=embeddings[i],
            )
            if feelings is not None and not request.language_and_intent_only:
                read = self._with_feelings(read, text, feelings, i, include_drivers)
            results.append(read)
        return results

    def _feelings(
        self, requests: Sequence[Request], texts: Sequence[str], codes: Sequence[str]
    ) -> _Feelings | None:
        """The feeling heads' answers, or None when every request opted out. They are asked
        about the whole batch even when only some requests allow it: the encoder pass they
        read is the one intent reads too, and a subset would be encoded a second time."""
        if all(r.language_and_intent_only for r in requests):
            return None
        with INFERENCE_SECONDS.labels("emotion").time():
            emotions = self._predictor.emotions(texts, codes)
        with INFERENCE_SECONDS.labels("sentiment").time():
            sentiments = self._predictor.sentiment(texts, codes)
        with INFERENCE_SECONDS.labels("sarcasm").time():
            sarcasms = self._predictor.sarcasm(texts)
        return _Feelings(emotions, sentiments, sarcasms)

    def _with_feelings(
        self,
        read: LanguageAndIntent,
        text: str,
        feelings: _Feelings,
        i: int,
        include_drivers: bool,
    ) -> Analysis:
        """``read`` completed with the ``i``-th text's feelings, urgency and need of a person."""
        scores, code = feelings.emotions[i], read.language.code
        dominant = scores.detected[0] if scores.detected else NEUTRAL
        strength = intensity(scores, dominant, text)
        urgent = urgency(text, dominant, strength)
        needs_person = self._needs_person.read(
            features(
                scores,
                strength,
                feelings.sentiments[i],
                feelings.sarcasms[i],
                urgent,
                read.intent,
                code,
            )
        )
        drivers: tuple[tuple[str, float], ...] = ()
        if include_drivers and dominant != NEUTRAL:
            with INFERENCE_SECONDS.labels("drivers").time():
                drivers = tuple(self._predictor.emotion_drivers(text, code, dominant))
        return Analysis(
            language=read.language,
            language_from_hint=read.language_from_hint,
            intent=read.intent,
            truncated=read.truncated,
            analysed_chars=read.analysed_chars,
            embedding=read.embedding,
            emotions=scores,
            dominant_emotion=dominant,
            intensity=strength,
            sentiment=feelings.sentiments[i],
            sarcasm=feelings.sarcasms[i],
            urgency=urgent,
            needs_person=needs_person,
            drivers=drivers,
        )
