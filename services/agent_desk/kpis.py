"""The owner's dashboard: empathy KPIs from the desk's own records, per channel and per day.

Pure: the store hands in the records of the period, these functions count. Each figure
is defined once here (and shown on the page and in the README):

- **Conversations**: conversations in which the desk saw a customer's first message
  (it consumes ``rapport.inbound.v1``), counted on the day of that message.
- **Escalation rate**: of those conversations, the share that were handed to a person
  (have a ticket), counted on the conversation's first day.
- **Escalation reasons**: the reason codes of the handoffs that opened tickets.
- **Tickets**, and the rest below, count tickets on the day they were handed over
  (a cohort): a day's figures stay put once its tickets are done.
- **Average wait**: from the handoff to the first claim, over claimed tickets.
- **Average handle time**: from the first claim to the resolution, over resolved tickets.
- **First-contact resolution**: of the resolved tickets, the share that were the
  customer's first ticket in 30 days (they had not needed a person about anything
  in that window).
- **Repeat-contact rate**: of the tickets, the share opened for a customer who had
  another ticket in the previous 30 days.
- **Sentiment change**: the customer's sentiment (-1 to 1) at the conversation's last
  emotion reading minus the first, averaged over resolved tickets with readings.
- **CSAT**: the customers' 1-5 answers, on the day given; the average, the share of 4s
  and 5s ("satisfied"), and how many of each score.
- **NPS** (when the business asks "how likely are you to recommend us?", 0-10): the
  share of promoters (9-10) minus the share of detractors (0-6), as a percentage.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from statistics import fmean
from typing import Protocol

from rapport.events.v1.feedback_pb2 import RATING_SCALE_NPS_10

from services.agent_desk.models import TicketStatus
from shared.channel_names import CHANNEL_NAMES, channel_name
from shared.errors import InvalidInputError

SCORES = (1, 2, 3, 4, 5)


class TicketFacts(Protocol):
    """What the figures read of a ticket (the store hands in just these columns)."""

    @property
    def conversation_id(self) -> str: ...
    @property
    def channel(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def repeat_contacts(self) -> int: ...
    @property
    def reason_codes(self) -> list[str]: ...
    @property
    def handed_off_at(self) -> datetime: ...
    @property
    def claimed_at(self) -> datetime | None: ...
    @property
    def resolved_at(self) -> datetime | None: ...
    @property
    def sentiment_first(self) -> float | None: ...
    @property
    def sentiment_last(self) -> float | None: ...


class RatingFacts(Protocol):
    @property
    def channel(self) -> int: ...
    @property
    def score(self) -> int: ...
    @property
    def rated_at(self) -> datetime: ...
    @property
    def scale(self) -> int: ...


class SeenFacts(Protocol):
    @property
    def conversation_id(self) -> str: ...
    @property
    def channel(self) -> int: ...
    @property
    def started_at(self) -> datetime: ...


def _mean(values: list[float]) -> float | None:
    return fmean(values) if values else None


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Figures:
    """The KPIs of one slice (a channel, a day, or everything)."""

    conversations: int = 0
    escalated: int = 0
    tickets: int = 0
    repeat_contacts: int = 0
    resolved: int = 0
    first_contact_resolved: int = 0
    waits: list[float] = field(default_factory=list)
    handles: list[float] = field(default_factory=list)
    sentiment_changes: list[float] = field(default_factory=list)
    ratings: Counter[int] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    nps_answers: Counter[int] = field(default_factory=Counter)

    @property
    def escalation_rate(self) -> float | None:
        return _share(self.escalated, self.conversations)

    @property
    def repeat_rate(self) -> float | None:
        return _share(self.repeat_contacts, self.tickets)

    @property
    def first_contact_rate(self) -> float | None:
        return _share(self.first_contact_resolved, self.resolved)

    @property
    def average_wait(self) -> float | None:
        return _mean(self.waits)

    @property
    def average_handle(self) -> float | None:
        return _mean(self.handles)

    @property
    def sentiment_change(self) -> float | None:
        return _mean(self.sentiment_changes)

    @property
    def rated(self) -> int:
        return sum(self.ratings.values())

    @property
    def csat_average(self) -> float | None:
        return _mean([float(score) for score in self.ratings.elements()])

    @property
    def csat_satisfied(self) -> float | None:
        return _share(self.ratings[4] + self.ratings[5], self.rated)

    @property
    def distribution(self) -> list[tuple[int, int]]:
        return [(score, self.ratings[score]) for score in SCORES]

    @property
    def nps_answered(self) -> int:
        return sum(self.nps_answers.values())

    @property
    def nps(self) -> float | None:
        """Promoters (9-10) minus detractors (0-6), in percent of the NPS answers."""
        if not self.nps_answered:
            return None
        promoters = self.nps_answers[9] + self.nps_answers[10]
        detractors = sum(self.nps_answers[score] for score in range(7))
        return 100 * (promoters - detractors) / self.nps_answered


def combined(parts: Iterable[Figures]) -> Figures:
    """The figures of several slices as one (the days of a week): counts add up, the
    averages are over every slice's values, not an average of averages."""
    total = Figures()
    for part in parts:
        for name in (f.name for f in fields(Figures)):
            setattr(total, name, getattr(total, name) + getattr(part, name))
    return total


