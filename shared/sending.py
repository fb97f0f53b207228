"""Sending a message to a customer (the bot's replies and notices, an agent's replies):
stored as a turn first, then published on the customer's channel, safe to repeat.

The turn's event id is the outgoing event's id, so handling the same cause twice finds
the stored turn and republishes its text (and attachments): the customer never sees two
different messages for one cause, and the channel adapter drops the repeat as a duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from google.protobuf.message import Message
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import messages_pb2

from shared.channel_names import channel_name
from shared.kafka.topics import outbound_topic
from shared.voice.replies import Reply

AGENT_REPLY = "agent-reply"
"""The purpose an agent's reply is sent under, derived from the agent's action: the
desk, which wrote the action, knows the message's id and follows its delivery."""


class TurnWriter(Protocol):
    async def append_turn(
        self, customer_id: str, turn: context_pb.Turn
    ) -> tuple[context_pb.Turn, bool]: ...


class PublisherPort(Protocol):
    async def publish(self, topic: str, event: Message) -> None: ...


def step_record(
    code: str, explanation: str, template: str, reply: Reply, action: str = "auto_reply"
) -> context_pb.DecisionRecord:
    """The record of a message the bot sends as a fixed step (the rating question, the
    thanks for a rating, a place in the queue): no policy was consulted, and the record
    says why it was sent."""
    return context_pb.DecisionRecord(
        action=action,
        reasons=[context_pb.DecisionReasonRecord(code=code, explanation=explanation)],
        template=template,
        language=reply.language,
    )


async def send_message(
    context: TurnWriter,
    publisher: PublisherPort,
    envelope: envelope_pb2.Envelope,
    text: str,
    *,
    role: context_pb.Role,
    sender: messages_pb2.Sender,
    sender_name: str,
    language: str = "",
    author: str = "",
    decision: context_pb.DecisionRecord | None = None,
    in_reply_to: str = "",
    attachments: Sequence[envelope_pb2.Attachment] = (),
) -> bool:
    """Store then publish; ``envelope`` names the customer by id. True when new.

    ``attachments`` (an image or file a person sends) go out with the text as caption."""
    stored, created = await context.append_turn(
        envelope.customer.customer_id,
        context_pb.Turn(
            event_id=envelope.event_id,
            conversation_id=envelope.conversation_id,
            role=role,
            text=text,
            channel=envelope.channel,
            occurred_at=envelope.occurred_at,
            language=language,
            author=author,
            decision=decision,
            attachments=attachments,
        ),
    )
    message = messages_pb2.SendMessage(
        envelope=envelope,
        text=stored.text,  # on a repeat, what was stored (and sent) the first time
        sender=sender,
        in_reply_to=in_reply_to,
        sender_name=sender_name,
        attachments=stored.attachments,
    )
    await publisher.publish(outbound_topic(channel_name(envelope.channel)), message)
    return created


async def send_bot_message(
    context: TurnWriter,
    publisher: PublisherPort,
    envelope: envelope_pb2.Envelope,
    reply: Reply,
    decision: context_pb.DecisionRecord,
    bot_name: str,
    in_reply_to: str = "",
) -> bool:
    """A message from the bot, with the decision that produced it. True when new."""
    return await send_message(
        context,
        publisher,
        envelope,
        reply.text,
        role=context_pb.ROLE_BOT,
        sender=messages_pb2.SENDER_BOT,
        sender_name=bot_name,
        language=reply.language,
        decision=decision,
        in_reply_to=in_reply_to,
    )
