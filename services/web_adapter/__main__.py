"""Composition root of the web adapter: ``python -m services.web_adapter``."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from services.web_adapter.channel import CHANNEL
from services.web_adapter.config import WebAdapterSettings
from services.web_adapter.handlers import HeldHandover, ReplyDelivery
from services.web_adapter.held import HeldReplies
from services.web_adapter.http_app import create_app
from services.web_adapter.sockets import VisitorSockets
from shared.channels.outbound import reply_consumer
from shared.kafka.consumer import EventConsumer
from shared.kafka.producer import EventPublisher
from shared.runtime import observed, run

log = logging.getLogger(__name__)


def reply_consumers(
    settings: WebAdapterSettings, publisher: EventPublisher
) -> dict[str, EventConsumer]:
    """The consumer of each channel's replies this service delivers, by channel name."""
    return {
        CHANNEL.name: reply_consumer(
            settings, publisher, CHANNEL.outbound_topic, group_instance_id=settings.instance_id
        )
    }


async def main(stop: asyncio.Event) -> None:
    settings = WebAdapterSettings()
    with observed(settings) as metrics:
        publisher = EventPublisher(settings.kafka_bootstrap, client_id=settings.service_name)
        held = HeldReplies(publisher, settings.held_replies_per_visitor)
        sockets = VisitorSockets(on_arrival=HeldHandover(held, publisher))
        runner: web.AppRunner | None = None
        try:
            await publisher.start()
            # Before the first socket: a visitor back after a restart gets what was held.
            count = await held.load(settings.kafka_bootstrap, settings.service_name)
            log.info("%d replies held for visitors who are away", count)
            consumer = reply_consumers(settings, publisher)[CHANNEL.name]
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


if __name__ == "__main__":
    run(main)
