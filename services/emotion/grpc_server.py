"""Translates between the EmotionService wire types and the analyzer."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc
from rapport.emotion.v1 import emotion_service_pb2 as pb
from rapport.emotion.v1 import emotion_service_pb2_grpc as pb_grpc

from services.emotion.analyzer import Analysis, Analyzer, LanguageAndIntent, Request
from services.emotion.metrics import DOMINANT_EMOTIONS, INTENTS, MESSAGES_ANALYSED, SENTIMENTS

T = TypeVar("T")
_URGENCY = {
    "low": pb.URGENCY_LEVEL_LOW,
    "normal": pb.URGENCY_LEVEL_NORMAL,
    "high": pb.URGENCY_LEVEL_HIGH,
}
_SENTIMENT = {
    "negative": pb.SENTIMENT_LABEL_NEGATIVE,
    "neutral": pb.SENTIMENT_LABEL_NEUTRAL,
    "positive": pb.SENTIMENT_LABEL_POSITIVE,
}


def to_response(reading: LanguageAndIntent, versions: Mapping[str, str]) -> pb.AnalyzeResponse:
    """The wire answer; the emotion fields stay empty for a language-and-intent-only reading."""
    response = pb.AnalyzeResponse(
        language=pb.Language(
            code=reading.language.code,
            confidence=reading.language.confidence,
            supported=reading.language.supported,
            from_hint=reading.language_from_hint,
        ),
        intent=pb.Intent(name=reading.intent.name, confidence=reading.intent.confidence),
        truncated=reading.truncated,
        analysed_chars=reading.analysed_chars,
        model_versions=versions,
        embedding=reading.embedding.vector if reading.embedding else (),
        embedding_model=reading.embedding.space if reading.embedding else "",
    )
    if isinstance(reading, Analysis):
        response.MergeFrom(_feelings(reading))
    return response


def _feelings(analysis: Analysis) -> pb.AnalyzeResponse:
    """The emotion fields of a full analysis."""
    emotions = sorted(analysis.emotions.scores.items(), key=lambda item: -item[1])
    return pb.AnalyzeResponse(
        emotions=[pb.EmotionScore(label=label, score=score) for label, score in emotions],
        dominant_emotion=analysis.dominant_emotion,
        intensity=analysis.intensity,
        sentiment=pb.Sentiment(
            label=_SENTIMENT[analysis.sentiment.label], score=analysis.sentiment.score
        ),
        sarcasm=pb.Sarcasm(detected=analysis.sarcasm.detected, score=analysis.sarcasm.probability),
        urgency=pb.Urgency(
            level=_URGENCY[analysis.urgency.level],
            score=analysis.urgency.score,
            signals=analysis.urgency.signals,
        ),
        needs_person=pb.NeedsPerson(
            score=analysis.needs_person.score,
            detected=analysis.needs_person.detected,
            signals=analysis.needs_person.signals,
        ),
        model_version=analysis.emotions.model,
        detected_emotions=analysis.emotions.detected,
        drivers=[pb.EmotionDriver(token=t, weight=w) for t, w in analysis.drivers],
    )


def request_of(item: pb.AnalyzeRequest) -> Request:
    return Request(
        item.text,
        item.language_hint,
        item.previous_language,
        item.include_embedding,
        frozenset(item.no_embedding_for_intents),
        item.language_and_intent_only,
    )


class EmotionServicer(pb_grpc.EmotionServiceServicer):
    """Serves ``rapport.emotion.v1.EmotionService``; refuses empty text and oversized batches."""

    def __init__(
        self,
        analyzer: Analyzer,
        versions: Mapping[str, str],
        max_batch_items: int,
        workers: int = 1,
    ) -> None:
        self._analyzer = analyzer
        self._versions = dict(versions)
        self._max_batch_items = max_batch_items
        # The models run on worker threads, not the event loop: onnxruntime lets go of the
        # GIL, so with two workers two batches are read at once on two cores, and the loop
        # keeps taking calls (and health checks) meanwhile.
        self._workers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="analysis")

    async def _off_loop(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._workers, functools.partial(work, *args, **kwargs))

    @property
    def versions(self) -> dict[str, str]:
        return dict(self._versions)

    async def Analyze(  # noqa: N802 - the name is the RPC's
        self, request: pb.AnalyzeRequest, context: grpc.aio.ServicerContext
    ) -> pb.AnalyzeResponse:
        if not request.text.strip():
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "text is empty")
        analysis = await self._off_loop(
            self._analyzer.analyze, request_of(request), include_drivers=request.include_drivers
        )
        self._count([analysis])
        return to_response(analysis, self._versions)

    async def AnalyzeBatch(  # noqa: N802
        self, request: pb.AnalyzeBatchRequest, context: grpc.aio.ServicerContext
    ) -> pb.AnalyzeBatchResponse:
        items = request.items
        await self._refuse_a_bad_batch(
            context, [item.text for item in items], "items", "items[{index}]: text is empty"
        )
        analyses = await self._off_loop(
            self._analyzer.analyze_batch,
            [request_of(item) for item in items],
            include_drivers=request.include_drivers,
        )
        self._count(analyses)
        return pb.AnalyzeBatchResponse(results=[to_response(a, self._versions) for a in analyses])

    async def Embed(  # noqa: N802
        self, request: pb.EmbedRequest, context: grpc.aio.ServicerContext
    ) -> pb.EmbedResponse:
        texts = request.texts
        await self._refuse_a_bad_batch(context, texts, "texts", "texts[{index}] is empty")
        spaces = await self._off_loop(self._analyzer.embed_everywhere, list(texts))
        return pb.EmbedResponse(
            spaces=[
                pb.EmbeddingSpace(model=model, vectors=[pb.Vector(values=v) for v in vectors])
                for model, vectors in spaces.items()
            ]
        )

    async def _refuse_a_bad_batch(
        self, context: grpc.aio.ServicerContext, texts: Sequence[str], name: str, blank: str
    ) -> None:
        """INVALID_ARGUMENT for no texts, too many, or a blank one (``blank`` names it)."""
        if not texts:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{name} is empty")
        if len(texts) > self._max_batch_items:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{len(texts)} {name}; the limit is {self._max_batch_items} per call",
            )
        for index, text in enumerate(texts):
            if not text.strip():
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, blank.format(index=index))

    @staticmethod
    def _count(readings: list[LanguageAndIntent]) -> None:
        """Intents of every message; emotions and sentiment only of those analysed for them."""
        for reading in readings:
            INTENTS.labels(reading.intent.name).inc()
            if isinstance(reading, Analysis):
                DOMINANT_EMOTIONS.labels(reading.dominant_emotion).inc()
                SENTIMENTS.labels(reading.sentiment.label).inc()
        MESSAGES_ANALYSED.inc(len(readings))
