"""The SMS adapter's HTTP side: Twilio's two webhooks, customers' media, and health.

``/twilio/sms`` takes incoming messages (compliance keywords first, see
:mod:`services.sms_adapter.compliance`); ``/twilio/status`` takes delivery status
callbacks straight into the shared intake; ``/media`` opens an MMS's media for an agent
holding a signed link (:mod:`shared.media_links`).
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from google.protobuf.message import Message

from services.sms_adapter.compliance import ComplianceResponder, SmsConsent, compliance_first
from services.sms_adapter.config import SmsSettings
from services.sms_adapter.media import TwilioMedia
from services.sms_adapter.twilio import MESSAGES_PATH, STATUS_PATH, TwilioAdapter
from shared.channels.media import MediaEndpoint, media_fetcher
from shared.channels.webhooks import PublicUrls, WebhookIntake
from shared.errors import DependencyUnavailableError
from shared.kafka.producer import Publisher
from shared.observability.http import http_metrics

MAX_BODY_BYTES = 64 * 1024  # a Twilio webhook is a few kilobytes even with ten media


class BoundedPublisher:
    """Gives up waiting on a publish after ``timeout_seconds`` (DependencyUnavailableError).

    Twilio abandons a webhook after 15 seconds, while a Kafka producer waits far longer
    for a broker that is gone; answering 503 in time lets Twilio retry. The producer may
    still deliver the record it was holding once the broker is back: it carries the same
    event id as Twilio's retry (both derive from the MessageSid), and consumers drop the
    second copy, as they do for every redelivery.
    """

    def __init__(self, publisher: Publisher, timeout_seconds: float) -> None:
        self._publisher = publisher
        self._timeout = timeout_seconds

    async def publish(self, topic: str, event: Message) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._publisher.publish(topic, event)
        except TimeoutError as exc:
            raise DependencyUnavailableError(
                f"Kafka did not take a record for {topic} within {self._timeout:g}s"
            ) from exc


def create_app(
    settings: SmsSettings, adapter: TwilioAdapter, publisher: Publisher, consent: SmsConsent
) -> web.Application:
    urls = PublicUrls(settings.public_base_url, settings.trusted_proxies)
    bounded = BoundedPublisher(publisher, settings.publish_timeout_seconds)
    statuses = WebhookIntake(adapter, bounded, urls, max_body_bytes=MAX_BODY_BYTES)
    messages = WebhookIntake(
        adapter,
        bounded,
        urls,
        max_body_bytes=MAX_BODY_BYTES,
        before_publish=compliance_first(ComplianceResponder(consent, settings)),
    )

    fetcher = media_fetcher(settings)

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[http_metrics])
    app.add_routes(
        [
            web.post(MESSAGES_PATH, messages.handle),
            web.post(STATUS_PATH, statuses.handle),
            web.get("/healthz", health),
            MediaEndpoint(settings.media_signing_key, TwilioMedia(settings, fetcher)).route(),
        ]
    )
    app.on_cleanup.append(lambda _app: fetcher.close())
    return app
