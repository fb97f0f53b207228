import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from rapport.common.v1 import envelope_pb2 as _envelope_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DecisionReason(_message.Message):
    __slots__ = ("code", "explanation", "confidence")
    CODE_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    code: str
    explanation: str
    confidence: float
    def __init__(self, code: _Optional[str] = ..., explanation: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...

class EmotionReading(_message.Message):
    __slots__ = ("occurred_at", "dominant_emotion", "intensity", "sentiment_score")
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    DOMINANT_EMOTION_FIELD_NUMBER: _ClassVar[int]
    INTENSITY_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_SCORE_FIELD_NUMBER: _ClassVar[int]
    occurred_at: _timestamp_pb2.Timestamp
    dominant_emotion: str
    intensity: float
    sentiment_score: float
    def __init__(self, occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., dominant_emotion: _Optional[str] = ..., intensity: _Optional[float] = ..., sentiment_score: _Optional[float] = ...) -> None: ...

class ConsentFlags(_message.Message):
    __slots__ = ("emotion_analysis_allowed", "marketing_allowed", "sms_opted_out")
    EMOTION_ANALYSIS_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    MARKETING_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    SMS_OPTED_OUT_FIELD_NUMBER: _ClassVar[int]
    emotion_analysis_allowed: bool
    marketing_allowed: bool
    sms_opted_out: bool
    def __init__(self, emotion_analysis_allowed: _Optional[bool] = ..., marketing_allowed: _Optional[bool] = ..., sms_opted_out: _Optional[bool] = ...) -> None: ...

class HandoffRequested(_message.Message):
    __slots__ = ("envelope", "reasons", "summary", "priority", "language", "preferred_agent_id", "required_skills", "identities", "trajectory", "trend", "bot_replies", "consent", "reply_window_closes_at", "intent")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_SKILLS_FIELD_NUMBER: _ClassVar[int]
    IDENTITIES_FIELD_NUMBER: _ClassVar[int]
    TRAJECTORY_FIELD_NUMBER: _ClassVar[int]
    TREND_FIELD_NUMBER: _ClassVar[int]
    BOT_REPLIES_FIELD_NUMBER: _ClassVar[int]
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    REPLY_WINDOW_CLOSES_AT_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    envelope: _envelope_pb2.Envelope
    reasons: _containers.RepeatedCompositeFieldContainer[DecisionReason]
    summary: str
    priority: float
    language: str
    preferred_agent_id: str
    required_skills: _containers.RepeatedScalarFieldContainer[str]
    identities: _containers.RepeatedCompositeFieldContainer[_envelope_pb2.CustomerRef]
    trajectory: _containers.RepeatedCompositeFieldContainer[EmotionReading]
    trend: str
    bot_replies: _containers.RepeatedScalarFieldContainer[str]
    consent: ConsentFlags
    reply_window_closes_at: _timestamp_pb2.Timestamp
    intent: str
    def __init__(self, envelope: _Optional[_Union[_envelope_pb2.Envelope, _Mapping]] = ..., reasons: _Optional[_Iterable[_Union[DecisionReason, _Mapping]]] = ..., summary: _Optional[str] = ..., priority: _Optional[float] = ..., language: _Optional[str] = ..., preferred_agent_id: _Optional[str] = ..., required_skills: _Optional[_Iterable[str]] = ..., identities: _Optional[_Iterable[_Union[_envelope_pb2.CustomerRef, _Mapping]]] = ..., trajectory: _Optional[_Iterable[_Union[EmotionReading, _Mapping]]] = ..., trend: _Optional[str] = ..., bot_replies: _Optional[_Iterable[str]] = ..., consent: _Optional[_Union[ConsentFlags, _Mapping]] = ..., reply_window_closes_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., intent: _Optional[str] = ...) -> None: ...
