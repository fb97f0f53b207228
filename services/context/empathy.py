"""The empathy map: a period's totals, the conversations behind one cell, and folding
the turns counted as they were appended into the totals.

The repository counts each customer turn with an emotion reading in ``empathy_pending``,
in the transaction that appends it (an insert: concurrent appends never wait on a shared
row). :meth:`EmpathyMap.fold` moves those rows into ``empathy_cells`` now and then, so a
page view reads the totals plus a minute's pending rows, one small grouped read whatever
the traffic was. Only a drill-down reads turns, on the ``ix_turns_empathy`` index; it
finds only turns whose emotion reading retention still keeps.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Select, Table, delete, func, literal, select, union_all
from sqlalchemy.sql import Insert

from services.context.models import EmpathyCellRow, EmpathyPendingRow
from services.context.repository import ROLE_CUSTOMER, TURNS
from services.context.store import Store, utc
from shared.errors import InvalidInputError

#: Most days one period covers (a leap year).
MAX_PERIOD_DAYS = 366
DEFAULT_CONVERSATIONS, MAX_CONVERSATIONS = 50, 200
#: The customer's words shown per conversation of a drill-down.
EXAMPLES_PER_CONVERSATION = 3

CELLS = cast(Table, EmpathyCellRow.__table__)
PENDING = cast(Table, EmpathyPendingRow.__table__)
_KEY = ("day", "channel", "intent", "stage", "emotion")


@dataclass(frozen=True, slots=True)
class Period:
    """UTC days, both included; ``channel`` 0 for every channel."""

    first: date
    last: date
    channel: int = 0

    @classmethod
    def parse(cls, from_day: str, to_day: str, channel: int) -> Period:
        try:
            first, last = date.fromisoformat(from_day), date.fromisoformat(to_day)
        except ValueError as exc:
            raise InvalidInputError("from_day and to_day must be days as YYYY-MM-DD") from exc
        if first > last:
            raise InvalidInputError("from_day is after to_day")
        if (last - first).days >= MAX_PERIOD_DAYS:
            raise InvalidInputError(f"a period covers at most {MAX_PERIOD_DAYS} days")
        return cls(first, last, channel)

    @property
    def starts(self) -> datetime:
        return datetime.combine(self.first, time(), tzinfo=UTC)

    @property
    def ends(self) -> datetime:
        """The first moment after the period."""
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Cell:
    intent: str
    stage: int
    emotion: str
    turns: int
    intensity_sum: float
    sentiment_sum: float


@dataclass(frozen=True, slots=True)
class CellKey:
    """One cell of the map: an intent, a journey stage and a dominant emotion."""

    intent: str
    stage: int
    emotion: str


@dataclass(frozen=True, slots=True)
class ConversationInCell:
    conversation_id: str
    customer_id: str
    channel: int
    turns: int
    last_at: datetime
    examples: tuple[str, ...]


def _in_period(table: Table, period: Period) -> list[Any]:
    where = [table.c.day >= period.first, table.c.day <= period.last]
    if period.channel:
        where.append(table.c.channel == period.channel)
    return where


class EmpathyMap:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._add_to_cells = _cell_upsert(store)

    async def cells(self, period: Period) -> list[Cell]:
        """The period's totals per intent, stage and emotion (summed over days)."""
        return await self._store.run_read(functools.partial(self._read_cells, period))

    @staticmethod
    def _read_cells(period: Period, connection: Connection) -> list[Cell]:
        """Totals and pending rows in one statement: one snapshot, so a fold running
        meanwhile neither hides nor doubles a turn."""
        folded = select(
            CELLS.c.intent,
            CELLS.c.stage,
            CELLS.c.emotion,
            CELLS.c.turns,
            CELLS.c.intensity_sum,
            CELLS.c.sentiment_sum,
        ).where(*_in_period(CELLS, period))
        pending = select(
            PENDING.c.intent,
            PENDING.c.stage,
            PENDING.c.emotion,
            literal(1).label("turns"),
            PENDING.c.intensity.label("intensity_sum"),
            PENDING.c.sentiment.label("sentiment_sum"),
        ).where(*_in_period(PENDING, period))
        both = union_all(folded, pending).subquery()
        rows = connection.execute(
            select(
                both.c.intent,
                both.c.stage,
                both.c.emotion,
                func.sum(both.c.turns),
                func.sum(both.c.intensity_sum),
                func.sum(both.c.sentiment_sum),
            ).group_by(both.c.intent, both.c.stage, both.c.emotion)
        )
        return [Cell(i, s, e, int(n), float(a), float(b)) for i, s, e, n, a, b in rows]

    async def fold(self) -> int:
        """Move the pending rows into the totals; how many turns were folded."""
        return await self._store.run_write(self._fold)

    def _fold(self, connection: Connection) -> int:
        """Deletes exactly the rows it adds (DELETE … RETURNING): a turn appended while
        it runs stays pending for the next fold, on PostgreSQL too."""
        moved = connection.execute(
            delete(PENDING).returning(
                *(PENDING.c[k] for k in _KEY), PENDING.c.intensity, PENDING.c.sentiment
            )
        ).all()
        sums: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        for *key, intensity, sentiment in moved:
            total = sums[tuple(key)]
            total[0] += 1
            total[1] += intensity
            total[2] += sentiment
        if sums:
            # In key order: two folders (two replicas) lock cells in one order, never deadlock.
            connection.execute(
                self._add_to_cells,
                [
                    {
                        **dict(zip(_KEY, key, strict=True)),
                        "turns": int(turns),
                        "intensity_sum": intensity_sum,
                        "sentiment_sum": sentiment_sum,
                    }
                    for key, (turns, intensity_sum, sentiment_sum) in sorted(sums.items())
                ],
            )
        return len(moved)

    async def conversations(
        self, period: Period, cell: CellKey, limit: int
    ) -> list[ConversationInCell]:
        """The conversations with turns in ``cell`` in the period, most such turns first,
        each with the customer's newest words there."""
        if limit < 0:
            raise InvalidInputError("limit must not be negative")
        wanted = min(limit or DEFAULT_CONVERSATIONS, MAX_CONVERSATIONS)
        return await self._store.run_read(
            functools.partial(self._read_conversations, period, cell, wanted)
        )

    @staticmethod
    def _read_conversations(
        period: Period, cell: CellKey, limit: int, connection: Connection
    ) -> list[ConversationInCell]:
        in_cell = _turns_in_cell(period, cell)
        found = connection.execute(
            in_cell.with_only_columns(
                TURNS.c.conversation_id,
                TURNS.c.customer_id,
                TURNS.c.channel,
                func.count().label("turns"),
                func.max(TURNS.c.occurred_at).label("last_at"),
            )
            .group_by(TURNS.c.conversation_id, TURNS.c.customer_id, TURNS.c.channel)
            .order_by(func.count().desc(), func.max(TURNS.c.occurred_at).desc())
            .limit(limit)
        ).all()
        examples: dict[str, list[str]] = defaultdict(list)
        words = connection.execute(
            in_cell.with_only_columns(TURNS.c.conversation_id, TURNS.c.text)
            .where(
                TURNS.c.conversation_id.in_([row.conversation_id for row in found]),
                TURNS.c.text != "",
            )
            .order_by(TURNS.c.occurred_at.desc(), TURNS.c.sequence.desc())
        )
        for conversation_id, text in words:
            if len(examples[conversation_id]) < EXAMPLES_PER_CONVERSATION:
                examples[conversation_id].append(text)
        return [
            ConversationInCell(
                row.conversation_id,
                row.customer_id,
                row.channel,
                row.turns,
                utc(row.last_at),
                tuple(examples[row.conversation_id]),
            )
            for row in found
        ]


def _turns_in_cell(period: Period, cell: CellKey) -> Select[tuple[str]]:
    """The customer turns counted in ``cell`` in the period (the map counts the same)."""
    where = [
        TURNS.c.intent == cell.intent,
        TURNS.c.journey_stage == cell.stage,
        TURNS.c.occurred_at >= period.starts,
        TURNS.c.occurred_at < period.ends,
        TURNS.c.role == ROLE_CUSTOMER,
        TURNS.c.dominant_emotion == cell.emotion,
    ]
    if period.channel:
        where.append(TURNS.c.channel == period.channel)
    return select(TURNS.c.event_id).where(*where)


def _cell_upsert(store: Store) -> Insert:
    """INSERT of a cell's folded turns that adds them to its totals when it has some."""
    statement = store.insert(EmpathyCellRow)
    return statement.on_conflict_do_update(
        index_elements=[CELLS.c[k] for k in _KEY],
        set_={
            total: CELLS.c[total] + statement.excluded[total]
            for total in ("turns", "intensity_sum", "sentiment_sum")
        },
    )
