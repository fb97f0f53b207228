from rapport.common.v1 import envelope_pb2 as _envelope_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RatingScale(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RATING_SCALE_UNSPECIFIED: _ClassVar[RatingScale]
    RATING_SCALE_CSAT_5: _ClassVar[RatingScale]
    RATING_SCALE_NPS_10: _ClassVar[RatingScale]
RATING_SCALE_UNSPECIFIED: RatingScale
RATING_SCALE_CSAT_5: RatingScale
RATING_SCALE_NPS_10: RatingScale

class SatisfactionRated(_message.Message):
    __slots__ = ("envelope", "score", "comment", "agent_id", "scale")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    envelope: _envelope_pb2.Envelope
    score: int
    comment: str
    agent_id: str
    scale: RatingScale
    def __init__(self, envelope: _Optional[_Union[_envelope_pb2.Envelope, _Mapping]] = ..., score: _Optional[int] = ..., comment: _Optional[str] = ..., agent_id: _Optional[str] = ..., scale: _Optional[_Union[RatingScale, str]] = ...) -> None: ...

class FeedbackGiven(_message.Message):
    __slots__ = ("envelope", "text", "rating_event_id", "score", "scale", "dominant_emotion", "intensity", "sentiment_score", "intent", "language")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    RATING_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    DOMINANT_EMOTION_FIELD_NUMBER: _ClassVar[int]
    INTENSITY_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_SCORE_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    envelope: _envelope_pb2.Envelope
    text: str
    rating_event_id: str
    score: int
    scale: RatingScale
    dominant_emotion: str
    intensity: float
    sentiment_score: float
    intent: str
    language: str
    def __init__(self, envelope: _Optional[_Union[_envelope_pb2.Envelope, _Mapping]] = ..., text: _Optional[str] = ..., rating_event_id: _Optional[str] = ..., score: _Optional[int] = ..., scale: _Optional[_Union[RatingScale, str]] = ..., dominant_emotion: _Optional[str] = ..., intensity: _Optional[float] = ..., sentiment_score: _Optional[float] = ..., intent: _Optional[str] = ..., language: _Optional[str] = ...) -> None: ...
