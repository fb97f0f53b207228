"""The context service over real gRPC with compose's settings: callers' tokens required.

The acceptance point of service-to-service authentication: in the compose configuration
(``BIND_HOST=0.0.0.0``, ``RAPPORT_GRPC_CALLERS`` set) a call without credentials is
refused, and so is a wrong token; the right one works and names its caller to handlers;
health checks (probes) need none; ``open_channel`` sends ``RAPPORT_GRPC_TOKEN``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import REGISTRY
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as pb
from rapport.context.v1 import context_service_pb2_grpc as pb_grpc

from services.context.__main__ import build
from services.context.config import ContextSettings
from services.context.database import create_engine, migrate
from services.orchestrator.config import OrchestratorSettings
from shared.grpc.auth import CALLER, REFUSAL, accepted_callers
from shared.grpc.client import open_channel
from shared.grpc.context_client import ContextClient
from tests.grpc_probe import health_status, reflected_services, running

pytestmark = pytest.mark.integration

CONTEXT = pb.DESCRIPTOR.services_by_name["ContextService"].full_name
TOKENS = {
    "orchestrator": "orchestrator-test-token-0123456789",
    "agent_desk": "desk-token-0123456789",
}
WHOAMI = "/rapport.test.Whoami/Get"


async def whoami(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    """What a handler learns of its caller."""
    return (CALLER.get() or "").encode()


def register(servicer: pb_grpc.ContextServiceServicer) -> object:
    def add(server: grpc.aio.Server) -> None:
        pb_grpc.add_ContextServiceServicer_to_server(servicer, server)
        handlers = {"Get": grpc.unary_unary_rpc_method_handler(whoami)}
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("rapport.test.Whoami", handlers),)
        )

    return add


@pytest.fixture
def compose_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What docker-compose.yml gives the context service and the orchestrator."""
    monkeypatch.chdir(tmp_path)  # no stray .env of the developer's
    monkeypatch.setenv("BIND_HOST", "0.0.0.0")
    monkeypatch.setenv("RAPPORT_GRPC_CALLERS", json.dumps(TOKENS))
    monkeypatch.setenv("RAPPORT_GRPC_TOKEN", TOKENS["orchestrator"])


@pytest.fixture
async def address(compose_environment: None, tmp_path: Path) -> AsyncIterator[str]:
    url = f"sqlite:///{tmp_path / 'context.sqlite3'}"
    engine = create_engine(url)
    await migrate(engine)
    settings = ContextSettings(metrics_port=0, grpc_port=0, database_url=url)
    parts = build(settings, engine)
    try:
        async with running(register(parts.servicer), CONTEXT, accepted_callers(settings)) as found:
            yield found
    finally:
        await parts.store.close()
        await engine.dispose()


def resolve_request() -> pb.ResolveCustomerRequest:
    seen = Timestamp()
    seen.FromDatetime(datetime.now(UTC))
    return pb.ResolveCustomerRequest(
        channel=envelope_pb2.CHANNEL_SMS, address="+16505551234", seen_at=seen
    )


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


def refusals() -> float:
    value = REGISTRY.get_sample_value(
        "rapport_grpc_unauthenticated_calls_total", {"method": f"/{CONTEXT}/ResolveCustomer"}
    )
    return value or 0.0


async def refused(stub: pb_grpc.ContextServiceStub, metadata: tuple[tuple[str, str], ...]) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ResolveCustomer(resolve_request(), metadata=metadata, timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert caught.value.details() == REFUSAL


async def test_calls_to_the_context_service_without_credentials_are_refused_in_compose(
    address: str,
) -> None:
    before = refusals()
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.ContextServiceStub(channel)
        # Accepted first: a later refusal must not ride on a handler cached by the first call.
        accepted = await stub.ResolveCustomer(
            resolve_request(), metadata=bearer(TOKENS["agent_desk"]), timeout=5
        )
        assert accepted.customer.customer_id
        await refused(stub, ())
        await refused(stub, bearer("wrong-token-0123456789"))
        await refused(stub, (("authorization", TOKENS["agent_desk"]),))
    assert refusals() == before + 3


async def test_health_and_reflection_answer_without_a_token(address: str) -> None:
    assert await health_status(address) == "SERVING"
    assert await health_status(address, CONTEXT) == "SERVING"
    assert CONTEXT in await reflected_services(address)


async def test_open_channel_sends_the_services_token(address: str) -> None:
    settings = OrchestratorSettings()  # RAPPORT_GRPC_TOKEN from the environment
    async with open_channel(address, token=settings.grpc_token) as channel:
        customer = await ContextClient(channel, 5).resolve_customer(
            envelope_pb2.CHANNEL_SMS, "+16505551235", "", resolve_request().seen_at
        )
        assert customer.customer_id
        assert await channel.unary_unary(WHOAMI)(b"", timeout=5) == b"orchestrator"


async def test_open_channel_without_a_token_is_refused(address: str) -> None:
    async with open_channel(address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await channel.unary_unary(WHOAMI)(b"", timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
