"""Metrics of the emotion service: what the models decided, and how long they took."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DOMINANT_EMOTIONS = Counter(
    "rapport_emotion_predictions_total",
    "Messages analysed, by dominant emotion label.",
    ["emotion"],
)
SENTIMENTS = Counter(
    "rapport_emotion_sentiments_total",
    "Messages analysed, by sentiment label (negative, neutral, positive).",
    ["sentiment"],
)
INTENTS = Counter(
    "rapport_emotion_intents_total",
    "Messages analysed, by intent (the intent model's fixed label set, or unknown).",
    ["intent"],
)
MESSAGES_ANALYSED = Counter(
    "rapport_emotion_messages_analysed_total",
    "Messages analysed, through Analyze and AnalyzeBatch.",
)
INFERENCE_SECONDS = Histogram(
    "rapport_emotion_inference_duration_seconds",
    "Time one model head took on one call (a whole batch counts once), by head.",
    ["head"],
    # fastText heads answer in tens of microseconds; a batch of a thousand in milliseconds.
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1),
)
