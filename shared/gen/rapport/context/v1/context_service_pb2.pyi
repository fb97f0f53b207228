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

class ConversationState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONVERSATION_STATE_UNSPECIFIED: _ClassVar[ConversationState]
    CONVERSATION_STATE_BOT: _ClassVar[ConversationState]
    CONVERSATION_STATE_WAITING_FOR_AGENT: _ClassVar[ConversationState]
    CONVERSATION_STATE_WITH_AGENT: _ClassVar[ConversationState]
    CONVERSATION_STATE_RESOLVED: _ClassVar[ConversationState]
    CONVERSATION_STATE_RATING_REQUESTED: _ClassVar[ConversationState]
    CONVERSATION_STATE_FEEDBACK_REQUESTED: _ClassVar[ConversationState]

class Trend(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TREND_UNSPECIFIED: _ClassVar[Trend]
    TREND_IMPROVING: _ClassVar[Trend]
    TREND_STABLE: _ClassVar[Trend]
    TREND_WORSENING: _ClassVar[Trend]

class JourneyStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOURNEY_STAGE_UNSPECIFIED: _ClassVar[JourneyStage]
    JOURNEY_STAGE_FIRST_CONTACT: _ClassVar[JourneyStage]
    JOURNEY_STAGE_FOLLOW_UP: _ClassVar[JourneyStage]
    JOURNEY_STAGE_WAITING_FOR_AGENT: _ClassVar[JourneyStage]
    JOURNEY_STAGE_WITH_AGENT: _ClassVar[JourneyStage]
    JOURNEY_STAGE_AFTER_RESOLUTION: _ClassVar[JourneyStage]
ROLE_UNSPECIFIED: Role
ROLE_CUSTOMER: Role
ROLE_BOT: Role
ROLE_AGENT: Role
ROLE_SYSTEM: Role
CONVERSATION_STATE_UNSPECIFIED: ConversationState
CONVERSATION_STATE_BOT: ConversationState
CONVERSATION_STATE_WAITING_FOR_AGENT: ConversationState
CONVERSATION_STATE_WITH_AGENT: ConversationState
CONVERSATION_STATE_RESOLVED: ConversationState
CONVERSATION_STATE_RATING_REQUESTED: ConversationState
CONVERSATION_STATE_FEEDBACK_REQUESTED: ConversationState
TREND_UNSPECIFIED: Trend
TREND_IMPROVING: Trend
TREND_STABLE: Trend
TREND_WORSENING: Trend
JOURNEY_STAGE_UNSPECIFIED: JourneyStage
JOURNEY_STAGE_FIRST_CONTACT: JourneyStage
JOURNEY_STAGE_FOLLOW_UP: JourneyStage
JOURNEY_STAGE_WAITING_FOR_AGENT: JourneyStage
JOURNEY_STAGE_WITH_AGENT: JourneyStage
JOURNEY_STAGE_AFTER_RESOLUTION: JourneyStage

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
    __slots__ = ("event_id", "conversation_id", "sequence", "role", "text", "channel", "occurred_at", "emotion", "language", "author", "decision", "attachments", "intent", "journey_stage")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    JOURNEY_STAGE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    conversation_id: str
    sequence: int
    role: Role
    text: str
    channel: _envelope_pb2.Channel
    occurred_at: _timestamp_pb2.Timestamp
    emotion: EmotionSnapshot
    language: str
    author: str
    decision: DecisionRecord
    attachments: _containers.RepeatedCompositeFieldContainer[_envelope_pb2.Attachment]
    intent: str
    journey_stage: JourneyStage
    def __init__(self, event_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., sequence: _Optional[int] = ..., role: _Optional[_Union[Role, str]] = ..., text: _Optional[str] = ..., channel: _Optional[_Union[_envelope_pb2.Channel, str]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., emotion: _Optional[_Union[EmotionSnapshot, _Mapping]] = ..., language: _Optional[str] = ..., author: _Optional[str] = ..., decision: _Optional[_Union[DecisionRecord, _Mapping]] = ..., attachments: _Optional[_Iterable[_Union[_envelope_pb2.Attachment, _Mapping]]] = ..., intent: _Optional[str] = ..., journey_stage: _Optional[_Union[JourneyStage, str]] = ...) -> None: ...

class DecisionRecord(_message.Message):
    __slots__ = ("action", "reasons", "priority", "model_versions", "facts_json", "template", "language")
    class ModelVersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    FACTS_JSON_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    action: str
    reasons: _containers.RepeatedCompositeFieldContainer[DecisionReasonRecord]
    priority: float
    model_versions: _containers.ScalarMap[str, str]
    facts_json: str
    template: str
    language: str
    def __init__(self, action: _Optional[str] = ..., reasons: _Optional[_Iterable[_Union[DecisionReasonRecord, _Mapping]]] = ..., priority: _Optional[float] = ..., model_versions: _Optional[_Mapping[str, str]] = ..., facts_json: _Optional[str] = ..., template: _Optional[str] = ..., language: _Optional[str] = ...) -> None: ...

class DecisionReasonRecord(_message.Message):
    __slots__ = ("code", "explanation")
    CODE_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    code: str
    explanation: str
    def __init__(self, code: _Optional[str] = ..., explanation: _Optional[str] = ...) -> None: ...

class Identity(_message.Message):
    __slots__ = ("channel", "address", "verified", "created_at", "opted_out", "consent_updated_at")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    OPTED_OUT_FIELD_NUMBER: _ClassVar[int]
    CONSENT_UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    channel: _envelope_pb2.Channel
    address: str
    verified: bool
    created_at: _timestamp_pb2.Timestamp
    opted_out: bool
    consent_updated_at: _timestamp_pb2.Timestamp
    def __init__(self, channel: _Optional[_Union[_envelope_pb2.Channel, str]] = ..., address: _Optional[str] = ..., verified: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., opted_out: _Optional[bool] = ..., consent_updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Consent(_message.Message):
    __slots__ = ("emotion_analysis_allowed", "marketing_allowed", "sms_opted_out", "updated_at")
    EMOTION_ANALYSIS_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    MARKETING_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    SMS_OPTED_OUT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    emotion_analysis_allowed: bool
    marketing_allowed: bool
    sms_opted_out: bool
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, emotion_analysis_allowed: _Optional[bool] = ..., marketing_allowed: _Optional[bool] = ..., sms_opted_out: _Optional[bool] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Customer(_message.Message):
    __slots__ = ("customer_id", "display_name", "preferred_language", "created_at", "preferred_channel", "identities", "consent", "last_language")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    IDENTITIES_FIELD_NUMBER: _ClassVar[int]
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    LAST_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    display_name: str
    preferred_language: str
    created_at: _timestamp_pb2.Timestamp
    preferred_channel: _envelope_pb2.Channel
    identities: _containers.RepeatedCompositeFieldContainer[Identity]
    consent: Consent
    last_language: str
    def __init__(self, customer_id: _Optional[str] = ..., display_name: _Optional[str] = ..., preferred_language: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., preferred_channel: _Optional[_Union[_envelope_pb2.Channel, str]] = ..., identities: _Optional[_Iterable[_Union[Identity, _Mapping]]] = ..., consent: _Optional[_Union[Consent, _Mapping]] = ..., last_language: _Optional[str] = ...) -> None: ...

class Conversation(_message.Message):
    __slots__ = ("conversation_id", "customer_id", "channel", "state", "language", "assignee", "created_at", "updated_at", "returned_by", "returned_at")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    RETURNED_BY_FIELD_NUMBER: _ClassVar[int]
    RETURNED_AT_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    customer_id: str
    channel: _envelope_pb2.Channel
    state: ConversationState
    language: str
    assignee: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    returned_by: str
    returned_at: _timestamp_pb2.Timestamp
    def __init__(self, conversation_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., channel: _Optional[_Union[_envelope_pb2.Channel, str]] = ..., state: _Optional[_Union[ConversationState, str]] = ..., language: _Optional[str] = ..., assignee: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., returned_by: _Optional[str] = ..., returned_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Issue(_message.Message):
    __slots__ = ("issue_id", "customer_id", "topic", "open", "contacts", "conversation_id", "opened_at", "updated_at", "resolved_at")
    ISSUE_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    CONTACTS_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    issue_id: str
    customer_id: str
    topic: str
    open: bool
    contacts: int
    conversation_id: str
    opened_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    resolved_at: _timestamp_pb2.Timestamp
    def __init__(self, issue_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., topic: _Optional[str] = ..., open: _Optional[bool] = ..., contacts: _Optional[int] = ..., conversation_id: _Optional[str] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TrajectoryPoint(_message.Message):
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

class EmotionTrajectory(_message.Message):
    __slots__ = ("points", "trend")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    TREND_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[TrajectoryPoint]
    trend: Trend
    def __init__(self, points: _Optional[_Iterable[_Union[TrajectoryPoint, _Mapping]]] = ..., trend: _Optional[_Union[Trend, str]] = ...) -> None: ...

class ResolveCustomerRequest(_message.Message):
    __slots__ = ("channel", "address", "display_name", "seen_at")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    channel: _envelope_pb2.Channel
    address: str
    display_name: str
    seen_at: _timestamp_pb2.Timestamp
    def __init__(self, channel: _Optional[_Union[_envelope_pb2.Channel, str]] = ..., address: _Optional[str] = ..., display_name: _Optional[str] = ..., seen_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ResolveCustomerResponse(_message.Message):
    __slots__ = ("customer", "created", "identity")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    created: bool
    identity: Identity
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ..., created: _Optional[bool] = ..., identity: _Optional[_Union[Identity, _Mapping]] = ...) -> None: ...

class AppendTurnRequest(_message.Message):
    __slots__ = ("customer_id", "turn", "context_turns")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_TURNS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    turn: Turn
    context_turns: int
    def __init__(self, customer_id: _Optional[str] = ..., turn: _Optional[_Union[Turn, _Mapping]] = ..., context_turns: _Optional[int] = ...) -> None: ...

class AppendTurnResponse(_message.Message):
    __slots__ = ("turn", "created", "new_contact", "context")
    TURN_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    NEW_CONTACT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    turn: Turn
    created: bool
    new_contact: bool
    context: GetContextResponse
    def __init__(self, turn: _Optional[_Union[Turn, _Mapping]] = ..., created: _Optional[bool] = ..., new_contact: _Optional[bool] = ..., context: _Optional[_Union[GetContextResponse, _Mapping]] = ...) -> None: ...

class ResolveCustomersRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ResolveCustomerRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[ResolveCustomerRequest, _Mapping]]] = ...) -> None: ...

class ResolveCustomersResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ResolveCustomerOutcome]
    def __init__(self, results: _Optional[_Iterable[_Union[ResolveCustomerOutcome, _Mapping]]] = ...) -> None: ...

class ResolveCustomerOutcome(_message.Message):
    __slots__ = ("resolved", "error")
    RESOLVED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    resolved: ResolveCustomerResponse
    error: _envelope_pb2.ItemError
    def __init__(self, resolved: _Optional[_Union[ResolveCustomerResponse, _Mapping]] = ..., error: _Optional[_Union[_envelope_pb2.ItemError, _Mapping]] = ...) -> None: ...

class AppendTurnsRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[AppendTurnRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[AppendTurnRequest, _Mapping]]] = ...) -> None: ...

class AppendTurnsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[AppendTurnOutcome]
    def __init__(self, results: _Optional[_Iterable[_Union[AppendTurnOutcome, _Mapping]]] = ...) -> None: ...

class AppendTurnOutcome(_message.Message):
    __slots__ = ("appended", "error")
    APPENDED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    appended: AppendTurnResponse
    error: _envelope_pb2.ItemError
    def __init__(self, appended: _Optional[_Union[AppendTurnResponse, _Mapping]] = ..., error: _Optional[_Union[_envelope_pb2.ItemError, _Mapping]] = ...) -> None: ...

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
    __slots__ = ("customer", "recent_turns", "contacts_last_7_days", "conversation", "issues", "trajectory", "consent", "summary", "slots")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    RECENT_TURNS_FIELD_NUMBER: _ClassVar[int]
    CONTACTS_LAST_7_DAYS_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    ISSUES_FIELD_NUMBER: _ClassVar[int]
    TRAJECTORY_FIELD_NUMBER: _ClassVar[int]
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    recent_turns: _containers.RepeatedCompositeFieldContainer[Turn]
    contacts_last_7_days: int
    conversation: Conversation
    issues: _containers.RepeatedCompositeFieldContainer[Issue]
    trajectory: EmotionTrajectory
    consent: Consent
    summary: str
    slots: _containers.RepeatedCompositeFieldContainer[Slot]
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ..., recent_turns: _Optional[_Iterable[_Union[Turn, _Mapping]]] = ..., contacts_last_7_days: _Optional[int] = ..., conversation: _Optional[_Union[Conversation, _Mapping]] = ..., issues: _Optional[_Iterable[_Union[Issue, _Mapping]]] = ..., trajectory: _Optional[_Union[EmotionTrajectory, _Mapping]] = ..., consent: _Optional[_Union[Consent, _Mapping]] = ..., summary: _Optional[str] = ..., slots: _Optional[_Iterable[_Union[Slot, _Mapping]]] = ...) -> None: ...

