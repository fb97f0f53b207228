from rapport.common.v1 import envelope_pb2 as _envelope_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DecisionReason(_message.Message):
    __slots__ = ("code", "explanation")
    CODE_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    code: str
    explanation: str
    def __init__(self, code: _Optional[str] = ..., explanation: _Optional[str] = ...) -> None: ...

class HandoffRequested(_message.Message):
    __slots__ = ("envelope", "reasons", "summary", "priority", "language", "preferred_agent_id")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    envelope: _envelope_pb2.Envelope
    reasons: _containers.RepeatedCompositeFieldContainer[DecisionReason]
    summary: str
    priority: float
    language: str
    preferred_agent_id: str
    def __init__(self, envelope: _Optional[_Union[_envelope_pb2.Envelope, _Mapping]] = ..., reasons: _Optional[_Iterable[_Union[DecisionReason, _Mapping]]] = ..., summary: _Optional[str] = ..., priority: _Optional[float] = ..., language: _Optional[str] = ..., preferred_agent_id: _Optional[str] = ...) -> None: ...
