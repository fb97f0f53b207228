"""gRPC client of the emotion service, with a deadline on every call."""

from __future__ import annotations

import grpc
from rapport.emotion.v1 import emotion_service_pb2 as emotion_pb
from rapport.emotion.v1 import emotion_service_pb2_grpc as emotion_grpc

from shared.grpc.client import call


class EmotionClient:
    def __init__(self, channel: grpc.aio.Channel, deadline_seconds: float) -> None:
        self._stub = emotion_grpc.EmotionServiceStub(channel)
        self._deadline = deadline_seconds

    async def analyze(self, text: str, language_hint: str) -> emotion_pb.AnalyzeResponse:
        request = emotion_pb.AnalyzeRequest(text=text, language_hint=language_hint)
        return await call(self._stub.Analyze, request, deadline_seconds=self._deadline)
