import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Channel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_UNSPECIFIED: _ClassVar[Channel]
    CHANNEL_WEB: _ClassVar[Channel]
    CHANNEL_SMS: _ClassVar[Channel]
    CHANNEL_MESSENGER: _ClassVar[Channel]
    CHANNEL_WHATSAPP: _ClassVar[Channel]
    CHANNEL_INSTAGRAM: _ClassVar[Channel]
    CHANNEL_TELEGRAM: _ClassVar[Channel]
    CHANNEL_EMAIL: _ClassVar[Channel]

class AttachmentKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ATTACHMENT_KIND_UNSPECIFIED: _ClassVar[AttachmentKind]
    ATTACHMENT_KIND_IMAGE: _ClassVar[AttachmentKind]
    ATTACHMENT_KIND_AUDIO: _ClassVar[AttachmentKind]
    ATTACHMENT_KIND_VIDEO: _ClassVar[AttachmentKind]
    ATTACHMENT_KIND_FILE: _ClassVar[AttachmentKind]
    ATTACHMENT_KIND_LOCATION: _ClassVar[AttachmentKind]
    ATTACHMENT_KIND_STICKER: _ClassVar[AttachmentKind]
CHANNEL_UNSPECIFIED: Channel
CHANNEL_WEB: Channel
CHANNEL_SMS: Channel
CHANNEL_MESSENGER: Channel
CHANNEL_WHATSAPP: Channel
CHANNEL_INSTAGRAM: Channel
CHANNEL_TELEGRAM: Channel
CHANNEL_EMAIL: Channel
ATTACHMENT_KIND_UNSPECIFIED: AttachmentKind
ATTACHMENT_KIND_IMAGE: AttachmentKind
ATTACHMENT_KIND_AUDIO: AttachmentKind
ATTACHMENT_KIND_VIDEO: AttachmentKind
ATTACHMENT_KIND_FILE: AttachmentKind
ATTACHMENT_KIND_LOCATION: AttachmentKind
ATTACHMENT_KIND_STICKER: AttachmentKind

class CustomerRef(_message.Message):
    __slots__ = ("customer_id", "channel", "address", "display_name")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    channel: Channel
    address: str
    display_name: str
    def __init__(self, customer_id: _Optional[str] = ..., channel: _Optional[_Union[Channel, str]] = ..., address: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class Attachment(_message.Message):
    __slots__ = ("reference", "content_type", "kind", "size_bytes", "file_name", "voice_note", "latitude", "longitude", "place")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    VOICE_NOTE_FIELD_NUMBER: _ClassVar[int]
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    PLACE_FIELD_NUMBER: _ClassVar[int]
    reference: str
    content_type: str
    kind: AttachmentKind
    size_bytes: int
    file_name: str
    voice_note: bool
    latitude: float
    longitude: float
    place: str
    def __init__(self, reference: _Optional[str] = ..., content_type: _Optional[str] = ..., kind: _Optional[_Union[AttachmentKind, str]] = ..., size_bytes: _Optional[int] = ..., file_name: _Optional[str] = ..., voice_note: _Optional[bool] = ..., latitude: _Optional[float] = ..., longitude: _Optional[float] = ..., place: _Optional[str] = ...) -> None: ...

class Envelope(_message.Message):
    __slots__ = ("event_id", "occurred_at", "conversation_id", "customer", "channel", "traceparent", "causation_id")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    CAUSATION_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    occurred_at: _timestamp_pb2.Timestamp
    conversation_id: str
    customer: CustomerRef
    channel: Channel
    traceparent: str
    causation_id: str
    def __init__(self, event_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., conversation_id: _Optional[str] = ..., customer: _Optional[_Union[CustomerRef, _Mapping]] = ..., channel: _Optional[_Union[Channel, str]] = ..., traceparent: _Optional[str] = ..., causation_id: _Optional[str] = ...) -> None: ...

class ItemError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...
