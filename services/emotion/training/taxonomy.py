"""How the source data sets' labels map onto Rapport's emotions and sentiment classes."""

from __future__ import annotations

# GoEmotions (27 + neutral) → Rapport, read the way a customer-service agent would.
GOEMOTIONS_TO_RAPPORT: dict[str, str] = {
    "anger": "anger",
    "disgust": "anger",
    "annoyance": "frustration",
    "disapproval": "frustration",
    "disappointment": "frustration",
    "sadness": "sadness",
    "grief": "sadness",
    "remorse": "sadness",
    "embarrassment": "sadness",
    "fear": "anxiety",
    "nervousness": "anxiety",
    "confusion": "confusion",
    "gratitude": "gratitude",
    "joy": "joy",
    "amusement": "joy",
    "excitement": "joy",
    "love": "joy",
    "admiration": "joy",
    "optimism": "joy",
    "pride": "joy",
    "relief": "joy",
    "caring": "joy",
    "neutral": "neutral",
    "approval": "neutral",
    "curiosity": "neutral",
    "realization": "neutral",
    "surprise": "neutral",
    "desire": "neutral",
}

XED_LABELS: tuple[str, ...] = (
    "anger",
    "anticipation",
    "disgust",
    "fear",
    "joy",
    "sadness",
    "surprise",
    "trust",
)
"""XED's label ids 1..8 (Plutchik's eight); id 9 marks the English neutral lines."""

# XED (Plutchik 8) → Rapport. Frustration, confusion and gratitude have no Plutchik
# counterpart, so the non-English model never predicts them.
XED_TO_RAPPORT: dict[str, str] = {
    "anger": "anger",
    "disgust": "anger",
    "fear": "anxiety",
    "sadness": "sadness",
    "joy": "joy",
    "anticipation": "neutral",
    "surprise": "neutral",
    "trust": "neutral",
    "neutral": "neutral",
}
XED_INEXPRESSIBLE: tuple[str, ...] = ("frustration", "confusion", "gratitude")

SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")
XED_SENTIMENT: dict[str, str] = {
    "anger": "negative",
    "disgust": "negative",
    "fear": "negative",
    "sadness": "negative",
    "joy": "positive",
    "trust": "positive",
    "anticipation": "neutral",
    "surprise": "neutral",
    "neutral": "neutral",
}


def map_labels(labels: tuple[str, ...], mapping: dict[str, str]) -> tuple[str, ...]:
    """The set of target labels a multi-label example carries, in a stable order."""
    return tuple(sorted({mapping[label] for label in labels}))


def sentiment_of(labels: tuple[str, ...], polarity: dict[str, str]) -> str:
    """One sentiment class per example: positive or negative when every polar label agrees;
    neutral, ambiguous-only and mixed examples are neutral."""
    polar = {polarity[label] for label in labels} - {"neutral"}
    return polar.pop() if len(polar) == 1 else "neutral"
