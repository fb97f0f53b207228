"""Composition root of the context service: ``python -m services.context``."""

from __future__ import annotations

import asyncio
import logging

from rapport.context.v1 import context_service_pb2, context_service_pb2_grpc

from services.context.config import ContextSettings
from services.context.database import create_engine, migrate
from services.context.grpc_server import ContextServicer
from services.context.repository import ContextRepository
from shared.grpc.server import create_server, serve
from shared.observability.logging import configure_logging
from shared.observability.metrics import serve_metrics
from shared.runtime import run

log = logging.getLogger(__name__)
SERVICE_NAMES = [context_service_pb2.DESCRIPTOR.services_by_name["ContextService"].full_name]


async def main(stop: asyncio.Event) -> None:
    settings = ContextSettings()
    configure_logging(settings.service_name, settings.log_level)
    engine = create_engine(settings.database_url)
    metrics = serve_metrics(settings.bind_host, settings.metrics_port)
    try:
        await migrate(engine)
        servicer = ContextServicer(ContextRepository(engine), settings.default_max_turns)
        server, port, health = create_server(
            f"{settings.bind_host}:{settings.grpc_port}",
            lambda s: context_service_pb2_grpc.add_ContextServiceServicer_to_server(servicer, s),
            SERVICE_NAMES,
        )
        log.info("context gRPC on %s:%d, metrics on :%d", settings.bind_host, port, metrics.port)
        await serve(server, health, SERVICE_NAMES, stop, settings.shutdown_grace_seconds)
    finally:
        metrics.close()
        await engine.dispose()


if __name__ == "__main__":
    run(main)
