"""The desk's transactional outbox: events are written in the transaction that changes the
desk's state and published only after it commits.

Why an outbox rather than publishing after the commit: a process that dies between its
commit and its publish would lose the event for good (a claimed ticket the bot never hears
of, an agent's reply never sent). Here the rows outlive the process: the relay publishes
them oldest first, marks them sent, and on start sends whatever an earlier run left. A
crash between "published" and "marked" publishes the same event again under the same
event id, and consumers dedupe on it (the orchestrator keys every effect of an action on
its id). A failed commit leaves no row, so nothing is published for a change that did not
happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.agent_desk.metrics import OUTBOX_PENDING, OUTBOX_PUBLISHED
from services.agent_desk.models import OutboxEvent
from shared.errors import RapportError
from shared.kafka.codec import envelope_of, validate_envelope
from shared.kafka.producer import Publisher

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class StagedEvents:
    """A :class:`~shared.kafka.producer.Publisher` that writes to the outbox in ``session``:
    the events go out if, and only if, that transaction commits."""

    def __init__(self, session: AsyncSession, now: datetime) -> None:
        self._session = session
        self._now = now

    async def publish(self, topic: str, event: Message) -> None:
        envelope = envelope_of(event)
        validate_envelope(envelope, event.DESCRIPTOR.full_name)  # refused now, not by the relay
        self._session.add(
            OutboxEvent(
                event_id=envelope.event_id,
                topic=topic,
                event_type=event.DESCRIPTOR.full_name,
                payload=event.SerializeToString(),
                created_at=self._now,
            )
        )
        await self._session.flush()  # a repeated event id fails here, inside the transaction


def event_of(row: OutboxEvent) -> Message:
    """The event a row holds, as its own protobuf class."""
    descriptor = descriptor_pool.Default().FindMessageTypeByName(row.event_type)
    return message_factory.GetMessageClass(descriptor).FromString(row.payload)


async def is_staged(session: AsyncSession, event_id: str) -> bool:
    """Whether an event with this id is in the outbox (sent or not)."""
    found = await session.scalar(select(OutboxEvent.id).where(OutboxEvent.event_id == event_id))
    return found is not None


class Outbox:
    """The relay's side of the outbox table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def unsent(self, limit: int) -> list[OutboxEvent]:
        """The oldest events not yet published, in the order they were written."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.sent_at.is_(None))
                .order_by(OutboxEvent.id)
                .limit(limit)
            )
            return list(rows)

    async def mark_sent(self, ids: Sequence[int], now: datetime) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(sent_at=now)
            )

    async def pending(self) -> int:
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(OutboxEvent).where(OutboxEvent.sent_at.is_(None))
            )
            return int(count or 0)

    async def forget_sent_before(self, moment: datetime) -> None:
        """Drop rows published before ``moment``: kept a while to recognise a retried
        action, not forever."""
        async with self._sessions() as session, session.begin():
            await session.execute(delete(OutboxEvent).where(OutboxEvent.sent_at < moment))


class OutboxRelay:
    """Publishes the outbox's events after their transactions committed, oldest first.

    ``ready`` is set by every commit that wrote events, so they leave at once; the relay
    also looks every ``poll_seconds``, which sends what a crashed run, another desk
    process or a broker outage left behind. One event failing stops the pass there, so
    the events of one conversation never overtake each other.
    """

    def __init__(
        self,
        outbox: Outbox,
        publisher: Publisher,
        *,
        ready: asyncio.Event,
        poll_seconds: float,
        retention: timedelta,
        batch_size: int = 100,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self._outbox = outbox
        self._publisher = publisher
        self._ready = ready
        self._poll_seconds = poll_seconds
        self._retention = retention
        self._batch_size = batch_size
        self._clock = clock
        self._pruned_at: datetime | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set; a broker or database outage is waited out."""
        while not stop.is_set():
            self._ready.clear()  # a commit from now on wakes the next pass
            try:
                await self.publish_pending()
                await self._prune()
            except (RapportError, SQLAlchemyError) as exc:
                log.warning("outbox events not published yet, trying again: %s", exc)
            await _first_of(self._ready, stop, within=self._poll_seconds)

    async def publish_pending(self) -> int:
        """Publish every unsent event, oldest first; how many went out."""
        published = 0
        try:
            while rows := await self._outbox.unsent(self._batch_size):
                done: list[int] = []
                try:
                    for row in rows:
                        await self._publisher.publish(row.topic, event_of(row))
                        OUTBOX_PUBLISHED.labels(row.topic).inc()
                        done.append(row.id)
                finally:
                    if done:
                        await self._outbox.mark_sent(done, self._clock())
                published += len(done)
        finally:
            OUTBOX_PENDING.set(await self._outbox.pending())
        return published

    async def _prune(self) -> None:
        now = self._clock()
        if self._pruned_at is None or now - self._pruned_at >= timedelta(hours=1):
            await self._outbox.forget_sent_before(now - self._retention)
            self._pruned_at = now


async def _first_of(ready: asyncio.Event, stop: asyncio.Event, *, within: float) -> None:
    """Wait until either event is set, for ``within`` seconds at most."""
    waits = [asyncio.ensure_future(ready.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waits, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
        for wait in waits:
            with contextlib.suppress(asyncio.CancelledError):
                await wait
