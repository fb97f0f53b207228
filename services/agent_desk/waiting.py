"""What a customer waiting for a person is told, and when: pure decisions.

Waiting for a person is never silence. The desk tells the customer their place in line
at once when their handoff reaches the queue, and answers every message they write while
they wait, with their place and the expected wait (or, outside business hours, when the
team is back). Two guards only:

- A *replay* (a message already older than ``stale_after`` when the desk reads it: a
  redelivery, or the desk catching up after an outage) earns nothing; the customer has
  moved on, and anything they write now is answered.
- A *burst* (a message less than ``gap`` after the last notice) is not answered at once
  but *later*: the ticket remembers the message, and the desk's sweep answers it once
  ``gap`` has passed since the last notice, with one notice for however many messages
  came in between. So "I want a person", the notice, then "thank you" three seconds
  later still gets a reply, ``gap`` seconds after the first: never a flood, never
  nothing.

The expected wait is the median of this team's recent waits (handoff to first claim of
the tickets claimed in a recent window), said only when there are enough of them, and
rounded the way a person would say it. Otherwise the notice says honestly that nobody
can tell yet. A long wait (over the desk's limit) earns one apology (``notices.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from statistics import median

from services.agent_desk.hours import BusinessHours, next_opening
from shared.voice.replies import Duration, Reopening


class Answer(StrEnum):
    """What a customer's message while waiting earns."""

    NOW = "now"
    LATER = "later"  # after the burst guard: the sweep sends it
    NOTHING = "nothing"  # a replay, or no longer waiting


@dataclass(frozen=True)
class WaitingRules:
    """The desk's settings for waiting customers."""

    hours: BusinessHours
    gap: timedelta  # at most one notice per gap (the burst guard)
    stale_after: timedelta  # a message older than this when read is a replay
    limit: timedelta  # a longer wait earns the apology and flags the ticket
    estimate_window: timedelta  # the recent waits the estimate looks at
    estimate_samples: int  # how many it needs before it says a number


def answer_to(
    *,
    waiting: bool,
    sent_at: datetime,
    last_notice: datetime | None,
    now: datetime,
    rules: WaitingRules,
) -> Answer:
    """Whether a customer's message gets a notice now, after the burst guard, or not."""
    if not waiting or now - sent_at >= rules.stale_after:
        return Answer.NOTHING
    if last_notice is None or now - last_notice >= rules.gap:
        return Answer.NOW
    return Answer.LATER


def expected_wait(waits: Sequence[timedelta], samples: int) -> timedelta | None:
    """The median of recent waits, or None with fewer than ``samples`` of them."""
    if len(waits) < max(samples, 1):
        return None
    return timedelta(seconds=median(max(w.total_seconds(), 0.0) for w in waits))


def rounded(length: timedelta) -> Duration:
    """A wait as a person would say it: at least a minute; to the minute up to 10, to
    5 minutes up to an hour, to a quarter hour up to two, then to the hour."""
    minutes = length.total_seconds() / 60
    step = 1 if minutes <= 10 else 5 if minutes <= 60 else 15 if minutes < 120 else 60
    return Duration(max(math.floor(minutes / step + 0.5) * step, 1))  # halves round up


def reopening(hours: BusinessHours, now: datetime) -> Reopening | None:
    """When the team is back, while it is away; None while it is open (or if it never
    opens: then nothing is said about it rather than something invented)."""
    back = next_opening(hours, now)
    if back is None or back <= now:
        return None
    today = now.astimezone(hours.timezone).date()
    return Reopening(back, (back.date() - today).days, str(hours.timezone))


@dataclass(frozen=True)
class Notice:
    """What one notice says, for the voice and for the decision record."""

    position: int
    wait: Duration | None
    back: Reopening | None

    def explanation(self) -> str:
        """Why the customer read what they read, for the turn's decision record."""
        said = f"number {self.position} in line"
        if self.back is not None:
            return f"{said}, and that the team is back at {self.back.at.isoformat()}"
        if self.wait is not None:
            return f"{said}, and that recent waits were about {self.wait.minutes} minutes"
        return f"{said}, with too few recent waits to estimate one"


def notice(position: int, waits: Sequence[timedelta], rules: WaitingRules, now: datetime) -> Notice:
    """What to tell a customer at ``position`` given the team's recent waits."""
    back = reopening(rules.hours, now)
    estimate = expected_wait(waits, rules.estimate_samples)
    wait = rounded(estimate) if estimate is not None and back is None else None
    return Notice(position, wait, back)
