"""Protobuf on the wire: envelopes, encoding events, refusing records that break the contract.

Record layout: key = ``conversation_id`` (UTF-8), value = the serialized event,
headers ``event-type`` (the protobuf full name), ``event-id`` and ``traceparent``.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from typing import TypeVar

from google.protobuf.message import DecodeError, Message
from rapport.common.v1 import envelope_pb2

from shared.errors import ContractError

Event = TypeVar("Event", bound=Message)
Headers = list[tuple[str, bytes]]

EVENT_TYPE_HEADER = "event-type"
EVENT_ID_HEADER = "event-id"
TRACEPARENT_HEADER = "traceparent"


def new_traceparent() -> str:
    """A fresh W3C trace context for work that starts here (a webhook, a socket frame)."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def derived_event_id(cause_event_id: str, purpose: str) -> str:
    """A stable id for the event ``purpose`` caused by ``cause_event_id``.

    Handling the same inbound event twice yields the same reply id, so a redelivery
    produces a duplicate that every consumer drops, never a second reply.
    """
    return str(uuid.uuid5(uuid.UUID(cause_event_id), purpose))


def new_envelope(
    *,
    conversation_id: str,
    channel: envelope_pb2.Channel,
    customer: envelope_pb2.CustomerRef | None = None,
    traceparent: str = "",
    causation_id: str = "",
    event_id: str = "",
) -> envelope_pb2.Envelope:
    """An envelope stamped now, with a new event id unless one is given."""
    envelope = envelope_pb2.Envelope(
        event_id=event_id or str(uuid.uuid4()),
        conversation_id=conversation_id,
        channel=channel,
        traceparent=traceparent or new_traceparent(),
        causation_id=causation_id,
    )
    envelope.occurred_at.GetCurrentTime()
    if customer is not None:
        envelope.customer.CopyFrom(customer)
    return envelope


def caused_by(
    cause: envelope_pb2.Envelope,
    purpose: str,
    customer: envelope_pb2.CustomerRef | None = None,
) -> envelope_pb2.Envelope:
    """The envelope of the event ``purpose`` that ``cause`` led to: same conversation,
    channel, customer (unless given) and trace; an id derived from the cause's, so
    handling the cause again produces the same event."""
    return new_envelope(
        event_id=derived_event_id(cause.event_id, purpose),
        conversation_id=cause.conversation_id,
        channel=cause.channel,
        customer=customer if customer is not None else cause.customer,
        traceparent=cause.traceparent,
        causation_id=cause.event_id,
    )


def envelope_of(event: Message) -> envelope_pb2.Envelope:
    """The envelope of any Rapport event (every event has one in field ``envelope``)."""
    envelope = getattr(event, "envelope", None)
    if not isinstance(envelope, envelope_pb2.Envelope):
        raise ContractError(f"{event.DESCRIPTOR.full_name} has no envelope")
    return envelope


def encode(event: Message) -> tuple[bytes, bytes, Headers]:
    """Key, value and headers for publishing ``event``."""
    envelope = envelope_of(event)
    validate_envelope(envelope, event.DESCRIPTOR.full_name)
    headers: Headers = [
        (EVENT_TYPE_HEADER, event.DESCRIPTOR.full_name.encode()),
        (EVENT_ID_HEADER, envelope.event_id.encode()),
        (TRACEPARENT_HEADER, envelope.traceparent.encode()),
    ]
    return envelope.conversation_id.encode(), event.SerializeToString(), headers


def decode(value: bytes | None, headers: Headers, event_type: type[Event]) -> Event:
    """Parse a record into ``event_type``; :class:`ContractError` when it is not one."""
    expected = event_type.DESCRIPTOR.full_name
    declared = dict(headers).get(EVENT_TYPE_HEADER, b"").decode(errors="replace")
    if declared != expected:
        raise ContractError(f"record declares event type {declared!r}, expected {expected!r}")
    if value is None:
        raise ContractError(f"{expected} record has no value")
    event = event_type()
    try:
        event.ParseFromString(value)
    except DecodeError as exc:
        raise ContractError(f"{expected} record does not parse: {exc}") from exc
    validate_envelope(envelope_of(event), expected)
    return event


def decode_one_of(
    value: bytes | None, headers: Headers, event_types: Sequence[type[Message]]
) -> Message:
    """Parse a record into whichever of ``event_types`` its ``event-type`` header names: a
    topic may carry more than one (an outbound topic: replies, and the signal that one is
    being prepared); :class:`ContractError` when it names none of them."""
    declared = dict(headers).get(EVENT_TYPE_HEADER, b"").decode(errors="replace")
    for event_type in event_types:
        if event_type.DESCRIPTOR.full_name == declared:
            return decode(value, headers, event_type)
    expected = " or ".join(repr(event_type.DESCRIPTOR.full_name) for event_type in event_types)
    raise ContractError(f"record declares event type {declared!r}, expected {expected}")


def validate_envelope(envelope: envelope_pb2.Envelope, event_name: str) -> None:
    """An event must name itself (a UUID event id) and its conversation."""
    try:
        uuid.UUID(envelope.event_id)
    except ValueError as exc:
        raise ContractError(f"{event_name} has no valid event_id") from exc
    if not envelope.conversation_id:
        raise ContractError(f"{event_name} {envelope.event_id} has no conversation_id")
