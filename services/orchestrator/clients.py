"""gRPC client of the emotion service, with a deadline on every call.

Handlers ask for one analysis each, but a call per message costs more than the analysis
itself. So the analyses asked for in the same turn of the event loop travel together as
one ``AnalyzeBatch`` call: nothing waits for a batch to fill (a lone message goes out at
once), and under load one call carries many messages.
"""

from __future__ import annotations

import asyncio

import grpc
from rapport.emotion.v1 import emotion_service_pb2 as emotion_pb
from rapport.emotion.v1 import emotion_service_pb2_grpc as emotion_grpc

from services.orchestrator.metrics import EMOTION_BATCH_SIZE
from shared.errors import ContractError, InvalidInputError
from shared.grpc.client import call

MAX_BATCH = 64
"""Most analyses one call carries; well under the emotion service's limit per call."""

_Pending = tuple[emotion_pb.AnalyzeRequest, asyncio.Future[emotion_pb.AnalyzeResponse]]


class EmotionClient:
    def __init__(self, channel: grpc.aio.Channel, deadline_seconds: float) -> None:
        self._stub = emotion_grpc.EmotionServiceStub(channel)
        self._deadline = deadline_seconds
        self._pending: list[_Pending] = []
        self._calls: set[asyncio.Task[None]] = set()

    async def analyze(self, text: str, language_hint: str) -> emotion_pb.AnalyzeResponse:
        """The analysis of one text; raises like a unary call would, and only for this text."""
        if not text.strip():  # refused here, so one blank text cannot fail a whole batch
            raise InvalidInputError("INVALID_ARGUMENT: text is empty")
        outcome: asyncio.Future[emotion_pb.AnalyzeResponse] = (
            asyncio.get_running_loop().create_future()
        )
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._send_pending)
        self._pending.append(
            (emotion_pb.AnalyzeRequest(text=text, language_hint=language_hint), outcome)
        )
        return await outcome

    def _send_pending(self) -> None:
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), MAX_BATCH):
            task = asyncio.create_task(self._send(pending[start : start + MAX_BATCH]))
            self._calls.add(task)  # held until done: the loop keeps only weak references
            task.add_done_callback(self._calls.discard)

    async def _send(self, batch: list[_Pending]) -> None:
        EMOTION_BATCH_SIZE.observe(len(batch))
        request = emotion_pb.AnalyzeBatchRequest(items=[item for item, _ in batch])
        try:
            response: emotion_pb.AnalyzeBatchResponse = await call(
                self._stub.AnalyzeBatch, request, deadline_seconds=self._deadline
            )
            if len(response.results) != len(batch):
                raise ContractError(
                    f"AnalyzeBatch answered {len(response.results)} of {len(batch)} items"
                )
        except Exception as exc:  # every waiting handler hears of it, none hangs
            for _, outcome in batch:
                if not outcome.done():  # a caller that gave up is not told
                    outcome.set_exception(exc)
            return
        for (_, outcome), result in zip(batch, response.results, strict=True):
            if not outcome.done():
                outcome.set_result(result)
