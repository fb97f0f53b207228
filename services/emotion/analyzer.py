"""First, lexicon-based reading of a customer's message: a transparent baseline.

Pure functions, no I/O. Every figure comes from cue words and punctuation found in the
text, so a result can be explained by pointing at them; trained models replace these
cues behind the same :class:`Analysis` shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MODEL_VERSION = "lexicon-0.1"

EMOTION_LABELS = (
    "anger",
    "frustration",
    "sadness",
    "anxiety",
    "confusion",
    "gratitude",
    "joy",
    "neutral",
)

_EMOTION_CUES: dict[str, tuple[str, ...]] = {
    "anger": ("furious", "angry", "outraged", "ridiculous", "unacceptable", "disgusting", "hate"),
    "frustration": (
        "hasn't arrived",
        "has not arrived",
        "still waiting",
        "again",
        "annoying",
        "fed up",
        "not working",
        "doesn't work",
        "useless",
        "never",
        "late",
    ),
    "sadness": ("sad", "disappointed", "upset", "heartbroken", "unfortunately", "sorry to"),
    "anxiety": ("worried", "anxious", "nervous", "afraid", "scared", "urgent", "asap"),
    "confusion": ("confused", "don't understand", "not sure", "unclear", "what does", "how do"),
    "gratitude": (
        "thank",
        "thanks",
        "grateful",
        "appreciate",
        "gracias",
        "merci",
        "danke",
        "obrigad",
    ),
    "joy": ("great", "awesome", "love", "happy", "perfect", "wonderful"),
}
_NEGATIVE = frozenset({"anger", "frustration", "sadness", "anxiety"})
_POSITIVE = frozenset({"gratitude", "joy"})

_INTENT_CUES: dict[str, tuple[str, ...]] = {
    "talk_to_human": ("human", "real person", "agent", "representative", "someone real"),
    "stop_contact": ("stop texting", "stop messaging", "unsubscribe", "stop contacting"),
    "cancel_order": ("cancel",),
    "refund": ("refund", "money back", "reimburse"),
    "delivery_problem": (
        "hasn't arrived",
        "has not arrived",
        "not arrived",
        "never arrived",
        "late",
        "damaged",
        "wrong item",
        "missing",
    ),
    "order_status": ("where is my order", "order status", "tracking", "track my", "my order"),
    "complaint": ("complaint", "complain", "terrible service", "unacceptable"),
    "greeting": ("hello", "hi", "hey", "good morning"),
}

_LANGUAGE_STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset("the my is and to a of it not you i this hasn't what where".split()),
    "es": frozenset("el la mi es y de que no un una por pedido dónde hola".split()),
    "fr": frozenset("le la mon est et de que ne pas un une commande où bonjour".split()),
    "de": frozenset("der die das mein ist und zu nicht ein eine bestellung wo hallo".split()),
    "pt": frozenset("o a meu é e de que não um uma pedido onde olá".split()),
}
SUPPORTED_LANGUAGES = frozenset(_LANGUAGE_STOPWORDS)

_URGENCY_CUES = ("right now", "immediately", "asap", "urgent", "today", "tonight", "deadline")
_WORD = re.compile(r"[\w']+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything the orchestrator learns about one message."""

    language: str
    language_confidence: float
    emotions: dict[str, float]
    dominant_emotion: str
    intensity: float
    sentiment_score: float
    sarcasm_score: float
    intent: str
    intent_confidence: float
    urgency: str
    urgency_score: float
    urgency_signals: list[str] = field(default_factory=list)


def _has_cue(text: str, cue: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(cue)}(?!\w)", text) is not None


def detect_language(text: str, hint: str = "") -> tuple[str, float]:
    """Pick the language whose common words the text uses most; fall back to the hint."""
    words = [w.lower() for w in _WORD.findall(text)]
    scores = {lang: sum(w in stop for w in words) for lang, stop in _LANGUAGE_STOPWORDS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    if scores[best] == 0:
        return (hint, 0.3) if hint else ("und", 0.0)
    return best, min(1.0, 0.4 + 0.15 * scores[best])


def analyze(text: str, language_hint: str = "") -> Analysis:
    lowered = text.lower()
    language, language_confidence = detect_language(text, language_hint)

    hits = {
        label: sum(_has_cue(lowered, cue) for cue in cues) for label, cues in _EMOTION_CUES.items()
    }
    raw = {label: min(1.0, 0.45 * count) for label, count in hits.items()}
    raw["neutral"] = max(0.0, 1.0 - 2 * max(raw.values(), default=0.0))
    emotions = dict(sorted(raw.items(), key=lambda item: -item[1]))
    dominant = next(iter(emotions))

    exclamations = text.count("!")
    shouted_words = [w for w in _WORD.findall(text) if len(w) >= 3 and w.isupper()]
    shouting = len(shouted_words) >= 3
    intensity = 0.0 if dominant == "neutral" else emotions[dominant]
    intensity = min(1.0, intensity + 0.1 * min(exclamations, 3) + (0.2 if shouting else 0.0))

    negative = sum(raw[label] for label in _NEGATIVE)
    positive = sum(raw[label] for label in _POSITIVE)
    sentiment = max(-1.0, min(1.0, positive - negative))

    intent, intent_confidence = "unknown", 0.0
    for name, cues in _INTENT_CUES.items():
        count = sum(_has_cue(lowered, cue) for cue in cues)
        if count:
            intent, intent_confidence = name, min(1.0, 0.6 + 0.2 * count)
            break

    signals = [cue.replace(" ", "_") for cue in _URGENCY_CUES if _has_cue(lowered, cue)]
    if exclamations >= 2 or "??" in text:
        signals.append("repeated_punctuation")
    if shouting:
        signals.append("all_caps")
    urgency_score = min(1.0, 0.3 * len(signals) + 0.3 * intensity)
    urgency = "high" if urgency_score >= 0.6 else "normal" if urgency_score >= 0.2 else "low"

    # A positive word in a clearly negative message is the classic sarcastic shape.
    sarcasm = 0.6 if positive and negative else 0.0

    return Analysis(
        language=language,
        language_confidence=language_confidence,
        emotions=emotions,
        dominant_emotion=dominant,
        intensity=round(intensity, 3),
        sentiment_score=round(sentiment, 3),
        sarcasm_score=sarcasm,
        intent=intent,
        intent_confidence=intent_confidence,
        urgency=urgency,
        urgency_score=round(urgency_score, 3),
        urgency_signals=signals,
    )
