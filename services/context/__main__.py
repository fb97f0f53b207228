"""Composition root of the context service: ``python -m services.context``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from rapport.context.v1 import context_service_pb2, context_service_pb2_grpc
from sqlalchemy.ext.asyncio import AsyncEngine

from services.context.config import DEVELOPMENT_HASH_KEY, ContextSettings
from services.context.database import create_engine, migrate
from services.context.empathy import EmpathyMap
from services.context.grpc_server import ContextServicer
from services.context.linking import IdentityLinks, LinkPolicy
from services.context.lookup import CustomerLookup
from services.context.repository import ContextRepository, StorePolicy
from services.context.rights import DataRights, RetentionPolicy
from services.context.store import Store
from shared.grpc.auth import accepted_callers
from shared.grpc.server import create_server, serve
from shared.runtime import observed, run

log = logging.getLogger(__name__)
SERVICE_NAMES = [context_service_pb2.DESCRIPTOR.services_by_name["ContextService"].full_name]


@dataclass(frozen=True, slots=True)
class ContextParts:
    servicer: ContextServicer
    rights: DataRights  # also run on a schedule
    empathy: EmpathyMap  # folded on a schedule
    store: Store  # closed last


def build(settings: ContextSettings, engine: AsyncEngine) -> ContextParts:
    """Wire the store's parts behind the gRPC servicer."""
    store = Store(engine, settings.hash_key.get_secret_value().encode())
    repository = ContextRepository(
        store,
        StorePolicy(
            emotion_analysis_default=settings.emotion_analysis_default,
            default_phone_region=settings.default_phone_region,
            contact_gap=timedelta(hours=settings.contact_gap_hours),
            slot_retention=timedelta(days=settings.slot_retention_days),
        ),
    )
    links = IdentityLinks(
        store,
        repository,
        LinkPolicy(
            code_ttl=timedelta(minutes=settings.link_code_ttl_minutes),
            max_attempts=settings.link_max_attempts,
            default_phone_region=settings.default_phone_region,
        ),
    )
    rights = DataRights(
        store,
        RetentionPolicy(
            emotion_retention=timedelta(days=settings.emotion_retention_days),
            message_retention=timedelta(days=settings.message_retention_days),
            slot_retention=timedelta(days=settings.slot_retention_days),
        ),
    )
    lookup = CustomerLookup(store, settings.default_phone_region)
    empathy = EmpathyMap(store)
    servicer = ContextServicer(
        repository, links, rights, lookup, empathy, settings.default_max_turns
    )
    return ContextParts(servicer, rights, empathy, store)


async def periodically(
    job: Callable[[], Awaitable[object]], what: str, interval: timedelta, stop: asyncio.Event
) -> None:
    """Run ``job`` now and then every ``interval`` until stopped, logging what it did."""
    while not stop.is_set():
        try:
            report = await job()
        except Exception:  # a failed run is retried at the next interval, never fatal
            log.exception("%s failed", what)
        else:
            log.info("%s: %s", what, report)
        try:
            await asyncio.wait_for(stop.wait(), interval.total_seconds())
        except TimeoutError:
            continue


async def main(stop: asyncio.Event) -> None:
    settings = ContextSettings()
    with observed(settings) as metrics:
        if settings.hash_key.get_secret_value() == DEVELOPMENT_HASH_KEY:
            log.warning("RAPPORT_CONTEXT_HASH_KEY is the development default; set it in production")
        engine = create_engine(settings.database_url)
        parts: ContextParts | None = None
        try:
            await migrate(engine)
            parts = build(settings, engine)
            servicer = parts.servicer
            server, port, health = create_server(
                f"{settings.bind_host}:{settings.grpc_port}",
                lambda s: context_service_pb2_grpc.add_ContextServiceServicer_to_server(
                    servicer, s
                ),
                SERVICE_NAMES,
                callers=accepted_callers(settings),
            )
            log.info(
                "context gRPC on %s:%d, metrics on :%d", settings.bind_host, port, metrics.port
            )
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(
                    periodically(
                        parts.rights.apply_retention,
                        "retention",
                        timedelta(minutes=settings.retention_interval_minutes),
                        stop,
                    )
                )
                tasks.create_task(
                    periodically(
                        parts.empathy.fold,
                        "empathy map turns folded",
                        timedelta(seconds=settings.empathy_fold_seconds),
                        stop,
                    )
                )
                tasks.create_task(
                    serve(server, health, SERVICE_NAMES, stop, settings.shutdown_grace_seconds)
                )
        finally:
            if parts is not None:
                await parts.store.close()
            await engine.dispose()


if __name__ == "__main__":
    run(main)
