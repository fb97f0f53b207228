"""What the turns say about a customer: emotional trend and the agent's one-paragraph summary.

Pure functions over already-loaded rows; no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

TREND_THRESHOLD = 0.15


@dataclass(frozen=True, slots=True)
class Reading:
    occurred_at: datetime
    dominant_emotion: str
    intensity: float
    sentiment_score: float


def trend(readings: Sequence[Reading]) -> str:
    """ "improving", "worsening" or "stable": the slope of sentiment over the customer's turns.

    Least-squares slope over the turn index, so one outlier moves it less than comparing
    the first and last turn would.
    """
    if len(readings) < 2:
        return "stable"
    xs = range(len(readings))
    mean_x = (len(readings) - 1) / 2
    mean_y = sum(r.sentiment_score for r in readings) / len(readings)
    covariance = sum((x - mean_x) * (r.sentiment_score - mean_y) for x, r in enumerate(readings))
    variance = sum((x - mean_x) ** 2 for x in xs)
    change = covariance / variance * (len(readings) - 1)  # fitted change from first to last
    if change >= TREND_THRESHOLD:
        return "improving"
    if change <= -TREND_THRESHOLD:
        return "worsening"
    return "stable"


@dataclass(frozen=True, slots=True)
class SummaryFacts:
    display_name: str
    customer_since: datetime
    channels: Sequence[str]
    contacts_last_7_days: int
    open_topics: Sequence[str]
    last_emotion: str
    trend: str
    preferred_language: str
    sms_opted_out_numbers: Sequence[str]
    emotion_analysis_allowed: bool
    marketing_allowed: bool


def summary(facts: SummaryFacts) -> str:
    """A few plain sentences an agent can read in five seconds."""
    who = facts.display_name or "This customer"
    channels = ", ".join(facts.channels) or "no channel yet"
    sentences = [
        f"{who} has been a customer since {facts.customer_since:%Y-%m-%d} ({channels}).",
        f"{facts.contacts_last_7_days} contact(s) in the last 7 days.",
    ]
    if facts.open_topics:
        sentences.append("Open: " + ", ".join(t.replace("_", " ") for t in facts.open_topics) + ".")
    if not facts.emotion_analysis_allowed:
        sentences.append("Emotion analysis is off at the customer's request.")
    elif facts.last_emotion:
        sentences.append(f"Latest mood: {facts.last_emotion}, {facts.trend}.")
    if facts.preferred_language:
        sentences.append(f"Prefers language '{facts.preferred_language}'.")
    if facts.sms_opted_out_numbers:
        numbers = ", ".join(facts.sms_opted_out_numbers)
        sentences.append(f"Opted out of SMS at {numbers}: do not text there.")
    if not facts.marketing_allowed:
        sentences.append("No marketing.")
    return " ".join(sentences)