@dataclass(frozen=True)
class Dashboard:
    days: list[date]
    overall: Figures
    by_channel: list[tuple[str, Figures]]
    by_day: list[tuple[date, Figures]]
    channel: str


def _count_ticket(figures: Figures, ticket: TicketFacts) -> None:
    figures.tickets += 1
    figures.repeat_contacts += ticket.repeat_contacts > 0
    figures.reasons.update(ticket.reason_codes)
    if ticket.claimed_at is not None:
        figures.waits.append((ticket.claimed_at - ticket.handed_off_at).total_seconds())
    if ticket.status != TicketStatus.RESOLVED or ticket.resolved_at is None:
        return
    figures.resolved += 1
    figures.first_contact_resolved += ticket.repeat_contacts == 0
    if ticket.claimed_at is not None:
        figures.handles.append((ticket.resolved_at - ticket.claimed_at).total_seconds())
    if ticket.sentiment_first is not None and ticket.sentiment_last is not None:
        figures.sentiment_changes.append(ticket.sentiment_last - ticket.sentiment_first)


def dashboard(
    tickets: Iterable[TicketFacts],
    ratings: Iterable[RatingFacts],
    conversations: Iterable[SeenFacts],
    *,
    now: datetime,
    days: int,
    channel: str = "",
) -> Dashboard:
    """The figures of the last ``days`` days (today included), per channel and per day;
    the daily series only for ``channel`` when one is named."""
    first_day = now.date() - timedelta(days=days - 1)
    calendar = [first_day + timedelta(days=n) for n in range(days)]
    overall = Figures()
    per_channel: defaultdict[str, Figures] = defaultdict(Figures)
    per_day = {day: Figures() for day in calendar}

    def slices(number: int, moment: datetime) -> list[Figures]:
        """The figures a record counts in: overall, its channel's, and its day's."""
        name = channel_name(number)  # type: ignore[arg-type]
        day = moment.date()
        if day < first_day:
            return []
        found = [overall, per_channel[name]]
        if day in per_day and channel in ("", name):
            found.append(per_day[day])
        return found

    tickets = list(tickets)
    escalated = {t.conversation_id for t in tickets}
    for seen in conversations:
        for figures in slices(seen.channel, seen.started_at):
            figures.conversations += 1
            figures.escalated += seen.conversation_id in escalated
    for ticket in tickets:
        for figures in slices(ticket.channel, ticket.handed_off_at):
            _count_ticket(figures, ticket)
    for rating in ratings:
        for figures in slices(rating.channel, rating.rated_at):
            nps = rating.scale == RATING_SCALE_NPS_10
            (figures.nps_answers if nps else figures.ratings)[rating.score] += 1
    return Dashboard(
        days=calendar,
        overall=overall,
        by_channel=sorted(per_channel.items()),
        by_day=list(per_day.items()),
        channel=channel,
    )


@dataclass(frozen=True)
class Period:
    days: int
    channel: str


def period_of(query: Mapping[str, str], periods: Sequence[int]) -> Period:
    """The dashboard's filters from a query: one of the offered periods (the first by
    default) and a channel's name or "" for every channel."""
    try:
        days = int(query.get("days", periods[0]))
    except ValueError:
        days = 0
    channel = query.get("channel", "")
    if days not in periods or channel not in ("", *CHANNEL_NAMES):
        raise InvalidInputError("pick a period and a channel from the lists")
    return Period(days, channel)
