"""What the desk's own database keeps about one customer: found for an export, deleted
for an erasure.

The desk keeps customers' data in its tickets (the handoff packet whole: name, addresses,
what the bot said, the summary, the emotion trajectory and the reasons; the sentiment
taken at resolve) and their history, the handoffs it took, the messages it sent (text and
address), the ratings (the customer's comment), the conversations it saw start, the
customers' service tiers, agents' corrections of what the models read in their messages
(with the text), their feedback after a rating (their words, and the reading of them),
the whole of the emails they wrote (with the subjects), and the outbox's events (an
agent's reply or a notice, with the customer's address). Some rows name the customer,
others only a conversation, so they are found by every id and conversation the context
service knows the customer by (``Customer``, from its ``FindCustomers``); an event in the
outbox is read to see whom it is about.

Erasing deletes them all, and writes the audit entry saying who did it, in one
transaction: either the desk forgot the customer and says so, or nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.agent_desk.models import (
    AuditEntry,
    ConversationSeen,
    Correction,
    CustomerEmail,
    CustomerTier,
    Feedback,
    HandoffEvent,
    OutboxEvent,
    OutgoingMessage,
    Rating,
    Ticket,
    TicketEvent,
)
from services.agent_desk.outbox import event_of
from shared.kafka.codec import envelope_of


@dataclass(frozen=True)
class Customer:
    """Whom to look for: the customer's ids (theirs and those merged into them) and their
    conversations on every channel."""

    customer_ids: frozenset[str]
    conversation_ids: frozenset[str]

    def named_in(self, event: OutboxEvent) -> bool:
        """Whether an outbox event is about this customer."""
        envelope = envelope_of(event_of(event))
        return (
            envelope.customer.customer_id in self.customer_ids
            or envelope.conversation_id in self.conversation_ids
        )


@dataclass(frozen=True)
class DeskRows:
    """Every row of the desk's that carries the customer, by table."""

    tickets: list[Ticket]
    ticket_history: list[TicketEvent]
    handoff_events: list[HandoffEvent]
    outgoing_messages: list[OutgoingMessage]
    ratings: list[Rating]
    conversations_seen: list[ConversationSeen]
    customer_tiers: list[CustomerTier]
    outbox: list[OutboxEvent]
    corrections: list[Correction]
    feedback: list[Feedback]
    emails: list[CustomerEmail]

    def by_table(self) -> dict[str, list[Any]]:
        return {
            Ticket.__tablename__: self.tickets,
            TicketEvent.__tablename__: self.ticket_history,
            HandoffEvent.__tablename__: self.handoff_events,
            OutgoingMessage.__tablename__: self.outgoing_messages,
            Rating.__tablename__: self.ratings,
            ConversationSeen.__tablename__: self.conversations_seen,
            CustomerTier.__tablename__: self.customer_tiers,
            OutboxEvent.__tablename__: self.outbox,
            Correction.__tablename__: self.corrections,
            Feedback.__tablename__: self.feedback,
            CustomerEmail.__tablename__: self.emails,
        }

    def counts(self) -> dict[str, int]:
        return {table: len(rows) for table, rows in self.by_table().items()}


