"""gRPC test helpers: a real server for the length of a block, and what operators ask it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from shared.grpc.auth import NO_CALLERS
from shared.grpc.server import Registrar, create_server, serve


async def health_status(address: str, service: str = "") -> str:
    async with grpc.aio.insecure_channel(address) as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=5
        )
    return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


async def reflected_services(address: str) -> set[str]:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        call = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        async for response in call:
            return {s.name for s in response.list_services_response.service}
    return set()


@asynccontextmanager
async def running(
    register: Registrar, service: str, callers: Mapping[str, str] = NO_CALLERS
) -> AsyncIterator[str]:
    """A real gRPC server on a free port for the duration of the block, accepting only
    ``callers``' tokens if any are given; yields its address."""
    server, port, health = create_server("127.0.0.1:0", register, [service], callers=callers)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(server, health, [service], stop, grace_seconds=1))
    await asyncio.sleep(0.1)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stop.set()
        await task
