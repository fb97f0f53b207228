"""The web adapter's use cases: publish what a visitor wrote, deliver what Rapport answers."""

from __future__ import annotations

from typing import Protocol

from google.protobuf.message import Message
from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import messages_pb2

from services.web_adapter.metrics import REPLIES
from services.web_adapter.protocol import ChatMessage
from services.web_adapter.sockets import VisitorSockets
from shared.channels.webhooks import inbound_event_id
from shared.conversations import thread_conversation_id
from shared.errors import ContractError
from shared.kafka.codec import caused_by, new_envelope
from shared.kafka.topics import DELIVERY, INBOUND
from shared.seen import SeenIds

CHANNEL = "web"


class PublisherPort(Protocol):
    async def publish(self, topic: str, event: Message) -> None: ...


def conversation_of(visitor: str) -> str:
    return thread_conversation_id(CHANNEL, visitor)


async def publish_inbound(
    publisher: PublisherPort, visitor: str, message: ChatMessage, locale: str
) -> str:
    """Publish a visitor's message to the inbound topic; returns its event id.

    The widget resends what it has not seen acknowledged (after a reconnect, say); the
    same ``client_message_id`` gives the same event id, so a resend is one message.
    """
    event_id = (
        inbound_event_id(CHANNEL, f"{visitor}:{message.client_message_id}")
        if message.client_message_id
        else ""
    )
    envelope = new_envelope(
        event_id=event_id,
        conversation_id=conversation_of(visitor),
        channel=envelope_pb2.CHANNEL_WEB,
        customer=envelope_pb2.CustomerRef(channel=envelope_pb2.CHANNEL_WEB, address=visitor),
    )
    event = messages_pb2.MessageReceived(
        envelope=envelope,
        text=message.text,
        provider_message_id=message.client_message_id,
        locale_hint=locale,
    )
    await publisher.publish(INBOUND, event)
    return envelope.event_id


class ReplyDelivery:
    """Delivers ``SendMessage`` events to visitors' sockets, once each, and reports how it went."""

    def __init__(
        self, sockets: VisitorSockets, publisher: PublisherPort, seen: SeenIds | None = None
    ) -> None:
        self._sockets = sockets
        self._publisher = publisher
        self._seen = seen or SeenIds()

    async def __call__(self, event: Message) -> None:
        if not isinstance(event, messages_pb2.SendMessage):
            raise ContractError(f"unexpected event {event.DESCRIPTOR.full_name}")
        envelope = event.envelope
        if not self._seen.add(envelope.event_id):
            REPLIES.labels("duplicate").inc()
            return
        frame = {
            "type": "reply",
            "event_id": envelope.event_id,
            "in_reply_to": event.in_reply_to,
            "text": event.text,
            "sender": messages_pb2.Sender.Name(event.sender).removeprefix("SENDER_").lower(),
            "sender_name": event.sender_name,
            "quick_replies": [
                {"title": q.title, "payload": q.payload} for q in event.quick_replies
            ],
        }
        delivered = await self._sockets.deliver(envelope.customer.address, frame)
        REPLIES.labels("delivered" if delivered else "held").inc()
        if delivered:
            await self._publisher.publish(
                DELIVERY,
                messages_pb2.MessageDeliveryUpdated(
                    envelope=caused_by(envelope, "delivery:delivered"),
                    send_event_id=envelope.event_id,
                    state=messages_pb2.DELIVERY_STATE_DELIVERED,
                ),
            )