class CustomerData:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def rows(self, customer: Customer) -> DeskRows:
        """What the desk holds about the customer."""
        async with self._sessions() as session:
            return await _rows(session, customer)

    async def note(self, audit: AuditEntry) -> None:
        """Record an action on a customer's data that changed nothing of the desk's."""
        async with self._sessions() as session, session.begin():
            session.add(audit)

    async def erase(self, customer: Customer, audit: Callable[[DeskRows], AuditEntry]) -> DeskRows:
        """Delete every row about the customer and record ``audit`` of what was found, in
        one transaction; the rows as they were (the tickets, to tell browsers they went)."""
        async with self._sessions() as session, session.begin():
            found = await _rows(session, customer)
            tickets = [t.id for t in found.tickets]
            # Children before parents, so foreign keys hold at every statement.
            await _delete(session, OutboxEvent, OutboxEvent.id, [e.id for e in found.outbox])
            await _delete(session, TicketEvent, TicketEvent.ticket_id, tickets)
            await _delete(session, HandoffEvent, HandoffEvent.ticket_id, tickets)
            await _delete(
                session,
                OutgoingMessage,
                OutgoingMessage.send_event_id,
                [m.send_event_id for m in found.outgoing_messages],
            )
            await _delete(session, Rating, Rating.event_id, [r.event_id for r in found.ratings])
            await _delete(session, Ticket, Ticket.id, tickets)
            await _delete(
                session,
                ConversationSeen,
                ConversationSeen.conversation_id,
                [c.conversation_id for c in found.conversations_seen],
            )
            await _delete(session, CustomerTier, CustomerTier.customer_id, customer.customer_ids)
            await _delete(session, Correction, Correction.id, [c.id for c in found.corrections])
            given = [f.event_id for f in found.feedback]
            await _delete(session, Feedback, Feedback.event_id, given)
            emails = [e.event_id for e in found.emails]
            await _delete(session, CustomerEmail, CustomerEmail.event_id, emails)
            session.add(audit(found))
        return found


_AboutCustomer = TypeVar("_AboutCustomer", Ticket, Correction, Feedback, CustomerEmail)


async def _of_customer(
    session: AsyncSession, customer: Customer, model: type[_AboutCustomer], order: Any
) -> list[_AboutCustomer]:
    """``model``'s rows about the customer: by their ids, or in their conversations."""
    return list(
        await session.scalars(
            select(model)
            .where(
                or_(
                    model.customer_id.in_(customer.customer_ids),
                    model.conversation_id.in_(customer.conversation_ids),
                )
            )
            .order_by(order)
        )
    )


async def _rows(session: AsyncSession, customer: Customer) -> DeskRows:
    conversations = customer.conversation_ids
    tickets = await _of_customer(session, customer, Ticket, Ticket.handed_off_at)
    ticket_ids = [t.id for t in tickets]
    history = await session.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id.in_(ticket_ids))
        .order_by(TicketEvent.at, TicketEvent.id)
    )
    handoffs = await session.scalars(
        select(HandoffEvent)
        .where(HandoffEvent.ticket_id.in_(ticket_ids))
        .order_by(HandoffEvent.received_at)
    )
    messages = await session.scalars(
        select(OutgoingMessage)
        .where(
            or_(
                OutgoingMessage.ticket_id.in_(ticket_ids),
                OutgoingMessage.conversation_id.in_(conversations),
            )
        )
        .order_by(OutgoingMessage.created_at)
    )
    ratings = await session.scalars(
        select(Rating)
        .where(or_(Rating.ticket_id.in_(ticket_ids), Rating.conversation_id.in_(conversations)))
        .order_by(Rating.rated_at)
    )
    seen = await session.scalars(
        select(ConversationSeen)
        .where(ConversationSeen.conversation_id.in_(conversations))
        .order_by(ConversationSeen.started_at)
    )
    tiers = await session.scalars(
        select(CustomerTier).where(CustomerTier.customer_id.in_(customer.customer_ids))
    )
    corrections = await _of_customer(session, customer, Correction, Correction.created_at)
    feedback = await _of_customer(session, customer, Feedback, Feedback.given_at)
    emails = await _of_customer(session, customer, CustomerEmail, CustomerEmail.received_at)
    # The outbox keeps events a week after they are sent (outbox.py): few enough to read.
    outbox = await session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))
    return DeskRows(
        tickets=tickets,
        ticket_history=list(history),
        handoff_events=list(handoffs),
        outgoing_messages=list(messages),
        ratings=list(ratings),
        conversations_seen=list(seen),
        customer_tiers=list(tiers),
        outbox=[event for event in outbox if customer.named_in(event)],
        corrections=corrections,
        feedback=feedback,
        emails=emails,
    )


async def _delete(session: AsyncSession, table: type[Any], key: Any, values: Iterable[Any]) -> None:
    keys = list(values)
    if keys:
        await session.execute(delete(table).where(key.in_(keys)))
