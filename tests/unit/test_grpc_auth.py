"""The gRPC callers' check: which calls pass, who they are from, and the server settings
that keep a deployment from forgetting it."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError

from services.context.config import ContextSettings
from shared.grpc.auth import CALLER, REFUSAL, CallerAuthInterceptor

ORCHESTRATOR_TOKEN = "orchestrator-token-0123456789"
DESK_TOKEN = "agent-desk-token-0123456789"
CALLERS = {"orchestrator": ORCHESTRATOR_TOKEN, "agent_desk": DESK_TOKEN}
METHOD = "/rapport.context.v1.ContextService/EraseCustomer"


@dataclass(frozen=True)
class CallDetails:
    method: str
    invocation_metadata: tuple[tuple[str, str], ...]


class Aborted(Exception):
    pass


class FakeContext:
    def __init__(self) -> None:
        self.aborted: tuple[grpc.StatusCode, str] | None = None

    def peer(self) -> str:
        return "ipv4:10.0.0.9:4242"

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        self.aborted = (code, details)
        raise Aborted


async def answer(request: Any, context: Any) -> str:
    return "answered"


HANDLER = grpc.unary_unary_rpc_method_handler(answer)


async def decide(
    metadata: tuple[tuple[str, str], ...],
    method: str = METHOD,
    callers: dict[str, str] = CALLERS,
) -> tuple[grpc.RpcMethodHandler, str | None]:
    """The handler the interceptor gives the call, and the caller it named, in a task of
    its own as the server runs each call."""

    async def continuation(details: Any) -> grpc.RpcMethodHandler:
        return HANDLER

    async def one_call() -> tuple[grpc.RpcMethodHandler, str | None]:
        handler = await CallerAuthInterceptor(callers).intercept_service(
            continuation, CallDetails(method, metadata)
        )
        return handler, CALLER.get()

    return await asyncio.create_task(one_call())


def refusals(method: str = METHOD) -> float:
    value = REGISTRY.get_sample_value(
        "rapport_grpc_unauthenticated_calls_total", {"method": method}
    )
    return value or 0.0


@pytest.mark.parametrize(
    ("token", "caller"), [(ORCHESTRATOR_TOKEN, "orchestrator"), (DESK_TOKEN, "agent_desk")]
)
async def test_a_known_token_passes_and_names_its_owner(token: str, caller: str) -> None:
    handler, named = await decide((("x-request-id", "1"), ("authorization", f"Bearer {token}")))
    assert handler is HANDLER
    assert named == caller


@pytest.mark.parametrize(
    "metadata",
    [
        (),
        (("authorization", "Bearer wrong-token-0123456789"),),
        (("authorization", f"Bearer {ORCHESTRATOR_TOKEN}x"),),
        (("authorization", ORCHESTRATOR_TOKEN),),
        (("authorization", f"Basic {ORCHESTRATOR_TOKEN}"),),
        (("authorization", "Bearer "),),
        (("x-token", f"Bearer {ORCHESTRATOR_TOKEN}"),),
    ],
    ids=["missing", "unknown", "longer", "no-scheme", "basic", "empty", "other-header"],
)
async def test_anything_else_is_refused_the_same_way(metadata: tuple[tuple[str, str], ...]) -> None:
    before = refusals()
    handler, named = await decide(metadata)
    assert handler is not HANDLER and named is None
    context = FakeContext()
    with pytest.raises(Aborted):
        await handler.unary_unary(b"unread", context)
    assert context.aborted == (grpc.StatusCode.UNAUTHENTICATED, REFUSAL)
    assert refusals() == before + 1


@pytest.mark.parametrize(
    "method",
    [
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ],
)
async def test_health_and_reflection_need_no_token(method: str) -> None:
    handler, named = await decide((), method=method)
    assert handler is HANDLER and named is None


async def test_without_callers_every_call_passes() -> None:
    handler, named = await decide((), callers={})
    assert handler is HANDLER and named is None


async def test_a_refusal_is_of_the_refused_methods_kind() -> None:
    streaming = grpc.stream_stream_rpc_method_handler(answer)

    async def continuation(details: Any) -> grpc.RpcMethodHandler:
        return streaming

    handler = await CallerAuthInterceptor(CALLERS).intercept_service(
        continuation, CallDetails(METHOD, ())
    )
    assert handler is not streaming
    assert (handler.request_streaming, handler.response_streaming) == (True, True)


@pytest.fixture
def no_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env of the developer's


@pytest.mark.usefixtures("no_env_file")
def test_callers_are_read_from_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAPPORT_GRPC_CALLERS", f'{{"orchestrator": "{ORCHESTRATOR_TOKEN}"}}')
    monkeypatch.setenv("BIND_HOST", "0.0.0.0")
    assert ContextSettings().caller_tokens == {"orchestrator": ORCHESTRATOR_TOKEN}


@pytest.mark.usefixtures("no_env_file")
def test_loopback_needs_no_callers() -> None:
    assert ContextSettings().caller_tokens == {}


@pytest.mark.usefixtures("no_env_file")
def test_off_loopback_a_server_without_callers_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BIND_HOST", "0.0.0.0")
    with pytest.raises(ValidationError, match="RAPPORT_GRPC_CALLERS"):
        ContextSettings()
    monkeypatch.setenv("RAPPORT_GRPC_ALLOW_UNAUTHENTICATED", "true")
    assert ContextSettings().caller_tokens == {}


@pytest.mark.usefixtures("no_env_file")
@pytest.mark.parametrize(
    ("callers", "complaint"),
    [
        ({"orchestrator": "short"}, "16 or more characters"),
        ({"orchestrator": DESK_TOKEN, "agent_desk": DESK_TOKEN}, "share a token"),
        ({"": DESK_TOKEN}, "needs a name"),
    ],
)
def test_weak_caller_tokens_are_refused(
    callers: dict[str, str], complaint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAPPORT_GRPC_CALLERS", json.dumps(callers))
    with pytest.raises(ValidationError, match=complaint):
        ContextSettings()
