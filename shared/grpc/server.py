"""Builds a ``grpc.aio`` server with the standard health service, reflection, metrics and
callers' authentication (``shared.grpc.auth``).

``create_server`` only builds (so tests can bind port 0 and read the port back);
``serve`` runs it until a stop event and stops it with a grace period so calls in
flight can finish.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from shared.grpc.auth import CallerAuthInterceptor
from shared.observability.metrics import GRPC_SERVER_SECONDS

Registrar = Callable[[grpc.aio.Server], None]


class MetricsInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Times every unary call and counts it by method and status code."""

    def __init__(self) -> None:
        # One wrapped handler per method, built on its first call.
        self._timed: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        if method in self._timed:
            return self._timed[method]
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary

        async def timed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                return await inner(request, context)
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED
                raise
            except Exception:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            finally:
                GRPC_SERVER_SECONDS.labels(method, code.name).observe(time.perf_counter() - started)

        self._timed[method] = grpc.unary_unary_rpc_method_handler(
            timed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        return self._timed[method]


def create_server(
    address: str,
    register: Registrar,
    service_names: Iterable[str],
    *,
    callers: Mapping[str, str],
) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    """A server bound to ``address`` (port 0 picks one) serving, health and reflection,
    to the ``callers`` whose tokens it is given (none: to anyone).

    Returns the server, the bound port and the health servicer, whose status the
    service sets to SERVING once its own dependencies are ready.
    """
    # Authentication first: the metrics interceptor caches handlers per method.
    server = grpc.aio.server(interceptors=[CallerAuthInterceptor(callers), MetricsInterceptor()])
    register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = list(service_names)
    reflection.enable_server_reflection(
        [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not bind gRPC server to {address}")
    return server, port, health_servicer


async def serve(
    server: grpc.aio.Server,
    health_servicer: health.aio.HealthServicer,
    service_names: Iterable[str],
    stop: asyncio.Event,
    grace_seconds: float,
) -> None:
    """Serve until ``stop`` is set, then report NOT_SERVING and drain calls in flight."""
    names = ["", *service_names]
    await server.start()
    for name in names:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    try:
        await stop.wait()
    finally:
        for name in names:
            await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await server.stop(grace_seconds)
