"""Composition root of the emotion service: ``python -m services.emotion`` serves it;
``python -m services.emotion analyze --jsonl FILE`` reads messages with its models
in this process (``cli``)."""

from __future__ import annotations

import os

# One BLAS thread, set before NumPy loads OpenBLAS. The example search multiplies a batch
# of vectors by the examples' matrix; OpenBLAS then wakes a thread per core, which spins
# against the encoder on the same cores: at 100 messages/s through the orchestrator this
# doubled the service's CPU per reply (9.0 ms against 4.4) and the p99 reply time (411 ms
# against 105). An operator's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import asyncio
import logging
import sys

from rapport.emotion.v1 import emotion_service_pb2, emotion_service_pb2_grpc

from services.emotion import cli
from services.emotion.config import EmotionSettings
from services.emotion.grpc_server import EmotionServicer
from services.emotion.in_process import load_analyzer
from shared.grpc.auth import accepted_callers
from shared.grpc.server import create_server, serve
from shared.runtime import observed, run

log = logging.getLogger(__name__)
SERVICE_NAMES = [emotion_service_pb2.DESCRIPTOR.services_by_name["EmotionService"].full_name]


def build_servicer(settings: EmotionSettings) -> EmotionServicer:
    """Load the models and wire the analyzer behind the gRPC servicer."""
    analyzer = load_analyzer(settings)
    return EmotionServicer(
        analyzer, analyzer.versions, settings.max_batch_items, settings.analysis_workers
    )


async def main(stop: asyncio.Event) -> None:
    settings = EmotionSettings()
    with observed(settings) as metrics:
        servicer = build_servicer(settings)
        server, port, health = create_server(
            f"{settings.bind_host}:{settings.grpc_port}",
            lambda s: emotion_service_pb2_grpc.add_EmotionServiceServicer_to_server(servicer, s),
            SERVICE_NAMES,
            callers=accepted_callers(settings),
        )
        log.info(
            "emotion gRPC on %s:%d, metrics on :%d, models %s",
            settings.bind_host,
            port,
            metrics.port,
            servicer.versions,
        )
        await serve(server, health, SERVICE_NAMES, stop, settings.shutdown_grace_seconds)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(cli.main(sys.argv[1:]))
    run(main)
