"""The web adapter's use cases: publish what a visitor wrote, deliver what Rapport answers
(and, while the bot prepares an answer, tell the chat page so)."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from google.protobuf.message import Message
from rapport.events.v1 import messages_pb2

from services.web_adapter.channel import CHANNEL
from services.web_adapter.held import HeldReplies
from services.web_adapter.metrics import REPLIES
from services.web_adapter.protocol import ChatMessage
from services.web_adapter.sockets import Socket, VisitorSockets
from shared.channels.adapter import Attachment, InboundMessage
from shared.channels.inbound import received_event
from shared.channels.outbound import Refusal, RefusalCode, delivery_report
from shared.channels.webhooks import inbound_event_id
from shared.conversations import thread_conversation_id
from shared.errors import ContractError, DependencyUnavailableError
from shared.kafka.topics import DELIVERY, INBOUND
from shared.seen import SeenIds

log = logging.getLogger(__name__)


class PublisherPort(Protocol):
    async def publish(self, topic: str, event: Message) -> None: ...


def conversation_of(visitor: str) -> str:
    return thread_conversation_id(CHANNEL.name, visitor)


async def publish_inbound(
    publisher: PublisherPort,
    visitor: str,
    message: ChatMessage,
    locale: str,
    attachments: tuple[Attachment, ...] = (),
) -> str:
    """Publish a visitor's message, with the uploads it carries, to the inbound topic;
    returns its event id.

    The widget resends what it has not seen acknowledged (after a reconnect, say); the
    same ``client_message_id`` gives the same event id, so a resend is one message.
    """
    event_id = (
        inbound_event_id(CHANNEL.name, f"{visitor}:{message.client_message_id}")
        if message.client_message_id
        else ""
    )
    inbound = InboundMessage(
        channel=CHANNEL.name,
        address=visitor,
        text=message.text,
        provider_message_id=message.client_message_id,
        attachments=attachments,
        locale=locale,
    )
    event = received_event(inbound, conversation_id=conversation_of(visitor), event_id=event_id)
    await publisher.publish(INBOUND, event)
    return event.envelope.event_id


def reply_frame(event: messages_pb2.SendMessage) -> dict[str, Any]:
    """The frame the chat page shows for a reply."""
    return {
        "type": "reply",
        "event_id": event.envelope.event_id,
        "in_reply_to": event.in_reply_to,
        "text": event.text,
        "sender": messages_pb2.Sender.Name(event.sender).removeprefix("SENDER_").lower(),
        "sender_name": event.sender_name,
        "quick_replies": [{"title": q.title, "payload": q.payload} for q in event.quick_replies],
    }


def typing_frame(event: messages_pb2.PreparingReply) -> dict[str, Any]:
    """The frame that shows the chat page's typing indicator until the reply comes."""
    return {
        "type": "typing",
        "event_id": event.envelope.event_id,
        "in_reply_to": event.in_reply_to,
        "sender_name": event.sender_name,
    }


async def report_delivered(publisher: PublisherPort, event: messages_pb2.SendMessage) -> None:
    """Tell the rest of Rapport (the desk's delivery marks) that the visitor has the reply."""
    await publisher.publish(
        DELIVERY,
        delivery_report(event, messages_pb2.DELIVERY_STATE_DELIVERED, purpose="delivery:delivered"),
    )


WEB_CARRIES_NO_FILES = Refusal(
    RefusalCode.MEDIA_UNSUPPORTED, "Not sent: images and files cannot be sent on web."
)


async def report_refused(
    publisher: PublisherPort, event: messages_pb2.SendMessage, refusal: Refusal
) -> None:
    """Report a reply not shown to the visitor, with the reason, as the other channels do."""
    await publisher.publish(
        DELIVERY,
        delivery_report(
            event,
            messages_pb2.DELIVERY_STATE_FAILED,
            error_code=refusal.code,
            error_message=refusal.text,
        ),
    )


class HeldHandover:
    """Runs when a visitor's socket opens: hands over the replies held for them."""

    def __init__(self, held: HeldReplies, publisher: PublisherPort) -> None:
        self._held = held
        self._publisher = publisher

    async def __call__(self, visitor: str, socket: Socket) -> None:
        await self._held.hand_to(visitor, socket, reply_frame, self._report)

    async def _report(self, event: messages_pb2.SendMessage) -> None:
        try:
            await report_delivered(self._publisher, event)
        except DependencyUnavailableError as error:  # the visitor has it; only the mark is late
            log.warning("could not report a held reply as delivered: %s", error)
        REPLIES.labels("delivered_after_hold").inc()


class ReplyDelivery:
    """Delivers ``SendMessage`` events to visitors' sockets, once each, and reports how it
    went; a reply for a visitor with no open socket is held durably until they return.

    A ``PreparingReply`` (the bot is preparing a reply) becomes a ``typing`` frame for the
    visitor's open sockets, once: no more than a hint, it is neither held for a visitor
    who is away (the reply will be) nor reported on.
    """

    def __init__(
        self,
        sockets: VisitorSockets,
        publisher: PublisherPort,
        held: HeldReplies,
        seen: SeenIds | None = None,
    ) -> None:
        self._sockets = sockets
        self._publisher = publisher
        self._held = held
        self._seen = seen or SeenIds()

    async def __call__(self, event: Message) -> None:
        if isinstance(event, messages_pb2.PreparingReply):
            if self._seen.add(event.envelope.event_id):
                await self._sockets.deliver(event.envelope.customer.address, typing_frame(event))
            return
        if not isinstance(event, messages_pb2.SendMessage):
            raise ContractError(f"unexpected event {event.DESCRIPTOR.full_name}")
        envelope = event.envelope
        if envelope.event_id in self._seen:
            REPLIES.labels("duplicate").inc()
            return
        if event.attachments:  # the chat shows text only: say so rather than drop the file
            await report_refused(self._publisher, event, WEB_CARRIES_NO_FILES)
            self._seen.add(envelope.event_id)
            REPLIES.labels("refused").inc()
            return
        delivered = await self._sockets.deliver(envelope.customer.address, reply_frame(event))
        if delivered:
            await report_delivered(self._publisher, event)
        else:
            await self._held.hold(event)
        self._seen.add(envelope.event_id)
        REPLIES.labels("delivered" if delivered else "held").inc()
