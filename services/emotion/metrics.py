"""Metrics of the emotion service."""

from __future__ import annotations

from prometheus_client import Counter

DOMINANT_EMOTIONS = Counter(
    "rapport_emotion_predictions_total",
    "Messages analysed, by dominant emotion label.",
    ["emotion"],
)
MESSAGES_ANALYSED = Counter(
    "rapport_emotion_messages_analysed_total",
    "Messages analysed, through Analyze and AnalyzeBatch.",
)
