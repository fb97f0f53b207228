"""gRPC client of the emotion service, with a deadline on every call.

Handlers ask for one analysis each; the analyses asked for in the same turn of the event
loop travel together as one ``AnalyzeBatch`` call (see ``shared.grpc.batching``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import grpc
from rapport.emotion.v1 import emotion_service_pb2 as emotion_pb
from rapport.emotion.v1 import emotion_service_pb2_grpc as emotion_grpc

from shared.errors import InvalidInputError
from shared.grpc.batching import Coalescer
from shared.grpc.client import call

MAX_BATCH = 64
"""Most analyses one call carries; well under the emotion service's limit per call."""


class EmotionClient:
    def __init__(self, channel: grpc.aio.Channel, deadline_seconds: float) -> None:
        self._stub = emotion_grpc.EmotionServiceStub(channel)
        self._deadline = deadline_seconds
        self._batches: Coalescer[emotion_pb.AnalyzeRequest, emotion_pb.AnalyzeResponse] = Coalescer(
            "AnalyzeBatch", self._analyze_batch, MAX_BATCH
        )

    async def analyze(
        self,
        text: str,
        language_hint: str,
        previous_language: str = "",
        *,
        include_embedding: bool = False,
        no_embedding_for_intents: Collection[str] = (),
        language_and_intent_only: bool = False,
    ) -> emotion_pb.AnalyzeResponse:
        """The analysis of one text; raises like a unary call would, and only for this text."""
        if not text.strip():  # refused here, so one blank text cannot fail a whole batch
            raise InvalidInputError("INVALID_ARGUMENT: text is empty")
        return await self._batches.submit(
            emotion_pb.AnalyzeRequest(
                text=text,
                language_hint=language_hint,
                previous_language=previous_language,
                include_embedding=include_embedding,
                no_embedding_for_intents=sorted(no_embedding_for_intents),
                language_and_intent_only=language_and_intent_only,
            )
        )

    async def embed(self, texts: Sequence[str]) -> dict[str, list[list[float]]]:
        """``texts`` in every retrieval space the emotion service answers in."""
        response: emotion_pb.EmbedResponse = await call(
            self._stub.Embed,
            emotion_pb.EmbedRequest(texts=texts),
            deadline_seconds=self._deadline * 5,
        )
        return {space.model: [list(v.values) for v in space.vectors] for space in response.spaces}

    async def _analyze_batch(
        self, items: list[emotion_pb.AnalyzeRequest]
    ) -> list[emotion_pb.AnalyzeResponse]:
        response: emotion_pb.AnalyzeBatchResponse = await call(
            self._stub.AnalyzeBatch,
            emotion_pb.AnalyzeBatchRequest(items=items),
            deadline_seconds=self._deadline,
        )
        return list(response.results)
