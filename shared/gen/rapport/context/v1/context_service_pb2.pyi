import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from rapport.common.v1 import envelope_pb2 as _envelope_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_CUSTOMER: _ClassVar[Role]
    ROLE_BOT: _ClassVar[Role]
    ROLE_AGENT: _ClassVar[Role]
    ROLE_SYSTEM: _ClassVar[Role]
ROLE_UNSPECIFIED: Role
ROLE_CUSTOMER: Role
ROLE_BOT: Role
ROLE_AGENT: Role
ROLE_SYSTEM: Role

class EmotionSnapshot(_message.Message):
    __slots__ = ("dominant_emotion", "intensity", "sentiment_score")
    DOMINANT_EMOTION_FIELD_NUMBER: _ClassVar[int]
    INTENSITY_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_SCORE_FIELD_NUMBER: _ClassVar[int]
    dominant_emotion: str
    intensity: float
    sentiment_score: float
    def __init__(self, dominant_emotion: _Optional[str] = ..., intensity: _Optional[float] = ..., sentiment_score: _Optional[float] = ...) -> None: ...

class Turn(_message.Message):
    __slots__ = ("event_id", "conversation_id", "sequence", "role", "text", "channel", "occurred_at", "emotion", "language")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    conversation_id: str
    sequence: int
    role: Role
    text: str
    channel: _envelope_pb2.Channel
    occurred_at: _timestamp_pb2.Timestamp
    emotion: EmotionSnapshot
    language: str
    def __init__(self, event_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., sequence: _Optional[int] = ..., role: _Optional[_Union[Role, str]] = ..., text: _Optional[str] = ..., channel: _Optional[_Union[_envelope_pb2.Channel, str]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., emotion: _Optional[_Union[EmotionSnapshot, _Mapping]] = ..., language: _Optional[str] = ...) -> None: ...

class Customer(_message.Message):
    __slots__ = ("customer_id", "display_name", "preferred_language", "created_at")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    display_name: str
    preferred_language: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, customer_id: _Optional[str] = ..., display_name: _Optional[str] = ..., preferred_language: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ResolveCustomerRequest(_message.Message):
    __slots__ = ("channel", "address", "display_name")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    channel: _envelope_pb2.Channel
    address: str
    display_name: str
    def __init__(self, channel: _Optional[_Union[_envelope_pb2.Channel, str]] = ..., address: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class ResolveCustomerResponse(_message.Message):
    __slots__ = ("customer", "created")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    created: bool
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class AppendTurnRequest(_message.Message):
    __slots__ = ("customer_id", "turn")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    turn: Turn
    def __init__(self, customer_id: _Optional[str] = ..., turn: _Optional[_Union[Turn, _Mapping]] = ...) -> None: ...

class AppendTurnResponse(_message.Message):
    __slots__ = ("turn", "created")
    TURN_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    turn: Turn
    created: bool
    def __init__(self, turn: _Optional[_Union[Turn, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetContextRequest(_message.Message):
    __slots__ = ("conversation_id", "customer_id", "max_turns")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_TURNS_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    customer_id: str
    max_turns: int
    def __init__(self, conversation_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., max_turns: _Optional[int] = ...) -> None: ...

class GetContextResponse(_message.Message):
    __slots__ = ("customer", "recent_turns", "contacts_last_7_days")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    RECENT_TURNS_FIELD_NUMBER: _ClassVar[int]
    CONTACTS_LAST_7_DAYS_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    recent_turns: _containers.RepeatedCompositeFieldContainer[Turn]
    contacts_last_7_days: int
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ..., recent_turns: _Optional[_Iterable[_Union[Turn, _Mapping]]] = ..., contacts_last_7_days: _Optional[int] = ...) -> None: ...

class ListTurnsRequest(_message.Message):
    __slots__ = ("conversation_id",)
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    def __init__(self, conversation_id: _Optional[str] = ...) -> None: ...

class ListTurnsResponse(_message.Message):
    __slots__ = ("turns",)
    TURNS_FIELD_NUMBER: _ClassVar[int]
    turns: _containers.RepeatedCompositeFieldContainer[Turn]
    def __init__(self, turns: _Optional[_Iterable[_Union[Turn, _Mapping]]] = ...) -> None: ...
