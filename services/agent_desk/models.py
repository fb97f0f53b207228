"""The desk's tables: agents, their sessions, tickets (one per handoff episode), the
customers' ratings, the conversations the desk saw start (the KPIs' denominators), the
audit trail of changes to accounts, the outbox of events waiting to be published, the
messages the desk sent to customers with how far their delivery got, each ticket's history
(where routing put it, who took it, where it overflowed), the customers' service tiers,
their feedback after a rating and the whole of the emails they wrote.

A ticket keeps the latest ``HandoffRequested`` packet whole (``packet``) so the
conversation view can show everything the bot handed over, plus the columns the queue
sorts and filters on and the timestamps and readings the KPI dashboard computes from.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware in and out; SQLite stores no zone, so it is restored as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime}


class Role(StrEnum):
    """What a desk account may do; each role can do everything the ones before it can."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


class TicketStatus(StrEnum):
    WAITING = "waiting"
    CLAIMED = "claimed"
    RETURNED = "returned"
    RESOLVED = "resolved"


OPEN_STATUSES = (TicketStatus.WAITING, TicketStatus.CLAIMED)


class Availability(StrEnum):
    """What an agent says of themselves: only an online agent is given conversations."""

    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


DEFAULT_CAPACITY = 3
"""Conversations a new account holds at once before the desk stops giving it more."""
MAX_CAPACITY = 50


class TicketEventKind(StrEnum):
    """A change in a ticket's history (``TicketEvent``)."""

    QUEUED = "queued"
    CLAIMED = "claimed"
    ASSIGNED = "assigned"  # by a supervisor, or by the desk itself (no actor)
    TRANSFERRED = "transferred"
    OVERFLOWED = "overflowed"
    REQUEUED = "requeued"
    RETURNED = "returned"
    RESOLVED = "resolved"


class AuditAction(StrEnum):
    CREATED = "created"
    EDITED = "edited"
    DEACTIVATED = "deactivated"
    REACTIVATED = "reactivated"
    PASSWORD_RESET = "password reset"
    UNLOCKED = "sign-ins unlocked"
    # A supervisor's or admin's action on a customer's data (``rights.py``), recorded
    # against the account that took it; the customer only by a digest of their id.
    CUSTOMER_EXPORTED = "customer data exported"
    CUSTOMER_ERASED = "customer erased"
    CONSENT_CHANGED = "customer consent changed"


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    team: Mapped[str] = mapped_column(String(64))
    # ISO 639-1 codes the agent writes, and skills as "kind:value" (as in handoffs).
    languages: Mapped[list[str]] = mapped_column(JSON)
    skills: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    # How many conversations the desk gives them at once (they may claim more by hand),
    # and whether they take new ones now (``Availability``), since when.
    capacity: Mapped[int] = mapped_column(Integer, default=DEFAULT_CAPACITY)
    availability: Mapped[str] = mapped_column(String(16), default=Availability.OFFLINE.value)
    availability_since: Mapped[datetime | None]


class DeskSession(Base):
    """A signed-in browser; the cookie holds the token, the table only its SHA-256."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_team_status", "team", "status"),
        Index("ix_tickets_handed_off_at", "handed_off_at"),
    )

    # The event id of the handoff that opened it.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    customer_name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[int] = mapped_column(Integer)
    team: Mapped[str] = mapped_column(String(64))
    priority: Mapped[float] = mapped_column(Float)
    language: Mapped[str] = mapped_column(String(16))
    required_skills: Mapped[list[str]] = mapped_column(JSON)
    # Earlier tickets of the same customer in the repeat window.
    repeat_contacts: Mapped[int] = mapped_column(Integer)
    # The latest HandoffRequested, serialized.
    packet: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), nullable=True)
    handed_off_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    first_reply_at: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    # Every reason code of the handoff that opened it (the dashboard's escalation reasons).
    reason_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The customer's sentiment (-1 to 1) at the conversation's first and last reading,
    # taken when the ticket is resolved.
    sentiment_first: Mapped[float | None] = mapped_column(Float, nullable=True)
    sentiment_last: Mapped[float | None] = mapped_column(Float, nullable=True)
    # When the customer was last told their place in the queue.
    holding_sent_at: Mapped[datetime | None]
    # The latest message the customer wrote while waiting that no notice has answered
    # yet (it came within the burst guard; the desk's sweep answers it).
    unanswered_event_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # When the ticket had waited longer than the desk's limit: the customer got the
    # apology, the queue shows it overdue.
    overdue_at: Mapped[datetime | None]
    # When it joined its team's queue (its handoff, or its overflow from another team):
    # the overflow's wait counts from here.
    team_since: Mapped[datetime]
    # Labels agents put on it (by a macro), shown in the queue: "refund", "vip".
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # How upset the customer was at its latest handoff (0 to 1; None: no readings), from
    # their own messages only: what an agent taking it carries (``load.py``).
    emotional_intensity: Mapped[float | None] = mapped_column(Float, nullable=True)


class HandoffEvent(Base):
    """Every handoff event id seen: the consumer's idempotency record."""

    __tablename__ = "handoff_events"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"))
    received_at: Mapped[datetime]


