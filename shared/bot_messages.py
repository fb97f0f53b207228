"""Sending a message as the bot (the orchestrator's replies, the agent desk's notices):
stored as a turn first, then published, safe to repeat.

The turn's event id is the outgoing event's id, so handling the same cause twice finds
the stored turn and republishes its text: the customer never sees two different
messages for one cause, and the channel adapter drops the repeat as a duplicate.
"""

from __future__ import annotations

from typing import Protocol

from google.protobuf.message import Message
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import messages_pb2

from shared.channel_names import channel_name
from shared.kafka.topics import outbound_topic
from shared.voice.replies import Reply


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


async def send_bot_message(
    context: TurnWriter,
    publisher: PublisherPort,
    envelope: envelope_pb2.Envelope,
    reply: Reply,
    decision: context_pb.DecisionRecord,
    bot_name: str,
    in_reply_to: str = "",
) -> bool:
    """Store then publish; ``envelope`` names the customer by id. True when new."""
    stored, created = await context.append_turn(
        envelope.customer.customer_id,
        context_pb.Turn(
            event_id=envelope.event_id,
            conversation_id=envelope.conversation_id,
            role=context_pb.ROLE_BOT,
            text=reply.text,
            channel=envelope.channel,
            occurred_at=envelope.occurred_at,
            language=reply.language,
            decision=decision,
        ),
    )
    message = messages_pb2.SendMessage(
        envelope=envelope,
        text=stored.text,  # on a repeat, what was stored (and sent) the first time
        sender=messages_pb2.SENDER_BOT,
        in_reply_to=in_reply_to,
        sender_name=bot_name,
    )
    await publisher.publish(outbound_topic(channel_name(envelope.channel)), message)
    return created
