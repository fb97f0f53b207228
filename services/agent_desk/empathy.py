"""The owner's empathy map: how customers feel, by what they want and where their journey
stands, shaped for the page from the context service's totals (pure: no I/O).

Rows are intents (most turns first), columns the journey stages in order. A cell sums
the customer turns with an emotion reading of its intent and stage; it shows its
dominant emotion (the one most of those turns read as), that emotion's share of the
cell and its mean intensity. Its *heat* is share × mean intensity (0 to 1): a cell is
hot when many of its customers feel one thing strongly. The page says every figure in
words, so the colour is never the only way to read it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from rapport.context.v1 import context_service_pb2 as context_pb

from services.agent_desk.kpis import period_of
from shared.channel_names import channel_number
from shared.errors import InvalidInputError

STAGES: tuple[tuple[int, str], ...] = (
    (context_pb.JOURNEY_STAGE_FIRST_CONTACT, "First contact"),
    (context_pb.JOURNEY_STAGE_FOLLOW_UP, "Follow-up"),
    (context_pb.JOURNEY_STAGE_WAITING_FOR_AGENT, "Waiting for a person"),
    (context_pb.JOURNEY_STAGE_WITH_AGENT, "With a person"),
    (context_pb.JOURNEY_STAGE_AFTER_RESOLUTION, "After resolution"),
)
STAGE_LABELS = dict(STAGES)
#: Heat is shown in this many steps (CSS classes heat-0 … heat-4).
HEAT_STEPS = 5


def intent_label(intent: str) -> str:
    """``delivery_period`` → ``delivery period``; turns the bot could not read have none."""
    return intent.replace("_", " ") if intent else "(no intent read)"


@dataclass(frozen=True)
class Filters:
    """What the page shows: the last ``days`` UTC days up to ``today``, one channel or all."""

    days: int
    channel: str
    today: date

    @property
    def first_day(self) -> date:
        return self.today - timedelta(days=self.days - 1)

    @property
    def channel_number(self) -> int:
        return channel_number(self.channel) if self.channel else 0

    def query(self) -> dict[str, str]:
        """The filters as a link's query, so a drill-down keeps them."""
        return {"days": str(self.days), "channel": self.channel}


def filters_of(query: Mapping[str, str], periods: Sequence[int], today: date) -> Filters:
    """The filters a request asks for: the dashboard's (one of its periods, a channel)."""
    period = period_of(query, periods)
    return Filters(period.days, period.channel, today)


@dataclass(frozen=True)
class Feeling:
    """One emotion within a cell."""

    emotion: str
    turns: int
    share: float
    mean_intensity: float


@dataclass(frozen=True)
class MapCell:
    intent: str
    stage: int
    turns: int
    mean_sentiment: float
    # Every emotion read in the cell, the dominant one first.
    feelings: tuple[Feeling, ...]

    @property
    def dominant(self) -> Feeling:
        return self.feelings[0]

    @property
    def heat(self) -> float:
        return self.dominant.share * self.dominant.mean_intensity

    @property
    def heat_step(self) -> int:
        return min(HEAT_STEPS - 1, int(self.heat * HEAT_STEPS))


@dataclass(frozen=True)
class EmpathyMap:
    intents: tuple[str, ...]
    cells: Mapping[tuple[str, int], MapCell]
    hottest: MapCell | None

    def cell(self, intent: str, stage: int) -> MapCell | None:
        return self.cells.get((intent, stage))


def _cell(intent: str, stage: int, parts: Sequence[context_pb.EmpathyCell]) -> MapCell:
    turns = sum(p.turns for p in parts)
    feelings = sorted(
        (Feeling(p.emotion, p.turns, p.turns / turns, p.intensity_sum / p.turns) for p in parts),
        # Most turns first; of two as common, the stronger; then by name, to be stable.
        key=lambda f: (-f.turns, -f.mean_intensity, f.emotion),
    )
    return MapCell(
        intent=intent,
        stage=stage,
        turns=turns,
        mean_sentiment=sum(p.sentiment_sum for p in parts) / turns,
        feelings=tuple(feelings),
    )


def empathy_map(figures: Iterable[context_pb.EmpathyCell]) -> EmpathyMap:
    """The map from the context service's figures (one per intent, stage and emotion)."""
    grouped: dict[tuple[str, int], list[context_pb.EmpathyCell]] = defaultdict(list)
    for figure in figures:
        if figure.turns > 0 and figure.stage in STAGE_LABELS:
            grouped[(figure.intent, figure.stage)].append(figure)
    cells = {key: _cell(*key, parts) for key, parts in grouped.items()}
    turns_by_intent: dict[str, int] = defaultdict(int)
    for cell in cells.values():
        turns_by_intent[cell.intent] += cell.turns
    intents = tuple(sorted(turns_by_intent, key=lambda i: (-turns_by_intent[i], i)))
    hottest = max(cells.values(), key=lambda c: (c.heat, c.turns), default=None)
    return EmpathyMap(intents, cells, hottest)


@dataclass(frozen=True)
class CellQuery:
    """The cell a drill-down opens: an intent, a stage and an emotion."""

    intent: str
    stage: int
    emotion: str


def cell_query_of(query: Mapping[str, str]) -> CellQuery:
    try:
        stage = int(query.get("stage", ""))
    except ValueError:
        stage = 0
    emotion = query.get("emotion", "")
    if stage not in STAGE_LABELS or not emotion:
        raise InvalidInputError("open a cell from the empathy map")
    return CellQuery(query.get("intent", ""), stage, emotion)
