"""Composition root of the web adapter: ``python -m services.web_adapter``."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from services.web_adapter.config import WebAdapterSettings
from services.web_adapter.handlers import CHANNEL, HeldHandover, ReplyDelivery
from services.web_adapter.held import HeldReplies
from services.web_adapter.http_app import create_app
from services.web_adapter.sockets import VisitorSockets
from shared.channels.outbound import OUTBOUND_EVENTS
from shared.kafka.consumer import EventConsumer
from shared.kafka.producer import EventPublisher
from shared.kafka.topics import outbound_topic
from shared.observability.logging import configure_logging
from shared.observability.metrics import serve_metrics
from shared.runtime import run

log = logging.getLogger(__name__)


async def main(stop: asyncio.Event) -> None:
    settings = WebAdapterSettings()
    configure_logging(settings.service_name, settings.log_level)
    if settings.media_key_is_development_default:
        log.warning("MEDIA_SIGNING_KEY is the public development default")
    metrics = serve_metrics(settings.bind_host, settings.metrics_port)
    publisher = EventPublisher(settings.kafka_bootstrap, client_id=settings.service_name)
    held = HeldReplies(publisher, settings.held_replies_per_visitor)
    sockets = VisitorSockets(on_arrival=HeldHandover(held, publisher))
    runner: web.AppRunner | None = None
    try:
        await publisher.start()
        # Before the first socket: a visitor back after a restart gets what was held.
        count = await held.load(settings.kafka_bootstrap, settings.service_name)
        log.info("%d replies held for visitors who are away", count)
        consumer = EventConsumer(
            bootstrap=settings.kafka_bootstrap,
            group_id=settings.consumer_group,
            group_instance_id=settings.instance_id,
            topics={outbound_topic(CHANNEL): OUTBOUND_EVENTS},
            dead_letters=publisher,
            client_id=settings.service_name,
        )
        runner = web.AppRunner(
            create_app(settings, publisher, sockets, consumer.in_group.is_set),
            shutdown_timeout=5,
        )
        await runner.setup()
        site = web.TCPSite(runner, settings.bind_host, settings.http_port)
        await site.start()
        log.info(
            "chat page on http://%s:%d/, metrics on :%d",
            settings.bind_host,
            settings.http_port,
            metrics.port,
        )
        await consumer.run(ReplyDelivery(sockets, publisher, held), stop)
    finally:
        if runner is not None:
            await runner.cleanup()
        await publisher.stop()
        metrics.close()


if __name__ == "__main__":
    run(main)
