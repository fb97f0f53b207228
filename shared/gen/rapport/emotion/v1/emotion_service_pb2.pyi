from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SentimentLabel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SENTIMENT_LABEL_UNSPECIFIED: _ClassVar[SentimentLabel]
    SENTIMENT_LABEL_NEGATIVE: _ClassVar[SentimentLabel]
    SENTIMENT_LABEL_NEUTRAL: _ClassVar[SentimentLabel]
    SENTIMENT_LABEL_POSITIVE: _ClassVar[SentimentLabel]

class UrgencyLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    URGENCY_LEVEL_UNSPECIFIED: _ClassVar[UrgencyLevel]
    URGENCY_LEVEL_LOW: _ClassVar[UrgencyLevel]
    URGENCY_LEVEL_NORMAL: _ClassVar[UrgencyLevel]
    URGENCY_LEVEL_HIGH: _ClassVar[UrgencyLevel]
SENTIMENT_LABEL_UNSPECIFIED: SentimentLabel
SENTIMENT_LABEL_NEGATIVE: SentimentLabel
SENTIMENT_LABEL_NEUTRAL: SentimentLabel
SENTIMENT_LABEL_POSITIVE: SentimentLabel
URGENCY_LEVEL_UNSPECIFIED: UrgencyLevel
URGENCY_LEVEL_LOW: UrgencyLevel
URGENCY_LEVEL_NORMAL: UrgencyLevel
URGENCY_LEVEL_HIGH: UrgencyLevel

class AnalyzeRequest(_message.Message):
    __slots__ = ("text", "language_hint", "previous_language", "include_drivers", "include_embedding", "no_embedding_for_intents", "language_and_intent_only")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_HINT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DRIVERS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    NO_EMBEDDING_FOR_INTENTS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_AND_INTENT_ONLY_FIELD_NUMBER: _ClassVar[int]
    text: str
    language_hint: str
    previous_language: str
    include_drivers: bool
    include_embedding: bool
    no_embedding_for_intents: _containers.RepeatedScalarFieldContainer[str]
    language_and_intent_only: bool
    def __init__(self, text: _Optional[str] = ..., language_hint: _Optional[str] = ..., previous_language: _Optional[str] = ..., include_drivers: _Optional[bool] = ..., include_embedding: _Optional[bool] = ..., no_embedding_for_intents: _Optional[_Iterable[str]] = ..., language_and_intent_only: _Optional[bool] = ...) -> None: ...

class AnalyzeBatchRequest(_message.Message):
    __slots__ = ("items", "include_drivers")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DRIVERS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[AnalyzeRequest]
    include_drivers: bool
    def __init__(self, items: _Optional[_Iterable[_Union[AnalyzeRequest, _Mapping]]] = ..., include_drivers: _Optional[bool] = ...) -> None: ...

class AnalyzeBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[AnalyzeResponse]
    def __init__(self, results: _Optional[_Iterable[_Union[AnalyzeResponse, _Mapping]]] = ...) -> None: ...

class Language(_message.Message):
    __slots__ = ("code", "confidence", "supported", "from_hint")
    CODE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_FIELD_NUMBER: _ClassVar[int]
    FROM_HINT_FIELD_NUMBER: _ClassVar[int]
    code: str
    confidence: float
    supported: bool
    from_hint: bool
    def __init__(self, code: _Optional[str] = ..., confidence: _Optional[float] = ..., supported: _Optional[bool] = ..., from_hint: _Optional[bool] = ...) -> None: ...

