"""Composition root of the social adapter: ``python -m services.social_adapter``.

One HTTP server takes every platform's webhooks (``/meta/messenger``, ``/meta/instagram``,
``/meta/whatsapp``, ``/telegram``), each through its own ``WebhookIntake``, and opens
customers' media for agents at ``/media`` (signed links, ``shared.media_links``); one Kafka
consumer per channel delivers that channel's replies, so a platform that is slow or
throttling never holds up another. On SIGTERM the consumers finish the replies in hand,
then the HTTP server stops, then the clients close.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
from aiohttp import web

from services.social_adapter.config import SocialAdapterSettings
from services.social_adapter.context import ContextPort
from services.social_adapter.instagram import InstagramAdapter
from services.social_adapter.media import SocialMedia
from services.social_adapter.messenger import MessengerAdapter
from services.social_adapter.meta import GraphClient
from services.social_adapter.telegram import TelegramAdapter
from services.social_adapter.whatsapp import ReplyWindowGuard, WhatsAppAdapter
from shared.channels.adapter import ChannelAdapter
from shared.channels.media import MediaEndpoint, OutgoingMedia, media_fetcher
from shared.channels.outbound import OUTBOUND_EVENTS, OutboundDelivery
from shared.channels.webhooks import PublicUrls, WebhookIntake
from shared.grpc.client import open_channel
from shared.grpc.context_client import ContextClient
from shared.kafka.consumer import EventConsumer, Handler
from shared.kafka.producer import EventPublisher, Publisher
from shared.kafka.topics import outbound_topic
from shared.observability.http import http_metrics
from shared.observability.logging import configure_logging
from shared.observability.metrics import serve_metrics
from shared.runtime import run

log = logging.getLogger(__name__)

ROUTES = {
    "messenger": "/meta/messenger",
    "instagram": "/meta/instagram",
    "whatsapp": "/meta/whatsapp",
    "telegram": "/telegram",
}


@dataclass(frozen=True, slots=True)
class SocialAdapter:
    app: web.Application
    adapters: Mapping[str, ChannelAdapter]
    # Channel name → the handler of its outbound topic.
    deliveries: Mapping[str, Handler]


def build(
    settings: SocialAdapterSettings,
    publisher: Publisher,
    context: ContextPort,
    http: httpx.AsyncClient,
) -> SocialAdapter:
    """Wire the four adapters to their webhook routes and outbound deliveries, and the
    platforms' media to ``/media``."""
    graph_base, version = settings.graph_api_base_url, settings.graph_api_version
    page_graph = GraphClient(http, graph_base, version, settings.page_access_token)
    meta = {"app_secret": settings.meta_app_secret, "verify_token": settings.meta_verify_token}
    fetcher = media_fetcher(settings)
    outgoing = OutgoingMedia(fetcher, settings.media_signing_key, settings.outbound_media_origins)
    whatsapp = WhatsAppAdapter(
        **meta,
        graph=GraphClient(http, graph_base, version, settings.whatsapp_access_token),
        phone_number_id=settings.whatsapp_phone_number_id,
        outgoing=outgoing,
        template_language=settings.whatsapp_template_language,
    )
    adapters: dict[str, ChannelAdapter] = {
        "messenger": MessengerAdapter(**meta, graph=page_graph),
        "instagram": InstagramAdapter(**meta, graph=page_graph),
        "whatsapp": whatsapp,
        "telegram": TelegramAdapter(
            http=http,
            base_url=settings.telegram_api_base_url,
            bot_token=settings.telegram_bot_token,
            secret_token=settings.telegram_secret_token,
            outgoing=outgoing,
            max_retry_after_seconds=settings.max_retry_after_seconds,
        ),
    }
    urls = PublicUrls(settings.public_base_url, settings.trusted_proxies)
    app = web.Application(client_max_size=settings.max_body_bytes + 1, middlewares=[http_metrics])
    for name, adapter in adapters.items():
        intake = WebhookIntake(adapter, publisher, urls, max_body_bytes=settings.max_body_bytes)
        if name == "telegram":
            app.router.add_post(ROUTES[name], intake.handle)
        else:
            app.add_routes(intake.routes(ROUTES[name]))

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/healthz", health)
    media = MediaEndpoint(settings.media_signing_key, SocialMedia(settings, fetcher))
    app.add_routes([media.route()])
    app.on_cleanup.append(lambda _app: fetcher.close())

    attempts, first_wait = settings.send_attempts, settings.send_retry_wait_seconds
    guard = ReplyWindowGuard(
        context=context,
        publisher=publisher,
        adapter=whatsapp,
        reopen_template=settings.whatsapp_reopen_template,
    )
    deliveries: dict[str, Handler] = {
        name: OutboundDelivery(adapter, publisher, attempts=attempts, first_wait_seconds=first_wait)
        for name, adapter in adapters.items()
        if name != "whatsapp"
    }
    deliveries["whatsapp"] = guard.guarding(
        OutboundDelivery(
            whatsapp, publisher, guard=guard, attempts=attempts, first_wait_seconds=first_wait
        )
    )
    return SocialAdapter(app, adapters, deliveries)


async def deliver_replies(
    settings: SocialAdapterSettings,
    publisher: EventPublisher,
    deliveries: Mapping[str, Handler],
    stop: asyncio.Event,
    *,
    topics: Mapping[str, str] | None = None,
) -> None:
    """One consumer (and consumer group) per channel until ``stop`` is set.

    Each channel's replies come from ``outbound_topic(channel)`` unless ``topics`` names
    another topic for it.
    """
    async with asyncio.TaskGroup() as tasks:
        for channel, handler in deliveries.items():
            topic = (topics or {}).get(channel, outbound_topic(channel))
            consumer = EventConsumer(
                bootstrap=settings.kafka_bootstrap,
                group_id=f"{settings.consumer_group}.{channel}",
                topics={topic: OUTBOUND_EVENTS},
                dead_letters=publisher,
                client_id=f"{settings.service_name}.{channel}",
            )
            tasks.create_task(consumer.run(handler, stop))


async def main(stop: asyncio.Event) -> None:
    settings = SocialAdapterSettings()
    configure_logging(settings.service_name, settings.log_level)
    # httpx logs request URLs at INFO, and a Bot API URL holds the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in settings.development_defaults():
        log.warning("RAPPORT_SOCIAL_%s is the public development default", name.upper())
    if settings.media_key_is_development_default:
        log.warning("MEDIA_SIGNING_KEY is the public development default")
    metrics = serve_metrics(settings.bind_host, settings.metrics_port)
    publisher = EventPublisher(settings.kafka_bootstrap, client_id=settings.service_name)
    context_channel = open_channel(settings.context_address, token=settings.grpc_token)
    http = httpx.AsyncClient(timeout=settings.http_timeout_seconds)
    runner: web.AppRunner | None = None
    try:
        await publisher.start()
        parts = build(
            settings,
            publisher,
            ContextClient(context_channel, settings.grpc_deadline_seconds),
            http,
        )
        runner = web.AppRunner(parts.app, shutdown_timeout=5)
        await runner.setup()
        await web.TCPSite(runner, settings.bind_host, settings.http_port).start()
        log.info(
            "webhooks on http://%s:%d (%s), metrics on :%d",
            settings.bind_host,
            settings.http_port,
            ", ".join(ROUTES.values()),
            metrics.port,
        )
        await deliver_replies(settings, publisher, parts.deliveries, stop)
    finally:
        if runner is not None:
            await runner.cleanup()
        await http.aclose()
        await context_channel.close()
        await publisher.stop()
        metrics.close()


if __name__ == "__main__":
    run(main)
