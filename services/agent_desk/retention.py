"""The desk keeps customers' data no longer than the context service promises to.

The periods are the context service's (``RAPPORT_CONTEXT_EMOTION_RETENTION_DAYS``, 30, and
``RAPPORT_CONTEXT_MESSAGE_RETENTION_DAYS``, 365), read under the same names unless the
desk is given its own, so one setting keeps both stores' promise:

- **Emotion data** goes first: a ticket handed off more than the emotion period ago loses
  the handoff's trajectory, trend and reasons (their explanations quote the readings) and
  its summary (it names the mood), the sentiment taken at resolve and the intensity taken
  at handoff (``load.py``). The reason codes stay: the dashboard counts them, and they
  say why, not how the customer felt.
- **Everything else** goes with the messages: a ticket handed off and last changed more
  than the message period ago is deleted with what hangs off it (its history, the
  handoffs it took, the messages it sent, its rating); so are older messages, ratings and
  conversations seen on their own. A customer's service tier is the business's setting,
  not something they said: it stays until they are erased or an operator changes it.
- **Agents' corrections** of a message's emotion or intent hold the message's text: they
  go when the message would (counted from when the customer wrote it), and lose their
  emotion labels when its emotion data goes (``corrections_store.expire_corrections``).
- **Customers' feedback** after a rating (their words) goes with the messages, counted
  from when it was given, and loses its emotion reading with the emotion data
  (``feedback_store.expire_feedback``).
- **The whole of customers' emails** goes with the messages, counted from when it was
  received (``whole_emails.expire_whole_emails``).

Checking every old ticket's packet each time would read a year of tickets every run, so
after its first run (every ticket before the horizon) the periodic task reads only the
tickets handed off or changed since its previous run: a packet or a sentiment only
changes when the ticket does (``updated_at``). The outbox forgets sent events after a
week by itself (``outbox.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from rapport.events.v1 import handoff_pb2
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.agent_desk.config import AgentDeskSettings
from services.agent_desk.corrections_store import expire_corrections
from services.agent_desk.feedback_store import expire_feedback
from services.agent_desk.models import (
    ConversationSeen,
    HandoffEvent,
    OutgoingMessage,
    Rating,
    Ticket,
    TicketEvent,
)
from services.agent_desk.whole_emails import expire_whole_emails

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

BATCH = 500
"""Tickets read at a time: a first run reads every ticket older than the horizon."""

OVERLAP = timedelta(minutes=5)
"""How far back a run also looks at changes before the previous run, so a change whose
transaction had not committed when that run read is not missed."""


@dataclass(frozen=True)
class RetentionPolicy:
    emotion: timedelta
    messages: timedelta

    def __post_init__(self) -> None:
        if self.emotion >= self.messages:
            raise ValueError("emotion data must be kept for less time than messages")


@dataclass(frozen=True)
class RetentionReport:
    emotion_removed: int
    tickets_removed: int
    messages_removed: int
    ratings_removed: int
    conversations_removed: int
    corrections_removed: int
    feedback_removed: int
    emails_removed: int


def without_emotion(packet: handoff_pb2.HandoffRequested) -> handoff_pb2.HandoffRequested | None:
    """The handoff packet with its emotion data removed, or None when it has none."""
    if not (packet.trajectory or packet.trend or packet.reasons or packet.summary):
        return None
    kept = handoff_pb2.HandoffRequested()
    kept.CopyFrom(packet)
    for field in ("trajectory", "trend", "reasons", "summary"):
        kept.ClearField(field)
    return kept


def retention_of(settings: AgentDeskSettings, engine: AsyncEngine) -> DeskRetention:
    """The desk's retention with the periods its settings promise."""
    return DeskRetention(
        engine,
        RetentionPolicy(
            emotion=timedelta(days=settings.emotion_retention_days),
            messages=timedelta(days=settings.message_retention_days),
        ),
    )


