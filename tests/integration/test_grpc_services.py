"""The emotion and context servers over real gRPC on free ports: health, reflection, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.context.v1 import context_service_pb2_grpc as context_grpc
from rapport.emotion.v1 import emotion_service_pb2 as emotion_pb
from rapport.emotion.v1 import emotion_service_pb2_grpc as emotion_grpc

from services.context.database import create_engine, migrate
from services.context.grpc_server import ContextServicer
from services.context.repository import ContextRepository
from services.emotion.grpc_server import EmotionServicer
from services.orchestrator.clients import ContextClient, EmotionClient
from shared.errors import DependencyUnavailableError, InvalidInputError
from shared.grpc.client import open_channel
from shared.grpc.server import Registrar, create_server, serve
from shared.kafka.codec import new_envelope
from tests.grpc_probe import health_status, reflected_services

pytestmark = pytest.mark.integration

EMOTION = emotion_pb.DESCRIPTOR.services_by_name["EmotionService"].full_name
CONTEXT = context_pb.DESCRIPTOR.services_by_name["ContextService"].full_name


@asynccontextmanager
async def running(register: Registrar, service: str) -> AsyncIterator[str]:
    """A real gRPC server on a free port for the duration of the block; yields its address."""
    server, port, health = create_server("127.0.0.1:0", register, [service])
    stop = asyncio.Event()
    task = asyncio.create_task(serve(server, health, [service], stop, grace_seconds=1))
    await asyncio.sleep(0.1)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stop.set()
        await task


@pytest.fixture
async def emotion_address() -> AsyncIterator[str]:
    servicer = EmotionServicer(max_text_chars=100)
    async with running(
        lambda s: emotion_grpc.add_EmotionServiceServicer_to_server(servicer, s), EMOTION
    ) as address:
        yield address


@pytest.fixture
async def context_address(tmp_path: Path) -> AsyncIterator[str]:
    engine = create_engine(f"sqlite:///{tmp_path / 'context.sqlite3'}")
    await migrate(engine)
    servicer = ContextServicer(ContextRepository(engine), default_max_turns=20)
    try:
        async with running(
            lambda s: context_grpc.add_ContextServiceServicer_to_server(servicer, s), CONTEXT
        ) as address:
            yield address
    finally:
        await engine.dispose()


async def test_servers_report_health_and_list_their_services(
    emotion_address: str, context_address: str
) -> None:
    for address, name in ((emotion_address, EMOTION), (context_address, CONTEXT)):
        assert await health_status(address) == "SERVING"
        assert await health_status(address, name) == "SERVING"
        listed = await reflected_services(address)
        assert {name, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= listed


async def test_emotion_refuses_empty_and_oversized_text(emotion_address: str) -> None:
    async with open_channel(emotion_address) as channel:
        client = EmotionClient(channel, deadline_seconds=2)
        result = await client.analyze("my order hasn't arrived!!", "")
        assert result.intent.name == "delivery_problem"
        with pytest.raises(InvalidInputError, match="empty"):
            await client.analyze("   ", "")
        with pytest.raises(InvalidInputError, match="limit"):
            await client.analyze("x" * 101, "")


async def test_context_stores_turns_idempotently_over_grpc(context_address: str) -> None:
    async with open_channel(context_address) as channel:
        client = ContextClient(channel, deadline_seconds=2)
        customer = await client.resolve_customer(envelope_pb2.CHANNEL_WEB, "visitor-1", "")
        envelope = new_envelope(conversation_id="conv-1", channel=envelope_pb2.CHANNEL_WEB)
        turn = context_pb.Turn(
            event_id=envelope.event_id,
            conversation_id="conv-1",
            role=context_pb.ROLE_CUSTOMER,
            text="hi",
            channel=envelope_pb2.CHANNEL_WEB,
            occurred_at=envelope.occurred_at,
        )
        stored, created = await client.append_turn(customer.customer_id, turn)
        again, created_again = await client.append_turn(customer.customer_id, turn)
        assert (created, created_again) == (True, False)
        assert stored.sequence == again.sequence == 1
        context = await client.get_context(customer.customer_id, 10)
        assert [t.text for t in context.recent_turns] == ["hi"]
        with pytest.raises(InvalidInputError, match="missing"):
            await client.append_turn(customer.customer_id, context_pb.Turn(text="no ids"))


async def test_a_dead_server_is_a_retriable_error_within_the_deadline() -> None:
    async with open_channel("127.0.0.1:1") as channel:
        client = EmotionClient(channel, deadline_seconds=0.5)
        with pytest.raises(DependencyUnavailableError):
            await asyncio.wait_for(client.analyze("hello", ""), timeout=3)
