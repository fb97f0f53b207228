"""The emotion and context servers over real gRPC on free ports: health, reflection, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from prometheus_client import REGISTRY
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.context.v1 import context_service_pb2_grpc as context_grpc
from rapport.emotion.v1 import emotion_service_pb2 as emotion_pb
from rapport.emotion.v1 import emotion_service_pb2_grpc as emotion_grpc

from services.context.__main__ import build as build_context
from services.context.config import ContextSettings
from services.context.database import create_engine, migrate
from services.emotion.__main__ import build_servicer
from services.emotion.config import EmotionSettings
from services.emotion.grpc_server import EmotionServicer
from services.orchestrator.clients import EmotionClient
from shared.errors import DependencyUnavailableError, InvalidInputError
from shared.grpc.client import open_channel
from shared.grpc.context_client import ContextClient
from tests.grpc_probe import health_status, reflected_services, running

pytestmark = pytest.mark.integration

EMOTION = emotion_pb.DESCRIPTOR.services_by_name["EmotionService"].full_name
CONTEXT = context_pb.DESCRIPTOR.services_by_name["ContextService"].full_name


@pytest.fixture(scope="module")
def emotion_servicer() -> EmotionServicer:
    """Loading the models takes a moment; one servicer serves the module."""
    return build_servicer(EmotionSettings(metrics_port=0, grpc_port=0, max_text_chars=100))


@pytest.fixture
async def emotion_address(emotion_servicer: EmotionServicer) -> AsyncIterator[str]:
    async with running(
        lambda s: emotion_grpc.add_EmotionServiceServicer_to_server(emotion_servicer, s), EMOTION
    ) as address:
        yield address


@pytest.fixture
async def context_address(tmp_path: Path) -> AsyncIterator[str]:
    url = f"sqlite:///{tmp_path / 'context.sqlite3'}"
    engine = create_engine(url)
    await migrate(engine)
    parts = build_context(ContextSettings(metrics_port=0, database_url=url), engine)
    try:
        async with running(
            lambda s: context_grpc.add_ContextServiceServicer_to_server(parts.servicer, s), CONTEXT
        ) as address:
            yield address
    finally:
        await parts.store.close()
        await engine.dispose()


async def test_servers_report_health_and_list_their_services(
    emotion_address: str, context_address: str
) -> None:
    for address, name in ((emotion_address, EMOTION), (context_address, CONTEXT)):
        assert await health_status(address) == "SERVING"
        assert await health_status(address, name) == "SERVING"
        listed = await reflected_services(address)
        assert {name, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= listed


async def test_a_dead_server_is_a_retriable_error_within_the_deadline() -> None:
    async with open_channel("127.0.0.1:1") as channel:
        client = EmotionClient(channel, deadline_seconds=0.5)
        with pytest.raises(DependencyUnavailableError):
            await asyncio.wait_for(client.analyze("hello", ""), timeout=3)


async def test_analyses_asked_for_together_travel_as_one_batch(emotion_address: str) -> None:
    texts = ["Where is my order?", "I am furious, nothing works!", "Merci beaucoup !"]
    calls_before, analyses_before = _batches()
    async with open_channel(emotion_address) as channel:
        client = EmotionClient(channel, deadline_seconds=5)
        together = await asyncio.gather(*(client.analyze(text, "") for text in texts))
        one_by_one = [await client.analyze(text, "") for text in texts]
        stub = emotion_grpc.EmotionServiceStub(channel)
        unary = [await stub.Analyze(emotion_pb.AnalyzeRequest(text=text)) for text in texts]
    for batched, alone, direct in zip(together, one_by_one, unary, strict=True):
        assert batched == alone
        assert batched.dominant_emotion == direct.dominant_emotion
        assert batched.intent == direct.intent
        assert batched.language == direct.language
    calls, analyses = _batches()
    assert calls - calls_before == 4  # one call for the three together, then one per text
    assert analyses - analyses_before == 6


def _batches() -> tuple[float, float]:
    """Calls to the emotion service so far, and the analyses they carried."""
    name, labels = "rapport_grpc_client_batch_items", {"method": "AnalyzeBatch"}
    calls = REGISTRY.get_sample_value(f"{name}_count", labels) or 0.0
    return calls, REGISTRY.get_sample_value(f"{name}_sum", labels) or 0.0


async def test_a_blank_text_fails_alone_and_the_rest_of_its_batch_is_analysed(
    emotion_address: str,
) -> None:
    async with open_channel(emotion_address) as channel:
        client = EmotionClient(channel, deadline_seconds=5)
        blank, fine = await asyncio.gather(
            client.analyze("   ", ""), client.analyze("Thank you!", ""), return_exceptions=True
        )
    assert isinstance(blank, InvalidInputError)
    assert isinstance(fine, emotion_pb.AnalyzeResponse)
    assert fine.dominant_emotion == "gratitude"


class SlowContext(context_grpc.ContextServiceServicer):
    """A context service that takes far longer than any caller waits."""

    async def GetContext(  # noqa: N802 - the name is the RPC's
        self, request: context_pb.GetContextRequest, context: grpc.aio.ServicerContext
    ) -> context_pb.GetContextResponse:
        await asyncio.sleep(5)
        return context_pb.GetContextResponse()


async def test_a_slow_service_hits_the_deadline_instead_of_hanging() -> None:
    slow = SlowContext()
    async with (
        running(
            lambda s: context_grpc.add_ContextServiceServicer_to_server(slow, s), CONTEXT
        ) as address,
        open_channel(address) as channel,
    ):
        client = ContextClient(channel, deadline_seconds=0.3)
        started = asyncio.get_running_loop().time()
        with pytest.raises(DependencyUnavailableError, match="DEADLINE_EXCEEDED"):
            await client.get_context("customer-1", "conv-1", 20)
        assert asyncio.get_running_loop().time() - started < 1.5
