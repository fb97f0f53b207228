"""Webhook intake shared by every adapter: verify → normalise → publish → answer.

Nothing else happens while the platform waits: no database, no orchestration. A
message is answered 2xx only once Kafka has it (``acks=all``); if the broker cannot
take it the platform gets 503 and retries. Each message's event id is derived from the
platform's own message id, so a retried webhook yields the same event (and the adapter
skips publishing what it already published).

Each item of a webhook is judged on its own (:mod:`shared.channels.admission`): a refused
one is counted and logged, its neighbours are published, and the platform gets 200 so
it does not retry them; only a webhook whose single item is refused gets a 400.
"""

from __future__ import annotations

import ipaddress
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace

from aiohttp import web
from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import messages_pb2

from shared.channel_names import channel_number
from shared.channels.adapter import (
    ChannelAdapter,
    DeliveryState,
    InboundMessage,
    ParsedWebhook,
    SignatureError,
    StatusUpdate,
    WebhookRequest,
    WebhookResponse,
)
from shared.channels.admission import Rejection, admit
from shared.channels.edge import Reason, RejectedInput
from shared.channels.inbound import received_event
from shared.conversations import thread_conversation_id
from shared.errors import DependencyUnavailableError, InvalidInputError
from shared.kafka.codec import new_envelope
from shared.kafka.producer import Publisher
from shared.kafka.topics import DELIVERY, INBOUND
from shared.observability.metrics import WEBHOOK_ITEMS_REJECTED, WEBHOOK_REQUESTS
from shared.seen import SeenIds

log = logging.getLogger(__name__)

_EVENT_NAMESPACE = uuid.UUID("6f1d2c0a-5b8e-4d8e-9a55-0c1f2a3b4c5d")
_DELIVERY_STATES = {
    DeliveryState.SENT: messages_pb2.DELIVERY_STATE_SENT,
    DeliveryState.DELIVERED: messages_pb2.DELIVERY_STATE_DELIVERED,
    DeliveryState.READ: messages_pb2.DELIVERY_STATE_READ,
    DeliveryState.FAILED: messages_pb2.DELIVERY_STATE_FAILED,
    DeliveryState.UNDELIVERED: messages_pb2.DELIVERY_STATE_UNDELIVERED,
}


def inbound_event_id(channel: str, provider_message_id: str) -> str:
    """The same platform message always becomes the same Rapport event."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"{channel}:{provider_message_id}"))


@dataclass(frozen=True, slots=True)
class PublicUrls:
    """Which URL the platform signed: the public one, not the one this process saw.

    Behind a TLS-terminating proxy the request arrives as ``http://internal:8081/...``
    while the platform signed ``https://hooks.example.com/...``. Either configure the
    public base URL, or trust ``X-Forwarded-Proto``/``X-Forwarded-Host`` — from the
    listed proxy networks only, so nobody else can choose the URL being verified.
    """

    base_url: str = ""
    trusted_proxies: tuple[str, ...] = ()

    def _trusted(self, remote: str | None) -> bool:
        if not remote:
            return False
        try:
            address = ipaddress.ip_address(remote)
        except ValueError:
            return False
        return any(
            address in ipaddress.ip_network(net, strict=False) for net in self.trusted_proxies
        )

    def of(self, request: web.Request) -> str:
        path = request.raw_path  # path and query exactly as sent
        if self.base_url:
            return self.base_url.rstrip("/") + path
        scheme, host = request.scheme, request.host
        if self._trusted(request.remote):
            scheme = request.headers.get("X-Forwarded-Proto", scheme).split(",")[0].strip()
            host = request.headers.get("X-Forwarded-Host", host).split(",")[0].strip()
        return f"{scheme}://{host}{path}"


def _refusal(reason: Reason, detail: str) -> WebhookResponse:
    return WebhookResponse(400, f"{reason}: {detail}".encode())


def _count_rejections(channel: str, rejections: Iterable[Rejection]) -> None:
    """Count and log each refused item once; the platform's other items go ahead."""
    for rejection in rejections:
        WEBHOOK_ITEMS_REJECTED.labels(channel, rejection.reason).inc()
        log.warning(
            "%s webhook item %.64r refused (%s): %s",
            channel,
            rejection.provider_message_id,
            rejection.reason,
            rejection.detail,
        )


BeforePublish = Callable[[ParsedWebhook], Awaitable[ParsedWebhook]]
"""Work a channel must do before a verified webhook is published (SMS compliance keywords).

It gets the webhook without the messages already published (a platform's retry of them
is not worked on twice) and returns the webhook to publish and answer: its messages may
be marked (``compliance_keyword``) and its reply replaced. DependencyUnavailableError
makes the platform retry (503), InvalidInputError refuses the webhook (400).
"""


