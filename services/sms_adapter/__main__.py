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
from shared.channels.outbound import OUTBOUND_EVENTS, OutboundDelivery
from shared.grpc.client import open_channel
from shared.grpc.context_client import ContextClient
from shared.kafka.consumer import EventConsumer
from shared.kafka.producer import EventPublisher
from shared.kafka.topics import outbound_topic
from shared.observability.logging import configure_logging
from shared.observability.metrics import serve_metrics
from shared.runtime import run

log = logging.getLogger(__name__)


async def serve(settings: SmsSettings, stop: asyncio.Event, *, topic: str = "") -> None:
    """Run webhooks and outbound delivery until ``stop`` is set, then close everything.

    ``topic`` replaces the SMS outbound topic (tests use a private one).
    """
    topic = topic or outbound_topic(CHANNEL)
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
            "Twilio webhooks on http://%s:%d/twilio/sms", settings.bind_host, settings.http_port
        )
        consumer = EventConsumer(
            bootstrap=settings.kafka_bootstrap,
            group_id=settings.consumer_group,
            topics={topic: OUTBOUND_EVENTS},
            dead_letters=publisher,
            client_id=settings.service_name,
        )
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
    configure_logging(settings.service_name, settings.log_level)
    if settings.media_key_is_development_default:
        log.warning("MEDIA_SIGNING_KEY is the public development default")
    metrics = serve_metrics(settings.bind_host, settings.metrics_port)
    try:
        await serve(settings, stop)
    finally:
        metrics.close()


if __name__ == "__main__":
    run(main)
