"""Composition root of the SMS adapter: ``python -m services.sms_adapter``.

Twilio webhooks in (HTTP), ``SendMessage`` events for SMS out (Kafka → Twilio), with the
context service as the keeper of each number's SMS consent.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from services.sms_adapter.compliance import ContextConsent, opt_out_guard
from services.sms_adapter.config import SmsSettings
from services.sms_adapter.http_app import create_app
from services.sms_adapter.twilio import CHANNEL, TwilioAdapter
from shared.channels.outbound import OutboundDelivery, reply_consumer
from shared.grpc.client import open_channel
from shared.grpc.context_client import ContextClient
from shared.kafka.consumer import EventConsumer
from shared.kafka.producer import EventPublisher
from shared.runtime import observed, run

log = logging.getLogger(__name__)


def reply_consumers(
    settings: SmsSettings, publisher: EventPublisher, *, topic: str = ""
) -> dict[str, EventConsumer]:
    """The consumer of each channel's replies this service delivers, by channel name;
    ``topic`` replaces the SMS outbound topic."""
    return {CHANNEL.name: reply_consumer(settings, publisher, topic or CHANNEL.outbound_topic)}


async def serve(settings: SmsSettings, stop: asyncio.Event, *, topic: str = "") -> None:
    """Run webhooks and outbound delivery until ``stop`` is set, then close everything.

    ``topic`` replaces the SMS outbound topic (tests use a private one).
    """
    context_channel = open_channel(settings.context_address, token=settings.grpc_token)
    consent = ContextConsent(ContextClient(context_channel, settings.grpc_deadline_seconds))
    publisher = EventPublisher(settings.kafka_bootstrap, client_id=settings.service_name)
    adapter = TwilioAdapter(settings)
    runner: web.AppRunner | None = None
    try:
        await publisher.start()
        runner = web.AppRunner(
            create_app(settings, adapter, publisher, consent), shutdown_timeout=5
        )
        await runner.setup()
        await web.TCPSite(runner, settings.bind_host, settings.http_port).start()
        log.info(
            "Twilio webhooks on http://%s:%d (%s)",
            settings.bind_host,
            settings.http_port,
            ", ".join(CHANNEL.routes),
        )
        consumer = reply_consumers(settings, publisher, topic=topic)[CHANNEL.name]
        delivery = OutboundDelivery(adapter, publisher, guard=opt_out_guard(consent))
        await consumer.run(delivery, stop)
    finally:
        if runner is not None:
            await runner.cleanup()
        await adapter.close()
        await publisher.stop()
        await context_channel.close()


async def main(stop: asyncio.Event) -> None:
    settings = SmsSettings()
    with observed(settings):
        await serve(settings, stop)


if __name__ == "__main__":
    run(main)
