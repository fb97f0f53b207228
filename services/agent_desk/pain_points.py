"""The period's top pain points, from what customers wrote when asked what could be done
better (pure: the store hands in the feedback rows).

Only negative feedback counts: feedback whose emotion reading is a negative emotion or a
negative sentiment; without a reading (the customer opted out of emotion analysis, or
retention removed it) feedback that followed a low score (CSAT 1-3, NPS 0-6). It is
grouped by topic (the intent the emotion service read), and a topic is ranked by how many
wrote of it times how strongly they felt (the mean intensity of its readings; a topic
with none counts at ``UNREAD_INTENSITY``), so a few furious customers can outrank many
mildly annoyed ones. Each comes with its most common emotion and a few of the customers'
own words, the most intense first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import fmean, mode

from rapport.events.v1 import feedback_pb2

from services.agent_desk.models import Feedback

NEGATIVE_EMOTIONS = frozenset({"anger", "frustration", "sadness", "anxiety", "confusion"})
# The weight of feedback whose intensity is not known: a medium feeling.
UNREAD_INTENSITY = 0.5
# The score at or under which a rating is low, per scale (``Rating.scale``).
LOW_SCORES: dict[int, int] = {
    feedback_pb2.RATING_SCALE_CSAT_5: 3,
    feedback_pb2.RATING_SCALE_NPS_10: 6,
}
QUOTE_CHARS = 240
# "unknown" (nothing the emotion service recognised) and "" (not read) both show as this.
OTHER_TOPIC = "other"


@dataclass(frozen=True)
class PainPoint:
    topic: str
    count: int
    # The mean intensity of its readings; None when none was read.
    intensity: float | None
    emotion: str
    quotes: list[str]

    @property
    def weight(self) -> float:
        intensity = UNREAD_INTENSITY if self.intensity is None else self.intensity
        return self.count * intensity


def is_negative(feedback: Feedback) -> bool:
    """Whether the feedback speaks of a pain: from its reading, else from its score."""
    if feedback.dominant_emotion:
        sentiment = feedback.sentiment_score or 0.0
        return feedback.dominant_emotion in NEGATIVE_EMOTIONS or sentiment < 0
    return feedback.score <= LOW_SCORES.get(
        feedback.scale, LOW_SCORES[feedback_pb2.RATING_SCALE_CSAT_5]
    )


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rstrip() + "…"


def _pain_point(topic: str, items: list[Feedback], quotes: int) -> PainPoint:
    intensities = [f.intensity for f in items if f.intensity is not None]
    emotions = [f.dominant_emotion for f in items if f.dominant_emotion]
    # The most intense first, the newest among equals.
    strongest = sorted(items, key=lambda f: (f.intensity or 0.0, f.given_at), reverse=True)
    return PainPoint(
        topic=topic,
        count=len(items),
        intensity=fmean(intensities) if intensities else None,
        emotion=mode(emotions) if emotions else "",
        quotes=[_quote(f.text) for f in strongest[:quotes]],
    )


def top_pain_points(
    feedback: Iterable[Feedback], *, limit: int = 5, quotes: int = 3
) -> list[PainPoint]:
    """The ``limit`` heaviest pain points of ``feedback``, each with up to ``quotes``
    examples; ties go to the more frequent, then by topic."""
    by_topic: defaultdict[str, list[Feedback]] = defaultdict(list)
    for item in (f for f in feedback if is_negative(f)):
        by_topic[item.intent if item.intent not in ("", "unknown") else OTHER_TOPIC].append(item)
    points = [_pain_point(topic, items, quotes) for topic, items in by_topic.items()]
    points.sort(key=lambda p: (-p.weight, -p.count, p.topic))
    return points[:limit]