class Slot(_message.Message):
    __slots__ = ("name", "value", "conversation_id", "channel", "given_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    GIVEN_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    conversation_id: str
    channel: _envelope_pb2.Channel
    given_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ..., conversation_id: _Optional[str] = ..., channel: _Optional[_Union[_envelope_pb2.Channel, str]] = ..., given_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RememberSlotsRequest(_message.Message):
    __slots__ = ("customer_id", "slots")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    slots: _containers.RepeatedCompositeFieldContainer[Slot]
    def __init__(self, customer_id: _Optional[str] = ..., slots: _Optional[_Iterable[_Union[Slot, _Mapping]]] = ...) -> None: ...

class RememberSlotsResponse(_message.Message):
    __slots__ = ("slots",)
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    slots: _containers.RepeatedCompositeFieldContainer[Slot]
    def __init__(self, slots: _Optional[_Iterable[_Union[Slot, _Mapping]]] = ...) -> None: ...

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

class StartIdentityLinkRequest(_message.Message):
    __slots__ = ("customer_id", "channel", "address")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    channel: _envelope_pb2.Channel
    address: str
    def __init__(self, customer_id: _Optional[str] = ..., channel: _Optional[_Union[_envelope_pb2.Channel, str]] = ..., address: _Optional[str] = ...) -> None: ...

class StartIdentityLinkResponse(_message.Message):
    __slots__ = ("challenge_id", "code", "address", "expires_at")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    code: str
    address: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, challenge_id: _Optional[str] = ..., code: _Optional[str] = ..., address: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConfirmIdentityLinkRequest(_message.Message):
    __slots__ = ("challenge_id", "customer_id", "code")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    customer_id: str
    code: str
    def __init__(self, challenge_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class ConfirmIdentityLinkResponse(_message.Message):
    __slots__ = ("customer", "merged")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    MERGED_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    merged: bool
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ..., merged: _Optional[bool] = ...) -> None: ...

class MergeCustomersRequest(_message.Message):
    __slots__ = ("customer_id", "other_customer_id", "actor")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    OTHER_CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    other_customer_id: str
    actor: str
    def __init__(self, customer_id: _Optional[str] = ..., other_customer_id: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class MergeCustomersResponse(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class UpdateConsentRequest(_message.Message):
    __slots__ = ("customer_id", "emotion_analysis_allowed", "marketing_allowed", "sms_opted_out", "actor")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    EMOTION_ANALYSIS_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    MARKETING_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    SMS_OPTED_OUT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    emotion_analysis_allowed: bool
    marketing_allowed: bool
    sms_opted_out: bool
    actor: str
    def __init__(self, customer_id: _Optional[str] = ..., emotion_analysis_allowed: _Optional[bool] = ..., marketing_allowed: _Optional[bool] = ..., sms_opted_out: _Optional[bool] = ..., actor: _Optional[str] = ...) -> None: ...

class UpdateAddressConsentRequest(_message.Message):
    __slots__ = ("channel", "address", "opted_out", "seen_at")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    OPTED_OUT_FIELD_NUMBER: _ClassVar[int]
    SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    channel: _envelope_pb2.Channel
    address: str
    opted_out: bool
    seen_at: _timestamp_pb2.Timestamp
    def __init__(self, channel: _Optional[_Union[_envelope_pb2.Channel, str]] = ..., address: _Optional[str] = ..., opted_out: _Optional[bool] = ..., seen_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UpdateAddressConsentResponse(_message.Message):
    __slots__ = ("customer", "identity", "changed")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    identity: Identity
    changed: bool
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ..., identity: _Optional[_Union[Identity, _Mapping]] = ..., changed: _Optional[bool] = ...) -> None: ...

class UpdatePreferencesRequest(_message.Message):
    __slots__ = ("customer_id", "preferred_language", "preferred_channel", "display_name")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    preferred_language: str
    preferred_channel: _envelope_pb2.Channel
    display_name: str
    def __init__(self, customer_id: _Optional[str] = ..., preferred_language: _Optional[str] = ..., preferred_channel: _Optional[_Union[_envelope_pb2.Channel, str]] = ..., display_name: _Optional[str] = ...) -> None: ...

class SetConversationStateRequest(_message.Message):
    __slots__ = ("conversation_id", "state", "assignee")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    state: ConversationState
    assignee: str
    def __init__(self, conversation_id: _Optional[str] = ..., state: _Optional[_Union[ConversationState, str]] = ..., assignee: _Optional[str] = ...) -> None: ...

class RecordIssueRequest(_message.Message):
    __slots__ = ("customer_id", "conversation_id", "topic")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    conversation_id: str
    topic: str
    def __init__(self, customer_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., topic: _Optional[str] = ...) -> None: ...

class ResolveIssueRequest(_message.Message):
    __slots__ = ("issue_id",)
    ISSUE_ID_FIELD_NUMBER: _ClassVar[int]
    issue_id: str
    def __init__(self, issue_id: _Optional[str] = ...) -> None: ...

class FindCustomersRequest(_message.Message):
    __slots__ = ("query", "limit")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    query: str
    limit: int
    def __init__(self, query: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class FindCustomersResponse(_message.Message):
    __slots__ = ("customers",)
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    customers: _containers.RepeatedCompositeFieldContainer[CustomerRecord]
    def __init__(self, customers: _Optional[_Iterable[_Union[CustomerRecord, _Mapping]]] = ...) -> None: ...

class CustomerRecord(_message.Message):
    __slots__ = ("customer", "customer_ids", "conversation_ids")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_IDS_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_IDS_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    customer_ids: _containers.RepeatedScalarFieldContainer[str]
    conversation_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ..., customer_ids: _Optional[_Iterable[str]] = ..., conversation_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ExportCustomerRequest(_message.Message):
    __slots__ = ("customer_id", "actor")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    actor: str
    def __init__(self, customer_id: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class ExportCustomerResponse(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: str
    def __init__(self, json: _Optional[str] = ...) -> None: ...

class EraseCustomerRequest(_message.Message):
    __slots__ = ("customer_id", "actor", "reason")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    actor: str
    reason: str
    def __init__(self, customer_id: _Optional[str] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class EraseCustomerResponse(_message.Message):
    __slots__ = ("deleted",)
    class DeletedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: _containers.ScalarMap[str, int]
    def __init__(self, deleted: _Optional[_Mapping[str, int]] = ...) -> None: ...

class RunRetentionRequest(_message.Message):
    __slots__ = ("now",)
    NOW_FIELD_NUMBER: _ClassVar[int]
    now: _timestamp_pb2.Timestamp
    def __init__(self, now: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RunRetentionResponse(_message.Message):
    __slots__ = ("emotion_readings_removed", "turns_removed", "slots_removed")
    EMOTION_READINGS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    TURNS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    SLOTS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    emotion_readings_removed: int
    turns_removed: int
    slots_removed: int
    def __init__(self, emotion_readings_removed: _Optional[int] = ..., turns_removed: _Optional[int] = ..., slots_removed: _Optional[int] = ...) -> None: ...

class GetEmpathyMapRequest(_message.Message):
    __slots__ = ("from_day", "to_day", "channel")
    FROM_DAY_FIELD_NUMBER: _ClassVar[int]
    TO_DAY_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    from_day: str
    to_day: str
    channel: _envelope_pb2.Channel
    def __init__(self, from_day: _Optional[str] = ..., to_day: _Optional[str] = ..., channel: _Optional[_Union[_envelope_pb2.Channel, str]] = ...) -> None: ...

class GetEmpathyMapResponse(_message.Message):
    __slots__ = ("cells",)
    CELLS_FIELD_NUMBER: _ClassVar[int]
    cells: _containers.RepeatedCompositeFieldContainer[EmpathyCell]
    def __init__(self, cells: _Optional[_Iterable[_Union[EmpathyCell, _Mapping]]] = ...) -> None: ...

class EmpathyCell(_message.Message):
    __slots__ = ("intent", "stage", "emotion", "turns", "intensity_sum", "sentiment_sum")
    INTENT_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    TURNS_FIELD_NUMBER: _ClassVar[int]
    INTENSITY_SUM_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_SUM_FIELD_NUMBER: _ClassVar[int]
    intent: str
    stage: JourneyStage
    emotion: str
    turns: int
    intensity_sum: float
    sentiment_sum: float
    def __init__(self, intent: _Optional[str] = ..., stage: _Optional[_Union[JourneyStage, str]] = ..., emotion: _Optional[str] = ..., turns: _Optional[int] = ..., intensity_sum: _Optional[float] = ..., sentiment_sum: _Optional[float] = ...) -> None: ...

class ListEmpathyConversationsRequest(_message.Message):
    __slots__ = ("from_day", "to_day", "channel", "intent", "stage", "emotion", "limit")
    FROM_DAY_FIELD_NUMBER: _ClassVar[int]
    TO_DAY_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    from_day: str
    to_day: str
    channel: _envelope_pb2.Channel
    intent: str
    stage: JourneyStage
    emotion: str
    limit: int
    def __init__(self, from_day: _Optional[str] = ..., to_day: _Optional[str] = ..., channel: _Optional[_Union[_envelope_pb2.Channel, str]] = ..., intent: _Optional[str] = ..., stage: _Optional[_Union[JourneyStage, str]] = ..., emotion: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListEmpathyConversationsResponse(_message.Message):
    __slots__ = ("conversations",)
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    conversations: _containers.RepeatedCompositeFieldContainer[EmpathyConversation]
    def __init__(self, conversations: _Optional[_Iterable[_Union[EmpathyConversation, _Mapping]]] = ...) -> None: ...

class EmpathyConversation(_message.Message):
    __slots__ = ("conversation_id", "customer_id", "channel", "turns", "last_at", "examples")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TURNS_FIELD_NUMBER: _ClassVar[int]
    LAST_AT_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    customer_id: str
    channel: _envelope_pb2.Channel
    turns: int
    last_at: _timestamp_pb2.Timestamp
    examples: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, conversation_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., channel: _Optional[_Union[_envelope_pb2.Channel, str]] = ..., turns: _Optional[int] = ..., last_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., examples: _Optional[_Iterable[str]] = ...) -> None: ...
