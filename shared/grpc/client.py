"""Client channels for Rapport's gRPC services: retries on UNAVAILABLE, deadlines always.

Stubs are built on :func:`open_channel`; calls go through :func:`call`, which requires a
deadline and turns gRPC status codes into Rapport's own errors so callers branch on
``retriable`` instead of on grpc internals.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from pydantic import SecretStr
from rapport.common.v1 import envelope_pb2

from shared.errors import (
    ContractError,
    DependencyUnavailableError,
    InvalidInputError,
    NotFoundError,
    RapportError,
    RefusedError,
)
from shared.grpc.auth import CallerTokenInterceptor
from shared.observability.metrics import GRPC_CLIENT_SECONDS

Response = TypeVar("Response")

# round_robin spreads calls over every address the name resolves to: with several
# replicas behind one DNS name (compose's scale-out profile) each gets its share.
_SERVICE_CONFIG = json.dumps(
    {
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [
            {
                "name": [{}],
                "retryPolicy": {
                    "maxAttempts": 3,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "0.5s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ],
    }
)

# gRPC's own reconnect backoff grows to two minutes, so a service restarted after a ten-
# second outage could stay unreachable for another half minute while records wait for it.
# Between 0.2 and 2 s, a restarted dependency is found again within two seconds.
RECONNECT_BACKOFF = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
)

_RETRIABLE_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)


class _MetricsInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Times every unary call as the caller sees it, by method and status code."""

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        method = client_call_details.method
        method_name = method.decode() if isinstance(method, bytes) else str(method)
        started = time.perf_counter()
        call = await continuation(client_call_details, request)
        try:
            code = await call.code()
        finally:
            GRPC_CLIENT_SECONDS.labels(method_name, code.name if code else "UNKNOWN").observe(
                time.perf_counter() - started
            )
        return call


def open_channel(address: str, *, token: SecretStr | None = None) -> grpc.aio.Channel:
    """An insecure channel (gRPC stays on the internal network) that retries UNAVAILABLE,
    balances calls over every replica the address resolves to and, given this service's
    token (``RAPPORT_GRPC_TOKEN``), sends it with every call."""
    interceptors: list[grpc.aio.ClientInterceptor] = [_MetricsInterceptor()]
    if token is not None:
        interceptors.append(CallerTokenInterceptor(token.get_secret_value()))
    return grpc.aio.insecure_channel(
        address,
        options=[
            ("grpc.service_config", _SERVICE_CONFIG),
            ("grpc.enable_retries", 1),
            *RECONNECT_BACKOFF,
        ],
        interceptors=interceptors,
    )


async def call(
    method: Callable[..., Awaitable[Response]], request: Any, *, deadline_seconds: float
) -> Response:
    """Call ``method`` with a deadline, translating failures into Rapport's errors."""
    try:
        return await method(request, timeout=deadline_seconds)
    except grpc.aio.AioRpcError as exc:
        raise error_for(exc.code(), exc.details() or "") from exc


_CODES_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


def item_error(error: envelope_pb2.ItemError) -> RapportError:
    """The error of one failed item of a batch call, as its unary call would have raised."""
    return error_for(_CODES_BY_NUMBER.get(error.code, grpc.StatusCode.UNKNOWN), error.message)


def error_for(code: grpc.StatusCode, details: str) -> RapportError:
    """Rapport's error for a gRPC status."""
    message = f"{code.name}: {details}"
    if code in _RETRIABLE_CODES:
        return DependencyUnavailableError(message)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidInputError(message)
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFoundError(message)
    if code in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ALREADY_EXISTS):
        return RefusedError(message)
    if code in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INTERNAL):
        return ContractError(message)
    return RapportError(message)