class EmotionScore(_message.Message):
    __slots__ = ("label", "score")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    label: str
    score: float
    def __init__(self, label: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class EmotionDriver(_message.Message):
    __slots__ = ("token", "weight")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    token: str
    weight: float
    def __init__(self, token: _Optional[str] = ..., weight: _Optional[float] = ...) -> None: ...

class Sentiment(_message.Message):
    __slots__ = ("label", "score")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    label: SentimentLabel
    score: float
    def __init__(self, label: _Optional[_Union[SentimentLabel, str]] = ..., score: _Optional[float] = ...) -> None: ...

class Sarcasm(_message.Message):
    __slots__ = ("detected", "score")
    DETECTED_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    detected: bool
    score: float
    def __init__(self, detected: _Optional[bool] = ..., score: _Optional[float] = ...) -> None: ...

class Intent(_message.Message):
    __slots__ = ("name", "confidence")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    confidence: float
    def __init__(self, name: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...

class Urgency(_message.Message):
    __slots__ = ("level", "score", "signals")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    level: UrgencyLevel
    score: float
    signals: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, level: _Optional[_Union[UrgencyLevel, str]] = ..., score: _Optional[float] = ..., signals: _Optional[_Iterable[str]] = ...) -> None: ...

class AnalyzeResponse(_message.Message):
    __slots__ = ("language", "emotions", "dominant_emotion", "intensity", "sentiment", "sarcasm", "intent", "urgency", "model_version", "detected_emotions", "drivers", "truncated", "analysed_chars", "model_versions", "embedding", "needs_person", "embedding_model")
    class ModelVersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    EMOTIONS_FIELD_NUMBER: _ClassVar[int]
    DOMINANT_EMOTION_FIELD_NUMBER: _ClassVar[int]
    INTENSITY_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    SARCASM_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    URGENCY_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    DETECTED_EMOTIONS_FIELD_NUMBER: _ClassVar[int]
    DRIVERS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    ANALYSED_CHARS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    NEEDS_PERSON_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_MODEL_FIELD_NUMBER: _ClassVar[int]
    language: Language
    emotions: _containers.RepeatedCompositeFieldContainer[EmotionScore]
    dominant_emotion: str
    intensity: float
    sentiment: Sentiment
    sarcasm: Sarcasm
    intent: Intent
    urgency: Urgency
    model_version: str
    detected_emotions: _containers.RepeatedScalarFieldContainer[str]
    drivers: _containers.RepeatedCompositeFieldContainer[EmotionDriver]
    truncated: bool
    analysed_chars: int
    model_versions: _containers.ScalarMap[str, str]
    embedding: _containers.RepeatedScalarFieldContainer[float]
    needs_person: NeedsPerson
    embedding_model: str
    def __init__(self, language: _Optional[_Union[Language, _Mapping]] = ..., emotions: _Optional[_Iterable[_Union[EmotionScore, _Mapping]]] = ..., dominant_emotion: _Optional[str] = ..., intensity: _Optional[float] = ..., sentiment: _Optional[_Union[Sentiment, _Mapping]] = ..., sarcasm: _Optional[_Union[Sarcasm, _Mapping]] = ..., intent: _Optional[_Union[Intent, _Mapping]] = ..., urgency: _Optional[_Union[Urgency, _Mapping]] = ..., model_version: _Optional[str] = ..., detected_emotions: _Optional[_Iterable[str]] = ..., drivers: _Optional[_Iterable[_Union[EmotionDriver, _Mapping]]] = ..., truncated: _Optional[bool] = ..., analysed_chars: _Optional[int] = ..., model_versions: _Optional[_Mapping[str, str]] = ..., embedding: _Optional[_Iterable[float]] = ..., needs_person: _Optional[_Union[NeedsPerson, _Mapping]] = ..., embedding_model: _Optional[str] = ...) -> None: ...

class EmbedRequest(_message.Message):
    __slots__ = ("texts",)
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, texts: _Optional[_Iterable[str]] = ...) -> None: ...

class EmbeddingSpace(_message.Message):
    __slots__ = ("model", "vectors")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    model: str
    vectors: _containers.RepeatedCompositeFieldContainer[Vector]
    def __init__(self, model: _Optional[str] = ..., vectors: _Optional[_Iterable[_Union[Vector, _Mapping]]] = ...) -> None: ...

class Vector(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class EmbedResponse(_message.Message):
    __slots__ = ("spaces",)
    SPACES_FIELD_NUMBER: _ClassVar[int]
    spaces: _containers.RepeatedCompositeFieldContainer[EmbeddingSpace]
    def __init__(self, spaces: _Optional[_Iterable[_Union[EmbeddingSpace, _Mapping]]] = ...) -> None: ...

class NeedsPerson(_message.Message):
    __slots__ = ("score", "detected", "signals")
    SCORE_FIELD_NUMBER: _ClassVar[int]
    DETECTED_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    score: float
    detected: bool
    signals: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, score: _Optional[float] = ..., detected: _Optional[bool] = ..., signals: _Optional[_Iterable[str]] = ...) -> None: ...
