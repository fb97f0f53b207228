"""Composition root of the social adapter: ``python -m services.social_adapter``.

One HTTP server takes every platform's webhooks at the routes its channel declares in the
registry (``services/channels.py``), each through its own ``WebhookIntake``, and opens
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

from services.channels import channels_of
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
from shared.channels.outbound import OutboundDelivery, reply_consumer
from shared.channels.webhooks import PublicUrls, WebhookIntake
from shared.grpc.client import open_channel
from shared.grpc.context_client import ContextClient
from shared.kafka.consumer import EventConsumer, Handler
from shared.kafka.producer import EventPublisher, Publisher
from shared.observability.http import http_metrics
from shared.runtime import observed, run

log = logging.getLogger(__name__)

SERVICE = SocialAdapterSettings.service_name


@dataclass(frozen=True, slots=True)
class SocialAdapter:
    app: web.Application
    adapters: Mapping[str, ChannelAdapter]
    # Channel name → the handler of its outbound topic.
    deliveries: Mapping[str, Handler]


def _registered(*built: ChannelAdapter) -> dict[str, ChannelAdapter]:
    """The adapters by channel name, in registry order: exactly one per channel the
    registry gives this service, so a declared channel is never left unserved."""
    by_name = {adapter.name: adapter for adapter in built}
    declared = [spec.name for spec in channels_of(SERVICE)]
    if sorted(by_name) != sorted(declared):
        raise RuntimeError(
            f"the social adapter builds {sorted(by_name)} but the channel registry "
            f"gives it {sorted(declared)}"
        )
    return {name: by_name[name] for name in declared}


def reply_consumers(
    settings: SocialAdapterSettings,
    publisher: EventPublisher,
    *,
    topics: Mapping[str, str] | None = None,
) -> dict[str, EventConsumer]:
    """The consumer of each channel's replies this service delivers, by channel name: one
    consumer group per channel, reading the channel's outbound topic unless ``topics``
    names another for it."""
    return {
        spec.name: reply_consumer(
            settings,
            publisher,
            (topics or {}).get(spec.name, spec.outbound_topic),
            channel=spec.name,
        )
        for spec in channels_of(SERVICE)
    }


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
    adapters = _registered(
        MessengerAdapter(**meta, graph=page_graph),
        InstagramAdapter(**meta, graph=page_graph),
        whatsapp,
        TelegramAdapter(
            http=http,
            base_url=settings.telegram_api_base_url,
            bot_token=settings.telegram_bot_token,
            secret_token=settings.telegram_secret_token,
            outgoing=outgoing,
            max_retry_after_seconds=settings.max_retry_after_seconds,
        ),
    )
    urls = PublicUrls(settings.public_base_url, settings.trusted_proxies)
    app = web.Application(client_max_size=settings.max_body_bytes + 1, middlewares=[http_metrics])
    for spec in channels_of(SERVICE):
        intake = WebhookIntake(
            adapters[spec.name], publisher, urls, max_body_bytes=settings.max_body_bytes
        )
        for path in spec.routes:
            app.add_routes(intake.routes(path))

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
        if adapter is not whatsapp
    }
    deliveries[whatsapp.name] = guard.guarding(
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
    """Run each channel's consumer (:func:`reply_consumers`) with its handler in
    ``deliveries`` until ``stop`` is set."""
    consumers = reply_consumers(settings, publisher, topics=topics)
    async with asyncio.TaskGroup() as tasks:
        for channel, handler in deliveries.items():
            tasks.create_task(consumers[channel].run(handler, stop))


async def main(stop: asyncio.Event) -> None:
    settings = SocialAdapterSettings()
    with observed(settings) as metrics:
        # httpx logs request URLs at INFO, and a Bot API URL holds the bot token.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        for name in settings.development_defaults():
            log.warning("RAPPORT_SOCIAL_%s is the public development default", name.upper())
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
                ", ".join(path for spec in channels_of(SERVICE) for path in spec.routes),
                metrics.port,
            )
            await deliver_replies(settings, publisher, parts.deliveries, stop)
        finally:
            if runner is not None:
                await runner.cleanup()
            await http.aclose()
            await context_channel.close()
            await publisher.stop()


if __name__ == "__main__":
    run(main)
