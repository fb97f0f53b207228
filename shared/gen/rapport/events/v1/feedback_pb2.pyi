from rapport.common.v1 import envelope_pb2 as _envelope_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SatisfactionRated(_message.Message):
    __slots__ = ("envelope", "score", "comment", "agent_id")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    envelope: _envelope_pb2.Envelope
    score: int
    comment: str
    agent_id: str
    def __init__(self, envelope: _Optional[_Union[_envelope_pb2.Envelope, _Mapping]] = ..., score: _Optional[int] = ..., comment: _Optional[str] = ..., agent_id: _Optional[str] = ...) -> None: ...