class Rating(Base):
    """A customer's CSAT or NPS answer (``SatisfactionRated``), keyed by its event id."""

    __tablename__ = "ratings"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # The resolved ticket it rates; None when the desk never saw the conversation.
    ticket_id: Mapped[str | None] = mapped_column(ForeignKey("tickets.id"), nullable=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    # As the orchestrator knows them: not a foreign key, the agent may be gone.
    agent_id: Mapped[str] = mapped_column(String(36), index=True)
    channel: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text)
    rated_at: Mapped[datetime] = mapped_column(index=True)
    # ``rapport.events.v1.RatingScale``: 1 CSAT (score 1-5), 2 NPS (score 0-10).
    scale: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class ConversationSeen(Base):
    """A conversation the desk saw a customer message in: how many the bot handled."""

    __tablename__ = "conversations_seen"

    conversation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(index=True)


class AuditEntry(Base):
    """One change to an account: who made it, when, and each field's before and after;
    or an account's export, erasure or consent change of a customer's data (``agent_id``
    is then the account that did it).

    Never a password or its hash: a reset is recorded by its action alone.
    """

    __tablename__ = "account_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    # None: the command line (``python -m services.agent_desk ...``).
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), nullable=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    # {field: [before, after]}
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)


class OutboxEvent(Base):
    """An event written in the same transaction as the change it announces, published by
    the relay once that transaction has committed (``outbox.py``).

    ``id`` is the publishing order; ``event_id`` is unique, so an action done twice (a
    double submit, a retried POST) leaves one row, and the relay's repeat after a crash
    carries the same id, which consumers dedupe on.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    topic: Mapped[str] = mapped_column(String(249))
    # The protobuf full name of the event, and the event serialized.
    event_type: Mapped[str] = mapped_column(String(200))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    # None until the broker acknowledged it.
    sent_at: Mapped[datetime | None] = mapped_column(index=True)


class OutgoingMessage(Base):
    """A message the desk had sent to a customer (an agent's reply, a queue-position
    message) and its delivery as the channel adapters report it (``delivery.py``).

    Keyed by the ``SendMessage`` event id, which the desk derives when it writes the
    action, so the report on ``rapport.delivery.v1`` finds it; the platform's message id
    then finds it again from the platform's own receipts.
    """

    __tablename__ = "outgoing_messages"

    send_event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    # Where it went: the channel and the customer's address there.
    channel: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(320))
    # "agent" or "bot"; the agent's id (None for the bot) and the name the customer saw.
    sender: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    author_name: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    # The image or PDF an agent attached, as the desk keeps it (``attachments.Outgoing``:
    # its ``desk:upload/…`` reference, type, size, name); None for text alone. The link
    # the adapters fetch it by is minted from it for each send.
    attachment: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The failed message this one sends again (a retry, or the same words elsewhere);
    # unique: a message is sent again once, and the new one can be in its turn.
    resend_of: Mapped[str | None] = mapped_column(
        ForeignKey("outgoing_messages.send_event_id"), nullable=True, unique=True
    )
    status: Mapped[str] = mapped_column(String(16))
    # Why it failed or was refused (``delivery.Problem``), with the adapter's words.
    problem: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error_code: Mapped[str] = mapped_column(String(64), default="")
    error_message: Mapped[str] = mapped_column(Text, default="")
    provider_message_id: Mapped[str | None] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TicketEvent(Base):
    """One change in a ticket's life, written in the transaction that makes it: the
    conversation page shows them among the turns, and the latest automatic assignment of
    a team is where its round-robin goes on from."""

    __tablename__ = "ticket_history"
    __table_args__ = (
        Index("ix_ticket_history_team_kind", "team", "kind"),
        Index("ix_ticket_history_agent_at", "agent_id", "at"),  # an agent's recent load
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Goes with its ticket when retention or an erasure removes the ticket.
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    # Who did it; None: the desk itself (routing, automatic assignment, overflow).
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), nullable=True)
    # The agent it went to (claimed, assigned, transferred) or came back from (requeued).
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), nullable=True)
    # The ticket's team after the change, and before it when it moved.
    team: Mapped[str] = mapped_column(String(64))
    from_team: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Why, in words: the routing rule, the assignment mode, the overflow's wait.
    detail: Mapped[str] = mapped_column(String(200), default="")


class CustomerTier(Base):
    """A customer's service tier ("gold"), which routing rules may send to a team.

    Neither the handoff nor the context service carries one, so the desk keeps it, set
    by an operator (``python -m services.agent_desk set-tier``); a customer without a row
    has no tier.
    """

    __tablename__ = "customer_tiers"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tier: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime]


class CannedResponse(Base):
    """A reply agents insert from the reply box (``canned.py``): a team's, shared by its
    members, or one agent's own."""

    __tablename__ = "canned_responses"
    __table_args__ = (
        Index("ux_canned_responses_scope_shortcut", "scope", "shortcut", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # "team:<team>" or "agent:<agent id>": who sees it, and whose shortcuts it shares.
    scope: Mapped[str] = mapped_column(String(80))
    shortcut: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(100))
    # {language code: text with {placeholders}}
    texts: Mapped[dict[str, str]] = mapped_column(JSON)
    # The macro's steps as written ("resolve", "tag:refund"); empty for a plain response.
    actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Correction(Base):
    """An agent's correction of the emotion and/or intent the models read in a customer's
    message (``corrections.py``): training data, kept with the text it labels.

    It holds what the customer wrote, so it lives no longer than their messages do (the
    retention deletes it with them, and strips its emotion labels with their emotion
    data) and goes when the customer is erased. One per turn and agent: a later
    correction replaces the agent's earlier one.
    """

    __tablename__ = "corrections"
    __table_args__ = (Index("ux_corrections_turn_agent", "turn_event_id", "agent_id", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    turn_event_id: Mapped[str] = mapped_column(String(36))
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16), default="")
    # When the customer wrote it: the retention counts from here, as for the turn.
    turn_at: Mapped[datetime] = mapped_column(index=True)
    # What the models read ("" when nothing was read or retention removed it), and the
    # agent's labels ("" for a head left as detected).
    detected_emotion: Mapped[str] = mapped_column(String(32), default="")
    detected_intent: Mapped[str] = mapped_column(String(64), default="")
    emotion: Mapped[str] = mapped_column(String(32), default="")
    intent: Mapped[str] = mapped_column(String(64), default="")
    # {emotion-service head: model version} of the decision behind the reading.
    model_versions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[datetime] = mapped_column(index=True)


class Feedback(Base):
    """What a customer wrote when asked, after rating, what could be done better
    (``FeedbackGiven``), with the reading of it: the pain points on the dashboard.

    It holds the customer's words, so it lives no longer than their messages do, loses
    its emotion reading with their emotion data (``feedback_store.expire_feedback``) and
    goes when the customer is erased. No foreign key to the ticket: it outlives none.
    """

    __tablename__ = "feedback"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    rating_event_id: Mapped[str] = mapped_column(String(36))
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    channel: Mapped[int] = mapped_column(Integer)
    # The rating it follows, on its scale (``Rating.scale``).
    score: Mapped[int] = mapped_column(Integer)
    scale: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16), default="")
    intent: Mapped[str] = mapped_column(String(64), default="")
    # "" and None when the customer opted out, nothing was read, or retention removed it.
    dominant_emotion: Mapped[str] = mapped_column(String(32), default="")
    intensity: Mapped[float | None] = mapped_column(Float, nullable=True)
    sentiment_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    given_at: Mapped[datetime] = mapped_column(index=True)


class CustomerEmail(Base):
    """An email as the customer sent it (``MessageReceived.full_text``, with its subject),
    kept when the message's analysed ``text`` is only their new words: the context
    service stores those, so the agent reading the conversation sees the rest from here.

    It holds the customer's words, so it lives no longer than their messages do and goes
    when the customer is erased (``whole_emails.py``). Kept for every email, because the
    handoff that opens a ticket comes after the message it follows.
    """

    __tablename__ = "customer_emails"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    subject: Mapped[str] = mapped_column(Text)
    full_text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(index=True)