class DeskRetention:
    def __init__(self, engine: AsyncEngine, policy: RetentionPolicy) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._policy = policy

    async def apply(self, now: datetime, since: datetime | None = None) -> RetentionReport:
        """Remove what is older than the policy keeps; ``since`` is when a previous run
        started, whose tickets need not be read again (None: read every old ticket)."""
        async with self._sessions() as session, session.begin():
            removed = await self._remove_old(session, now - self._policy.messages)
            stripped = await self._strip_emotion(session, now - self._policy.emotion, since)
            corrections = await expire_corrections(
                session, now - self._policy.emotion, now - self._policy.messages
            )
            feedback = await expire_feedback(
                session, now - self._policy.emotion, now - self._policy.messages
            )
            emails = await expire_whole_emails(session, now - self._policy.messages)
        return RetentionReport(stripped, *removed, corrections, feedback, emails)

    async def _strip_emotion(
        self, session: AsyncSession, horizon: datetime, since: datetime | None
    ) -> int:
        query = select(
            Ticket.id,
            Ticket.packet,
            Ticket.sentiment_first,
            Ticket.sentiment_last,
            Ticket.emotional_intensity,
        )
        query = query.where(Ticket.handed_off_at < horizon)
        if since is not None:
            looked = since - OVERLAP
            query = query.where(
                or_(
                    Ticket.handed_off_at >= looked - self._policy.emotion,
                    Ticket.updated_at >= looked,
                )
            )
        stripped, after = 0, ""
        while batch := (
            await session.execute(query.where(Ticket.id > after).order_by(Ticket.id).limit(BATCH))
        ).all():
            for ticket_id, packet, *readings in batch:
                kept = without_emotion(handoff_pb2.HandoffRequested.FromString(packet))
                if kept is None and all(reading is None for reading in readings):
                    continue
                values: dict[str, object] = {
                    "sentiment_first": None,
                    "sentiment_last": None,
                    "emotional_intensity": None,
                }
                if kept is not None:
                    values["packet"] = kept.SerializeToString()
                # Not a change of the ticket's own: updated_at stays as it was.
                await session.execute(update(Ticket).where(Ticket.id == ticket_id).values(**values))
                stripped += 1
            after = batch[-1][0]
        return stripped

    @staticmethod
    async def _remove_old(session: AsyncSession, horizon: datetime) -> tuple[int, int, int, int]:
        """Delete tickets (and what hangs off them), messages, ratings and conversations
        seen older than ``horizon``: (tickets, messages, ratings, conversations)."""
        old_tickets = select(Ticket.id).where(
            Ticket.handed_off_at < horizon, Ticket.updated_at < horizon
        )
        old_messages = select(OutgoingMessage.send_event_id).where(
            or_(
                OutgoingMessage.created_at < horizon,
                OutgoingMessage.ticket_id.in_(old_tickets),
            )
        )
        # A newer message sent again in place of an old one forgets which one it was.
        await session.execute(
            update(OutgoingMessage)
            .where(OutgoingMessage.resend_of.in_(old_messages))
            .values(resend_of=None)
            .execution_options(synchronize_session=False)
        )
        messages = await session.execute(
            delete(OutgoingMessage)
            .where(OutgoingMessage.send_event_id.in_(old_messages))
            .execution_options(synchronize_session=False)
        )
        ratings = await session.execute(
            delete(Rating)
            .where(or_(Rating.rated_at < horizon, Rating.ticket_id.in_(old_tickets)))
            .execution_options(synchronize_session=False)
        )
        for child in (HandoffEvent, TicketEvent):
            await session.execute(
                delete(child)
                .where(child.ticket_id.in_(old_tickets))
                .execution_options(synchronize_session=False)
            )
        tickets = await session.execute(
            delete(Ticket)
            .where(Ticket.handed_off_at < horizon, Ticket.updated_at < horizon)
            .execution_options(synchronize_session=False)
        )
        seen = await session.execute(
            delete(ConversationSeen)
            .where(ConversationSeen.started_at < horizon)
            .execution_options(synchronize_session=False)
        )
        return (
            int(tickets.rowcount),  # type: ignore[attr-defined]
            int(messages.rowcount),  # type: ignore[attr-defined]
            int(ratings.rowcount),  # type: ignore[attr-defined]
            int(seen.rowcount),  # type: ignore[attr-defined]
        )

    async def run(self, interval: timedelta, stop: asyncio.Event, clock: Clock) -> None:
        """Apply the policy now and then every ``interval`` until ``stop`` is set; a failed
        run is tried again at the next interval (and reads as much as it would have)."""
        since: datetime | None = None
        while not stop.is_set():
            started = clock()
            try:
                report = await self.apply(started, since)
            except SQLAlchemyError as exc:
                log.warning("retention not applied, trying again later: %s", exc)
            else:
                since = started
                log.info("retention removed %s", asdict(report))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval.total_seconds())
