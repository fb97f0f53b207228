from rapport.common.v1 import envelope_pb2 as _envelope_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AgentActionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGENT_ACTION_KIND_UNSPECIFIED: _ClassVar[AgentActionKind]
    AGENT_ACTION_KIND_CLAIMED: _ClassVar[AgentActionKind]
    AGENT_ACTION_KIND_REPLIED: _ClassVar[AgentActionKind]
    AGENT_ACTION_KIND_RETURNED_TO_BOT: _ClassVar[AgentActionKind]
    AGENT_ACTION_KIND_RESOLVED: _ClassVar[AgentActionKind]
AGENT_ACTION_KIND_UNSPECIFIED: AgentActionKind
AGENT_ACTION_KIND_CLAIMED: AgentActionKind
AGENT_ACTION_KIND_REPLIED: AgentActionKind
AGENT_ACTION_KIND_RETURNED_TO_BOT: AgentActionKind
AGENT_ACTION_KIND_RESOLVED: AgentActionKind

class AgentActionTaken(_message.Message):
    __slots__ = ("envelope", "kind", "agent_id", "agent_name", "text", "attachments")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    envelope: _envelope_pb2.Envelope
    kind: AgentActionKind
    agent_id: str
    agent_name: str
    text: str
    attachments: _containers.RepeatedCompositeFieldContainer[_envelope_pb2.Attachment]
    def __init__(self, envelope: _Optional[_Union[_envelope_pb2.Envelope, _Mapping]] = ..., kind: _Optional[_Union[AgentActionKind, str]] = ..., agent_id: _Optional[str] = ..., agent_name: _Optional[str] = ..., text: _Optional[str] = ..., attachments: _Optional[_Iterable[_Union[_envelope_pb2.Attachment, _Mapping]]] = ...) -> None: ...
