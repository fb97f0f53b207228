from rapport.common.v1 import envelope_pb2 as _envelope_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Sender(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SENDER_UNSPECIFIED: _ClassVar[Sender]
    SENDER_BOT: _ClassVar[Sender]
    SENDER_AGENT: _ClassVar[Sender]
    SENDER_SYSTEM: _ClassVar[Sender]

class DeliveryState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DELIVERY_STATE_UNSPECIFIED: _ClassVar[DeliveryState]
    DELIVERY_STATE_SENT: _ClassVar[DeliveryState]
    DELIVERY_STATE_DELIVERED: _ClassVar[DeliveryState]
    DELIVERY_STATE_READ: _ClassVar[DeliveryState]
    DELIVERY_STATE_FAILED: _ClassVar[DeliveryState]
    DELIVERY_STATE_UNDELIVERED: _ClassVar[DeliveryState]
SENDER_UNSPECIFIED: Sender
SENDER_BOT: Sender
SENDER_AGENT: Sender
SENDER_SYSTEM: Sender
DELIVERY_STATE_UNSPECIFIED: DeliveryState
DELIVERY_STATE_SENT: DeliveryState
DELIVERY_STATE_DELIVERED: DeliveryState
DELIVERY_STATE_READ: DeliveryState
DELIVERY_STATE_FAILED: DeliveryState
DELIVERY_STATE_UNDELIVERED: DeliveryState

class MessageReceived(_message.Message):
    __slots__ = ("envelope", "text", "provider_message_id", "attachments", "locale_hint", "compliance_keyword", "full_text", "subject")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    LOCALE_HINT_FIELD_NUMBER: _ClassVar[int]
    COMPLIANCE_KEYWORD_FIELD_NUMBER: _ClassVar[int]
    FULL_TEXT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    envelope: _envelope_pb2.Envelope
    text: str
    provider_message_id: str
    attachments: _containers.RepeatedCompositeFieldContainer[_envelope_pb2.Attachment]
    locale_hint: str
    compliance_keyword: str
    full_text: str
    subject: str
    def __init__(self, envelope: _Optional[_Union[_envelope_pb2.Envelope, _Mapping]] = ..., text: _Optional[str] = ..., provider_message_id: _Optional[str] = ..., attachments: _Optional[_Iterable[_Union[_envelope_pb2.Attachment, _Mapping]]] = ..., locale_hint: _Optional[str] = ..., compliance_keyword: _Optional[str] = ..., full_text: _Optional[str] = ..., subject: _Optional[str] = ...) -> None: ...

class QuickReply(_message.Message):
    __slots__ = ("title", "payload")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    title: str
    payload: str
    def __init__(self, title: _Optional[str] = ..., payload: _Optional[str] = ...) -> None: ...

class SendMessage(_message.Message):
    __slots__ = ("envelope", "text", "sender", "quick_replies", "in_reply_to", "sender_name", "attachments")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    QUICK_REPLIES_FIELD_NUMBER: _ClassVar[int]
    IN_REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    SENDER_NAME_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    envelope: _envelope_pb2.Envelope
    text: str
    sender: Sender
    quick_replies: _containers.RepeatedCompositeFieldContainer[QuickReply]
    in_reply_to: str
    sender_name: str
    attachments: _containers.RepeatedCompositeFieldContainer[_envelope_pb2.Attachment]
    def __init__(self, envelope: _Optional[_Union[_envelope_pb2.Envelope, _Mapping]] = ..., text: _Optional[str] = ..., sender: _Optional[_Union[Sender, str]] = ..., quick_replies: _Optional[_Iterable[_Union[QuickReply, _Mapping]]] = ..., in_reply_to: _Optional[str] = ..., sender_name: _Optional[str] = ..., attachments: _Optional[_Iterable[_Union[_envelope_pb2.Attachment, _Mapping]]] = ...) -> None: ...

class PreparingReply(_message.Message):
    __slots__ = ("envelope", "in_reply_to", "sender_name")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    IN_REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    SENDER_NAME_FIELD_NUMBER: _ClassVar[int]
    envelope: _envelope_pb2.Envelope
    in_reply_to: str
    sender_name: str
    def __init__(self, envelope: _Optional[_Union[_envelope_pb2.Envelope, _Mapping]] = ..., in_reply_to: _Optional[str] = ..., sender_name: _Optional[str] = ...) -> None: ...

class MessageDeliveryUpdated(_message.Message):
    __slots__ = ("envelope", "send_event_id", "provider_message_id", "state", "error_code", "error_message")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    SEND_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    envelope: _envelope_pb2.Envelope
    send_event_id: str
    provider_message_id: str
    state: DeliveryState
    error_code: str
    error_message: str
    def __init__(self, envelope: _Optional[_Union[_envelope_pb2.Envelope, _Mapping]] = ..., send_event_id: _Optional[str] = ..., provider_message_id: _Optional[str] = ..., state: _Optional[_Union[DeliveryState, str]] = ..., error_code: _Optional[str] = ..., error_message: _Optional[str] = ...) -> None: ...
