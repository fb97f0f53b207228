"""Care for agents: how hard a conversation is to take, and how much of that an agent has
carried lately, so routing spreads the furious customers and the desk can suggest a pause.

Read from the customer's side only: the emotion readings of the customer's own messages
that the handoff carries (``HandoffRequested.trajectory``). Nothing here reads what
agents write, and nothing may: recognising employees' emotions is off limits.

- A conversation's intensity is the peak intensity of a negative feeling (anger,
  frustration, sadness, anxiety) among the customer's readings of the last day (back
  from their latest): what the agent meets on opening it. None when the handoff carries
  no reading (the customer opted out of emotion analysis): nothing known, nothing guessed.
- It is hard at ``HARD_INTENSITY`` or above.
- An agent's recent load: the conversations given to them (claimed, assigned, handed
  on) in the last ``WINDOW``, each weighing its intensity halved every ``HALF_LIFE``
  since; a run is their latest ``RUN_LENGTH`` conversations all hard, with no pause
  since (their availability unchanged since the last of them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rapport.events.v1 import handoff_pb2

# The emotion service's labels that weigh on whoever answers. Confusion is left out (it
# asks for explaining, not for absorbing), and so are joy and gratitude.
NEGATIVE_EMOTIONS = frozenset({"anger", "frustration", "sadness", "anxiety"})
# The trajectory is the customer's latest readings, from any conversation: one angry two
# weeks ago and calm now is not a hard conversation today.
READINGS_SPAN = timedelta(hours=24)
# From the service's own models on the development messages (customer-moods-dev, 641
# lines, never the test sets): the customers' negative messages reach a median intensity
# of 0.20 and an upper quartile of 0.38 (0.40 for anger); 0.4 marks the top fifth of
# them (56 of 274), one message in eleven overall, and 4 of the 367 neutral or positive
# ones. A higher cut (the urgency head's 0.6) marks 3% of negative messages: too rare
# for a run of them to ever show.
HARD_INTENSITY = 0.4
# A judgement, not a measurement: a shift's recent stretch, as the agent would say it
# ("the last 3 hours"), where a furious customer an hour ago still counts half.
WINDOW_HOURS = 3
WINDOW = timedelta(hours=WINDOW_HOURS)
HALF_LIFE = timedelta(hours=1)
# Three hard conversations back to back is where the desk suggests a pause.
RUN_LENGTH = 3


def ticket_intensity(trajectory: Sequence[handoff_pb2.EmotionReading]) -> float | None:
    """The peak negative intensity of the customer's readings in the day before the
    latest; 0 when none is negative, None without readings."""
    if not trajectory:
        return None
    stamps = [_stamp(r) for r in trajectory]
    latest = max((s for s in stamps if s is not None), default=None)
    recent = [
        reading
        for reading, stamp in zip(trajectory, stamps, strict=True)
        if latest is None or stamp is None or latest - stamp <= READINGS_SPAN
    ]
    peak = max((r.intensity for r in recent if r.dominant_emotion in NEGATIVE_EMOTIONS), default=0)
    return round(float(peak), 3)  # readings travel as float32


def _stamp(reading: handoff_pb2.EmotionReading) -> datetime | None:
    return reading.occurred_at.ToDatetime(tzinfo=UTC) if reading.HasField("occurred_at") else None


def is_hard(intensity: float | None) -> bool:
    return intensity is not None and intensity >= HARD_INTENSITY


def weight_of(intensity: float | None, age: timedelta = timedelta()) -> float:
    """What a conversation of ``intensity`` taken ``age`` ago adds to an agent's load."""
    return (intensity or 0.0) * math.exp2(-max(age, timedelta()) / HALF_LIFE)


@dataclass(frozen=True)
class Taken:
    """A conversation given to an agent: when, and its intensity (None: unknown)."""

    at: datetime
    intensity: float | None


@dataclass(frozen=True)
class RecentLoad:
    """What an agent carried in the last ``WINDOW``."""

    conversations: int
    hard: int
    weight: float  # the decayed sum routing compares
    run: bool  # the latest RUN_LENGTH all hard: time to suggest a pause

    @property
    def window_hours(self) -> int:
        return WINDOW_HOURS


def recent_load(
    taken: Iterable[Taken], now: datetime, stretch_since: datetime | None
) -> RecentLoad:
    """The agent's load at ``now`` from the conversations they were given; a run before
    ``stretch_since`` (their availability's last change: away, then back) was paused."""
    recent = sorted((t for t in taken if now - t.at <= WINDOW), key=lambda t: t.at)
    latest = recent[-RUN_LENGTH:]
    return RecentLoad(
        conversations=len(recent),
        hard=sum(is_hard(t.intensity) for t in recent),
        weight=sum(weight_of(t.intensity, now - t.at) for t in recent),
        run=len(latest) == RUN_LENGTH
        and all(is_hard(t.intensity) for t in latest)
        and (stretch_since is None or stretch_since <= latest[-1].at),
    )
