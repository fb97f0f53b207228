"""The ``MessageReceived`` event a customer's message becomes, whatever its channel.

Webhook channels (:mod:`shared.channels.webhooks`), the web widget and the email intake
all publish through this one function, so every channel's event carries the same fields
the same way; each keeps choosing its own event id and conversation id.

Pure: no I/O.
"""

from __future__ import annotations

from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import messages_pb2

from shared.channel_names import channel_number
from shared.channels.adapter import InboundMessage
from shared.channels.attachments import to_proto
from shared.kafka.codec import new_envelope


def received_event(
    message: InboundMessage,
    *,
    conversation_id: str,
    event_id: str,
    full_text: str = "",
    subject: str = "",
) -> messages_pb2.MessageReceived:
    """``message`` as the event the orchestrator reads; a new event id when ``event_id`` is
    empty. ``full_text`` and ``subject`` are for channels that have them (email)."""
    channel = channel_number(message.channel)
    envelope = new_envelope(
        event_id=event_id,
        conversation_id=conversation_id,
        channel=channel,
        customer=envelope_pb2.CustomerRef(
            channel=channel, address=message.address, display_name=message.display_name
        ),
    )
    if message.sent_at is not None:
        envelope.occurred_at.FromDatetime(message.sent_at)
    return messages_pb2.MessageReceived(
        envelope=envelope,
        text=message.text,
        provider_message_id=message.provider_message_id,
        attachments=[to_proto(attachment) for attachment in message.attachments],
        locale_hint=message.locale,
        compliance_keyword=message.compliance_keyword,
        full_text=full_text,
        subject=subject,
    )
