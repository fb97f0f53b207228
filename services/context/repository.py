"""Reads and writes customers, conversations and turns; the only module that speaks SQL.

Turn sequence numbers come from the conversation row, bumped in the same transaction
as the insert, so two writers appending to one conversation still get 1, 2, 3...
Appending is idempotent on the turn's event id.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.context.models import Base, ConversationRow, CustomerRow, IdentityRow, TurnRow

REPEAT_CONTACT_WINDOW = timedelta(days=7)


class UnknownCustomerError(LookupError):
    """No customer has this id."""


class _LostRaceError(Exception):
    """A concurrent writer created the same row first; roll back and read theirs."""


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    display_name: str
    preferred_language: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EmotionReading:
    dominant_emotion: str
    intensity: float
    sentiment_score: float


@dataclass(frozen=True, slots=True)
class NewTurn:
    event_id: str
    conversation_id: str
    role: int
    channel: int
    text: str
    occurred_at: datetime
    language: str = ""
    emotion: EmotionReading | None = None


@dataclass(frozen=True, slots=True)
class Turn(NewTurn):
    sequence: int = 0


@dataclass(frozen=True, slots=True)
class Context:
    customer: Customer
    recent_turns: list[Turn]
    contacts_last_7_days: int


def _customer(row: CustomerRow) -> Customer:
    return Customer(row.id, row.display_name, row.preferred_language, _utc(row.created_at))


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _turn(row: TurnRow) -> Turn:
    emotion = None
    if row.dominant_emotion is not None:
        emotion = EmotionReading(
            row.dominant_emotion, row.emotion_intensity or 0.0, row.sentiment_score or 0.0
        )
    return Turn(
        event_id=row.event_id,
        conversation_id=row.conversation_id,
        role=row.role,
        channel=row.channel,
        text=row.text,
        occurred_at=_utc(row.occurred_at),
        language=row.language,
        emotion=emotion,
        sequence=row.sequence,
    )


class ContextRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        # SQLite has one writer at a time. Queueing writers here, instead of letting them
        # collide in the file (busy polling, or "database is locked" when a transaction
        # that has read upgrades to write), keeps errors off the hot path. PostgreSQL
        # locks rows itself.
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        """A read-write transaction; committed when the block ends, rolled back on error."""
        async with AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock)
            yield await stack.enter_async_context(self._sessions.begin())

    def _insert(self, table: type[Base]) -> sqlite.Insert | postgresql.Insert:
        """INSERT that can skip rows that already exist, in the engine's dialect."""
        if self._engine.dialect.name == "sqlite":
            return sqlite.insert(table)
        return postgresql.insert(table)

    async def resolve_customer(
        self, channel: int, address: str, display_name: str = ""
    ) -> tuple[Customer, bool]:
        """The customer behind ``address`` on ``channel``, created when first seen."""
        try:
            async with self._write() as session:
                found = await self._customer_by_address(session, channel, address)
                if found is not None:
                    return _customer(found), False
                now = datetime.now(UTC)
                row = CustomerRow(
                    id=str(uuid.uuid4()),
                    display_name=display_name,
                    preferred_language="",
                    created_at=now,
                )
                session.add(row)
                await session.flush()
                inserted = await session.execute(
                    self._insert(IdentityRow)
                    .values(customer_id=row.id, channel=channel, address=address, created_at=now)
                    .on_conflict_do_nothing()
                )
                if cast("CursorResult[Any]", inserted).rowcount != 1:
                    raise _LostRaceError
                return _customer(row), True
        except _LostRaceError:
            pass  # another writer created this identity first; our customer row rolled back
        async with self._write() as session:
            found = await self._customer_by_address(session, channel, address)
            assert found is not None
            return _customer(found), False

    @staticmethod
    async def _customer_by_address(
        session: AsyncSession, channel: int, address: str
    ) -> CustomerRow | None:
        return (
            await session.execute(
                select(CustomerRow)
                .join(IdentityRow, IdentityRow.customer_id == CustomerRow.id)
                .where(IdentityRow.channel == channel, IdentityRow.address == address)
            )
        ).scalar_one_or_none()

    async def append_turn(self, customer_id: str, turn: NewTurn) -> tuple[Turn, bool]:
        """Store ``turn`` with the next sequence number; a known event id returns the stored one."""
        for _ in range(3):
            try:
                return await self._append_once(customer_id, turn)
            except IntegrityError:
                # A concurrent writer stored the same event id; the next pass reads it back.
                continue
        raise RuntimeError(f"could not append turn {turn.event_id}")

    async def _append_once(self, customer_id: str, turn: NewTurn) -> tuple[Turn, bool]:
        async with self._write() as session:
            existing = await session.get(TurnRow, turn.event_id)
            if existing is not None:
                return _turn(existing), False
            if await session.get(CustomerRow, customer_id) is None:
                raise UnknownCustomerError(customer_id)
            await session.execute(
                self._insert(ConversationRow)
                .values(
                    id=turn.conversation_id,
                    customer_id=customer_id,
                    channel=turn.channel,
                    last_sequence=0,
                    created_at=turn.occurred_at,
                )
                .on_conflict_do_nothing()
            )
            sequence = (
                await session.execute(
                    update(ConversationRow)
                    .where(ConversationRow.id == turn.conversation_id)
                    .values(last_sequence=ConversationRow.last_sequence + 1)
                    .returning(ConversationRow.last_sequence)
                )
            ).scalar_one()
            emotion = turn.emotion
            row = TurnRow(
                event_id=turn.event_id,
                conversation_id=turn.conversation_id,
                customer_id=customer_id,
                sequence=sequence,
                role=turn.role,
                channel=turn.channel,
                text=turn.text,
                language=turn.language,
                occurred_at=turn.occurred_at,
                dominant_emotion=emotion.dominant_emotion if emotion else None,
                emotion_intensity=emotion.intensity if emotion else None,
                sentiment_score=emotion.sentiment_score if emotion else None,
            )
            session.add(row)
            await session.flush()
            return _turn(row), True

    async def get_context(self, customer_id: str, max_turns: int) -> Context:
        """The customer, their latest turns on every channel, and how often they came lately."""
        async with self._sessions() as session:
            customer = await session.get(CustomerRow, customer_id)
            if customer is None:
                raise UnknownCustomerError(customer_id)
            latest = (
                (
                    await session.execute(
                        select(TurnRow)
                        .where(TurnRow.customer_id == customer_id)
                        .order_by(TurnRow.occurred_at.desc(), TurnRow.sequence.desc())
                        .limit(max_turns)
                    )
                )
                .scalars()
                .all()
            )
            since = datetime.now(UTC) - REPEAT_CONTACT_WINDOW
            contacts = (
                await session.execute(
                    select(func.count(func.distinct(TurnRow.conversation_id))).where(
                        TurnRow.customer_id == customer_id, TurnRow.occurred_at >= since
                    )
                )
            ).scalar_one()
            return Context(_customer(customer), [_turn(r) for r in reversed(latest)], contacts)

    async def list_turns(self, conversation_id: str) -> list[Turn]:
        async with self._sessions() as session:
            rows = (
                (
                    await session.execute(
                        select(TurnRow)
                        .where(TurnRow.conversation_id == conversation_id)
                        .order_by(TurnRow.sequence)
                    )
                )
                .scalars()
                .all()
            )
            return [_turn(r) for r in rows]
