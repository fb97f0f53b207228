"""Service-to-service authentication for gRPC: a shared token per caller.

Each calling service holds one token (``RAPPORT_GRPC_TOKEN``) and sends it as
``authorization: Bearer <token>`` metadata; each server knows every caller's token by the
caller's name (``RAPPORT_GRPC_CALLERS``) and refuses anything else with UNAUTHENTICATED.
The name of the token's owner is then :data:`CALLER` while the call is handled. A server
configured with no callers checks nothing (``make run`` on loopback).

The health service stays open for probes, and reflection (the schema, public in the
repository anyway) for operators' tools.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

import grpc

from shared.config import GrpcServerSettings, is_loopback
from shared.observability.metrics import GRPC_UNAUTHENTICATED_CALLS

log = logging.getLogger(__name__)

CALLER: ContextVar[str | None] = ContextVar("grpc_caller", default=None)
"""The service that made the gRPC call being handled; None when the server checks no tokens."""

NO_CALLERS: Mapping[str, str] = MappingProxyType({})
"""No tokens to check: every call is accepted."""

OPEN_METHOD_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
UNAUTHENTICATED_ACTOR = "unauthenticated"
"""The audit actor of a call no token vouched for, whoever it says it acts for."""
REFUSAL = "unauthenticated: send this service's gRPC token"
"""What a refused caller hears: never whether its token was missing, malformed or unknown."""

_HEADER = "authorization"
_SCHEME = "Bearer "

Metadata = Iterable[tuple[str, str | bytes]]


def presented_token(metadata: Metadata | None) -> bytes | None:
    """The bearer token in the call's metadata, or None if there is none."""
    for key, value in metadata or ():
        if key == _HEADER and isinstance(value, str) and value.startswith(_SCHEME):
            return value.removeprefix(_SCHEME).encode()
    return None


def owner_of(token: bytes, tokens: Mapping[str, bytes]) -> str | None:
    """The caller whose token this is, comparing with every one in constant time."""
    owner = None
    for name, expected in tokens.items():
        if hmac.compare_digest(token, expected):
            owner = name
    return owner


def attributed_actor(caller: str | None, claimed: str) -> str:
    """Who an audited action is recorded against: the authenticated caller's name, then
    the person it says it acts for (``agent_desk:<account id>``).

    The caller's part comes from its token, so a service can only speak for its own
    people; a call no token vouched for (a server that checks none) is recorded as
    unauthenticated and its claim is dropped, so nobody can pass as someone else.
    """
    if caller is None:
        return UNAUTHENTICATED_ACTOR
    return f"{caller}:{claimed}" if claimed else caller


def accepted_callers(settings: GrpcServerSettings) -> Mapping[str, str]:
    """The callers' tokens a server checks; says so loudly when it checks none off loopback
    (``RAPPORT_GRPC_ALLOW_UNAUTHENTICATED``), since anyone on the network may then call."""
    if not settings.grpc_callers and not is_loopback(settings.bind_host):
        log.warning(
            "gRPC on %s accepts calls from anyone: RAPPORT_GRPC_CALLERS is not set and "
            "RAPPORT_GRPC_ALLOW_UNAUTHENTICATED is true",
            settings.bind_host,
        )
    return settings.caller_tokens


def _refusing(handler: grpc.RpcMethodHandler, reason: str) -> grpc.RpcMethodHandler:
    """A handler of the same kind as ``handler`` that refuses the call unread."""

    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> None:
        log.warning("refused a gRPC call from %s: %s", context.peer(), reason)
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSAL)

    build = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }[(handler.request_streaming, handler.response_streaming)]
    return build(refuse)


class CallerAuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Accepts a call only with a known caller's token, and names the caller in :data:`CALLER`.

    Checked on every call (never cached per method), so it must come before interceptors
    that cache handlers.
    """

    def __init__(self, callers: Mapping[str, str]) -> None:
        self._tokens = {name: token.encode() for name, token in callers.items()}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not self._tokens or method.startswith(OPEN_METHOD_PREFIXES):
            return handler
        token = presented_token(handler_call_details.invocation_metadata)
        caller = None if token is None else owner_of(token, self._tokens)
        if caller is None:
            GRPC_UNAUTHENTICATED_CALLS.labels(method).inc()
            reason = "no bearer token" if token is None else "unknown token"
            return _refusing(handler, f"{reason} for {method}")
        # The handler runs in this call's own task, after this returns.
        CALLER.set(caller)
        return handler


class CallerTokenInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Adds this service's token to every unary call, the only kind Rapport's services make
    (insecure channels take no call credentials, so it travels as plain metadata)."""

    def __init__(self, token: str) -> None:
        self._metadata = (_HEADER, f"{_SCHEME}{token}")

    def _with_token(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()), self._metadata)
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(self._with_token(client_call_details), request)
