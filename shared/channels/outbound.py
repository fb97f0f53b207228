"""Outbound delivery shared by every adapter: dedupe → guard → render → send → report.

Consumes ``SendMessage`` events for one channel (its outbound topic also carries
``PreparingReply``, the bot's "a reply is coming", which these platforms are not told:
see :data:`OUTBOUND_EVENTS`). A send the platform fails temporarily
(5xx, 429, timeout) is retried with exponential back-off; after the last try, or when
the platform refuses for good, the delivery is reported FAILED with the platform's error
(``error_code`` is the platform's own code) and the event goes to the dead-letter topic
(the consumer's job: this raises). A guard can veto a send (an SMS opt-out, WhatsApp's
closed window): the veto is reported FAILED with a stable :class:`RefusalCode` as
``error_code`` and a sentence for people as ``error_message``, and nothing is sent. So is
an attachment the channel cannot carry (``media_unsupported``); with one it can, the text
is rendered as its caption (``Capabilities.max_caption_chars``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from google.protobuf.message import Message
from rapport.events.v1 import messages_pb2
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from shared.channels.adapter import (
    Capabilities,
    ChannelSender,
    OutboundMessage,
    QuickReply,
    SendError,
    TemporarySendError,
)
from shared.channels.attachments import from_proto
from shared.channels.rendering import render
from shared.errors import ContractError
from shared.kafka.codec import caused_by
from shared.kafka.consumer import EventConsumer
from shared.kafka.producer import EventPublisher, Publisher
from shared.kafka.topics import DELIVERY
from shared.observability.metrics import CHANNEL_SENDS
from shared.seen import SeenIds

log = logging.getLogger(__name__)


class RefusalCode(StrEnum):
    """Why a guard held a message back: stable codes consumers (the agent desk) act on."""

    OPTED_OUT = "opted_out"  # the customer opted out of the channel (SMS STOP)
    WINDOW_CLOSED = "window_closed"  # the platform's reply window is closed (WhatsApp)
    CUSTOMER_ERASED = "customer_erased"  # the customer's data was erased
    MEDIA_UNSUPPORTED = "media_unsupported"  # the channel cannot carry this attachment


@dataclass(frozen=True, slots=True)
class Refusal:
    """A guard's veto: the code, and what a person reads about it."""

    code: RefusalCode
    text: str


OUTBOUND_EVENTS: tuple[type[Message], ...] = (
    messages_pb2.SendMessage,
    messages_pb2.PreparingReply,
)
"""What an outbound topic carries, and so what its consumers must accept: replies to
deliver, and the signal that the bot is preparing one (a typing indicator, shown by the
channels that can and ignored by the others)."""


class ReplyConsumerSettings(Protocol):
    """What an adapter's settings say about reading its replies."""

    @property
    def service_name(self) -> str: ...
    @property
    def kafka_bootstrap(self) -> str: ...
    @property
    def consumer_group(self) -> str: ...


def reply_consumer(
    settings: ReplyConsumerSettings,
    publisher: EventPublisher,
    topic: str,
    *,
    channel: str = "",
    group_instance_id: str | None = None,
) -> EventConsumer:
    """The consumer of one outbound topic, its failures dead-lettered through ``publisher``.

    ``channel`` gives a service that delivers several channels one consumer group per
    channel, so a slow platform never holds up another's replies.
    """
    suffix = f".{channel}" if channel else ""
    return EventConsumer(
        bootstrap=settings.kafka_bootstrap,
        group_id=settings.consumer_group + suffix,
        topics={topic: OUTBOUND_EVENTS},
        dead_letters=publisher,
        client_id=settings.service_name + suffix,
        group_instance_id=group_instance_id,
    )


SendGuard = Callable[[OutboundMessage], Awaitable[Refusal | None]]
"""Returns why a message must not be sent, or None to let it go."""


def _media_refusal(message: OutboundMessage, capabilities: Capabilities) -> Refusal | None:
    """Why the channel cannot carry the message's attachments, if it cannot."""
    if not message.attachments:
        return None
    if not capabilities.media:
        return Refusal(
            RefusalCode.MEDIA_UNSUPPORTED,
            f"Not sent: images and files cannot be sent on {message.channel}.",
        )
    if len(message.attachments) > 1:
        return Refusal(
            RefusalCode.MEDIA_UNSUPPORTED, "Not sent: one image or file per message, at most."
        )
    return None