class WebhookIntake:
    """Serves one adapter's webhook endpoint."""

    def __init__(
        self,
        adapter: ChannelAdapter,
        publisher: Publisher,
        urls: PublicUrls,
        *,
        max_body_bytes: int = 1_048_576,
        seen: SeenIds | None = None,
        before_publish: BeforePublish | None = None,
    ) -> None:
        self._adapter = adapter
        self._publisher = publisher
        self._urls = urls
        self._max_body_bytes = max_body_bytes
        self._seen = seen or SeenIds()
        self._before_publish = before_publish

    def routes(self, path: str) -> list[web.RouteDef]:
        """POST for the webhooks; GET too when the platform checks the endpoint first
        (Meta's subscription handshake), so other platforms' paths answer GET with 405."""
        post = web.post(path, self.handle)
        if type(self._adapter).handshake is ChannelAdapter.handshake:
            return [post]
        return [web.get(path, self.handle), post]

    async def handle(self, request: web.Request) -> web.Response:
        channel = self._adapter.name
        if request.content_length is not None and request.content_length > self._max_body_bytes:
            return self._answer(channel, "too_large", WebhookResponse(413, b"body too large"))
        body = await request.read()
        if len(body) > self._max_body_bytes:
            return self._answer(channel, "too_large", WebhookResponse(413, b"body too large"))
        hook = WebhookRequest(
            method=request.method,
            url=self._urls.of(request),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            query=dict(request.query),
        )
        if request.method == "GET":
            return self._answer(channel, "handshake", self._adapter.handshake(hook))
        try:
            self._adapter.verify(hook)
        except SignatureError as exc:
            log.warning("%s webhook refused: %s", channel, exc)
            return self._answer(channel, "bad_signature", WebhookResponse(403, b"forbidden"))
        try:
            admission = admit(
                self._adapter.parse(hook), max_text_chars=self._adapter.max_inbound_text_chars
            )
        except RejectedInput as exc:  # the adapter refused the webhook's one item itself
            _count_rejections(channel, (Rejection(exc.reason, str(exc), ""),))
            return self._answer(channel, "invalid", _refusal(exc.reason, str(exc)))
        except InvalidInputError as exc:
            return self._answer(channel, "invalid", WebhookResponse(400, str(exc).encode()))
        _count_rejections(channel, admission.rejections)
        if admission.refused_whole:
            [rejection] = admission.rejections
            return self._answer(channel, "invalid", _refusal(rejection.reason, rejection.detail))
        parsed = self._unpublished(admission.webhook)
        try:
            if self._before_publish is not None:
                parsed = await self._before_publish(parsed)
            for message in parsed.messages:
                await self._publish_message(message)
            for status in parsed.statuses:
                await self._publish_status(status)
        except InvalidInputError as exc:
            return self._answer(channel, "invalid", WebhookResponse(400, str(exc).encode()))
        except DependencyUnavailableError as exc:
            log.error("%s webhook not taken, the platform will retry: %s", channel, exc)
            return self._answer(channel, "unavailable", WebhookResponse(503, b"try again"))
        return self._answer(channel, "accepted", parsed.reply)

    @staticmethod
    def _answer(channel: str, outcome: str, response: WebhookResponse) -> web.Response:
        WEBHOOK_REQUESTS.labels(channel, outcome).inc()
        return web.Response(
            status=response.status, body=response.body, content_type=response.content_type
        )

    def _unpublished(self, parsed: ParsedWebhook) -> ParsedWebhook:
        """The webhook without the messages this process already put on Kafka."""
        fresh = tuple(
            message
            for message in parsed.messages
            if inbound_event_id(message.channel, message.provider_message_id) not in self._seen
        )
        return replace(parsed, messages=fresh)

    async def _publish_message(self, message: InboundMessage) -> None:
        event_id = inbound_event_id(message.channel, message.provider_message_id)
        if event_id in self._seen:
            return  # a platform retry of something already on Kafka
        event = received_event(
            message,
            conversation_id=thread_conversation_id(message.channel, message.address),
            event_id=event_id,
        )
        await self._publisher.publish(INBOUND, event)
        self._seen.add(event_id)

    async def _publish_status(self, status: StatusUpdate) -> None:
        event_id = inbound_event_id(
            status.channel, f"status:{status.provider_message_id}:{status.state}"
        )
        if event_id in self._seen:
            return  # a platform retry of something already on Kafka
        channel = channel_number(status.channel)
        event = messages_pb2.MessageDeliveryUpdated(
            envelope=new_envelope(
                event_id=event_id,
                conversation_id=thread_conversation_id(status.channel, status.address),
                channel=channel,
                customer=envelope_pb2.CustomerRef(channel=channel, address=status.address),
            ),
            provider_message_id=status.provider_message_id,
            state=_DELIVERY_STATES[status.state],
            error_code=status.error_code,
            error_message=status.error_message,
        )
        await self._publisher.publish(DELIVERY, event)
        self._seen.add(event_id)
