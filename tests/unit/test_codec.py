from __future__ import annotations

import pytest
from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import messages_pb2

from shared.errors import ContractError
from shared.kafka.codec import (
    EVENT_TYPE_HEADER,
    decode,
    decode_one_of,
    derived_event_id,
    encode,
    new_envelope,
)


def _message() -> messages_pb2.MessageReceived:
    return messages_pb2.MessageReceived(
        envelope=new_envelope(conversation_id="conv-1", channel=envelope_pb2.CHANNEL_WEB),
        text="hello",
    )


def test_round_trip_keys_by_conversation_and_carries_the_event_id() -> None:
    event = _message()
    key, value, headers = encode(event)
    assert key == b"conv-1"
    assert dict(headers)["event-id"] == event.envelope.event_id.encode()
    assert decode(value, headers, messages_pb2.MessageReceived) == event


def test_garbage_bytes_are_a_contract_error() -> None:
    _, _, headers = encode(_message())
    with pytest.raises(ContractError):
        decode(b"\xff\xfe not protobuf", headers, messages_pb2.MessageReceived)


def test_a_record_of_another_type_is_refused() -> None:
    _, value, _ = encode(_message())
    with pytest.raises(ContractError, match="expected"):
        decode(
            value,
            [(EVENT_TYPE_HEADER, b"rapport.events.v1.SendMessage")],
            messages_pb2.MessageReceived,
        )


def test_a_topic_of_several_types_is_read_by_the_type_each_record_declares() -> None:
    event = _message()
    _, value, headers = encode(event)
    read = decode_one_of(value, headers, (messages_pb2.SendMessage, messages_pb2.MessageReceived))
    assert isinstance(read, messages_pb2.MessageReceived) and read == event
    with pytest.raises(ContractError, match="expected 'rapport.events.v1.SendMessage' or"):
        decode_one_of(value, headers, (messages_pb2.SendMessage, messages_pb2.PreparingReply))


def test_an_event_without_a_conversation_cannot_be_published() -> None:
    event = _message()
    event.envelope.conversation_id = ""
    with pytest.raises(ContractError, match="conversation_id"):
        encode(event)


def test_derived_ids_are_stable_and_distinct_by_purpose() -> None:
    cause = _message().envelope.event_id
    assert derived_event_id(cause, "reply") == derived_event_id(cause, "reply")
    assert derived_event_id(cause, "reply") != derived_event_id(cause, "handoff")