def delivery_report(
    event: messages_pb2.SendMessage,
    state: messages_pb2.DeliveryState,
    *,
    purpose: str = "",
    provider_message_id: str = "",
    error_code: str = "",
    error_message: str = "",
) -> messages_pb2.MessageDeliveryUpdated:
    """How a send went, as every adapter reports it; its id derives from the send and
    ``purpose`` (by default the state), so reporting the same thing again is one event."""
    return messages_pb2.MessageDeliveryUpdated(
        envelope=caused_by(event.envelope, purpose or f"delivery:{state}"),
        send_event_id=event.envelope.event_id,
        provider_message_id=provider_message_id,
        state=state,
        error_code=error_code,
        error_message=error_message[:500],
    )


class DeliveryFailedError(SendError):
    """The platform did not take the message; carries its error to the dead-letter topic."""


def _sender_of(event: messages_pb2.SendMessage) -> str:
    """Who wrote the reply: ``"bot"``, ``"agent"`` or ``"system"``; empty when unsaid."""
    if event.sender == messages_pb2.SENDER_UNSPECIFIED:
        return ""
    return messages_pb2.Sender.Name(event.sender).removeprefix("SENDER_").lower()


class OutboundDelivery:
    def __init__(
        self,
        adapter: ChannelSender,
        publisher: Publisher,
        *,
        guard: SendGuard | None = None,
        attempts: int = 4,
        first_wait_seconds: float = 0.5,
        seen: SeenIds | None = None,
    ) -> None:
        self._adapter = adapter
        self._publisher = publisher
        self._guard = guard
        self._attempts = attempts
        self._first_wait = first_wait_seconds
        self._seen = seen or SeenIds()

    async def __call__(self, event: Message) -> None:
        if isinstance(event, messages_pb2.PreparingReply):
            # A bot's typing indicator is not worth a platform call (SMS has none; the
            # social platforms' would cost a request per reply): the reply itself follows.
            return
        if not isinstance(event, messages_pb2.SendMessage):
            raise ContractError(f"unexpected event {event.DESCRIPTOR.full_name}")
        channel = self._adapter.name
        event_id = event.envelope.event_id
        if event_id in self._seen:
            CHANNEL_SENDS.labels(channel, "duplicate").inc()
            return
        capabilities = self._adapter.capabilities
        attachments = tuple(from_proto(attachment) for attachment in event.attachments)
        if attachments:  # the text is the attachment's caption
            capabilities = replace(
                capabilities, max_text_chars=capabilities.max_caption_chars, max_quick_replies=0
            )
        text, buttons = render(
            event.text,
            tuple(QuickReply(q.title, q.payload) for q in event.quick_replies),
            capabilities,
        )
        message = OutboundMessage(
            channel=channel,
            address=event.envelope.customer.address,
            text=text,
            quick_replies=buttons,
            event_id=event_id,
            attachments=attachments,
            conversation_id=event.envelope.conversation_id,
            sender=_sender_of(event),
        )
        refusal = _media_refusal(message, capabilities)
        if refusal is None and self._guard is not None:
            refusal = await self._guard(message)
        if refusal is not None:
            log.info("not sending %s on %s: %s (%s)", event_id, channel, refusal.code, refusal.text)
            CHANNEL_SENDS.labels(channel, "refused").inc()
            await self._report(
                event, "", messages_pb2.DELIVERY_STATE_FAILED, refusal.code, refusal.text
            )
            self._seen.add(event_id)
            return
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(TemporarySendError),
                stop=stop_after_attempt(self._attempts),
                wait=wait_exponential(multiplier=self._first_wait, max=30),
                reraise=True,
            ):
                with attempt:
                    receipt = await self._adapter.send(message)
        except SendError as exc:
            CHANNEL_SENDS.labels(channel, "failed").inc()
            await self._report(event, "", messages_pb2.DELIVERY_STATE_FAILED, exc.code, str(exc))
            self._seen.add(event_id)
            raise DeliveryFailedError(
                f"{channel} did not take {event_id}: {exc}", code=exc.code
            ) from exc
        CHANNEL_SENDS.labels(channel, "sent").inc()
        await self._report(event, receipt.provider_message_id, messages_pb2.DELIVERY_STATE_SENT)
        self._seen.add(event_id)

    async def _report(
        self,
        event: messages_pb2.SendMessage,
        provider_message_id: str,
        state: messages_pb2.DeliveryState,
        error_code: str = "",
        error_message: str = "",
    ) -> None:
        await self._publisher.publish(
            DELIVERY,
            delivery_report(
                event,
                state,
                provider_message_id=provider_message_id,
                error_code=error_code,
                error_message=error_message,
            ),
        )
