"""Translates between the EmotionService wire types and the analyzer."""

from __future__ import annotations

import grpc
from rapport.emotion.v1 import emotion_service_pb2 as pb
from rapport.emotion.v1 import emotion_service_pb2_grpc as pb_grpc

from services.emotion.analyzer import MODEL_VERSION, SUPPORTED_LANGUAGES, Analysis, analyze
from services.emotion.metrics import DOMINANT_EMOTIONS

_URGENCY = {
    "low": pb.URGENCY_LEVEL_LOW,
    "normal": pb.URGENCY_LEVEL_NORMAL,
    "high": pb.URGENCY_LEVEL_HIGH,
}
_SARCASM_THRESHOLD = 0.5
_NEUTRAL_BAND = 0.2


def _sentiment_label(score: float) -> pb.SentimentLabel:
    if score <= -_NEUTRAL_BAND:
        return pb.SENTIMENT_LABEL_NEGATIVE
    if score >= _NEUTRAL_BAND:
        return pb.SENTIMENT_LABEL_POSITIVE
    return pb.SENTIMENT_LABEL_NEUTRAL


def to_response(analysis: Analysis) -> pb.AnalyzeResponse:
    return pb.AnalyzeResponse(
        language=pb.Language(
            code=analysis.language,
            confidence=analysis.language_confidence,
            supported=analysis.language in SUPPORTED_LANGUAGES,
        ),
        emotions=[pb.EmotionScore(label=k, score=v) for k, v in analysis.emotions.items()],
        dominant_emotion=analysis.dominant_emotion,
        intensity=analysis.intensity,
        sentiment=pb.Sentiment(
            label=_sentiment_label(analysis.sentiment_score), score=analysis.sentiment_score
        ),
        sarcasm=pb.Sarcasm(
            detected=analysis.sarcasm_score >= _SARCASM_THRESHOLD, score=analysis.sarcasm_score
        ),
        intent=pb.Intent(name=analysis.intent, confidence=analysis.intent_confidence),
        urgency=pb.Urgency(
            level=_URGENCY[analysis.urgency],
            score=analysis.urgency_score,
            signals=analysis.urgency_signals,
        ),
        model_version=MODEL_VERSION,
    )


class EmotionServicer(pb_grpc.EmotionServiceServicer):
    """Serves ``rapport.emotion.v1.EmotionService``; refuses empty or oversized text."""

    def __init__(self, max_text_chars: int) -> None:
        self._max_text_chars = max_text_chars

    async def Analyze(  # noqa: N802 - the name is the RPC's
        self, request: pb.AnalyzeRequest, context: grpc.aio.ServicerContext
    ) -> pb.AnalyzeResponse:
        text = request.text.strip()
        if not text:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "text is empty")
        if len(text) > self._max_text_chars:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"text has {len(text)} characters; the limit is {self._max_text_chars}",
            )
        analysis = analyze(text, request.language_hint)
        DOMINANT_EMOTIONS.labels(analysis.dominant_emotion).inc()
        return to_response(analysis)
