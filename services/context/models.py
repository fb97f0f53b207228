"""Tables of the context store, shared by SQLite and PostgreSQL (migrations create them).

Everything about a customer hangs off ``customer_id``; erasing a customer deletes every
row that carries it. Only two tables outlive an erasure, and they hold keyed hashes,
never identifiers: ``tombstones`` and ``audit_log``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class CustomerRow(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    preferred_language: Mapped[str] = mapped_column(String(16), default="")
    preferred_channel: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    emotion_analysis_allowed: Mapped[bool] = mapped_column(Boolean)
    marketing_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_updated_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class CustomerAliasRow(Base):
    """An id a customer had before being merged into another; old references still resolve."""

    __tablename__ = "customer_aliases"

    alias_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)


class IdentityRow(Base):
    """One address of a customer on one channel; an address belongs to one customer.

    Its consent to be messaged on its channel (SMS STOP and START) is kept here, per
    address rather than per customer: whoever the address is linked or merged with, only
    the address itself changes it, and it moves, is exported and is erased with its row.
    """

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "address", name="uq_identities_channel_address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(200))
    verified: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    consent_updated_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class ConversationRow(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[int] = mapped_column(Integer)
    state: Mapped[int] = mapped_column(Integer, default=1)
    language: Mapped[str] = mapped_column(String(16), default="")
    assignee: Mapped[str] = mapped_column(String(100), default="")
    # The sequence number of the latest turn; bumped in the same transaction as the insert.
    last_sequence: Mapped[int] = mapped_column(Integer, default=0)
    last_customer_turn_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    returned_by: Mapped[str] = mapped_column(String(100), default="", server_default="")
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ContactRow(Base):
    """One episode of a customer getting in touch: a first message, or one after a pause."""

    __tablename__ = "contacts"
    __table_args__ = (Index("ix_contacts_customer_started", "customer_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    channel: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TurnRow(Base):
    __tablename__ = "turns"
    __table_args__ = (
        UniqueConstraint("conversation_id", "sequence", name="uq_turns_conversation_sequence"),
        Index("ix_turns_customer_occurred", "customer_id", "occurred_at"),
        # The empathy map's drill-down: one cell's turns of a period, one index range.
        Index("ix_turns_empathy", "intent", "journey_stage", "occurred_at"),
    )

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    role: Mapped[int] = mapped_column(Integer)
    channel: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16), default="")
    author: Mapped[str] = mapped_column(String(100), default="")
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    dominant_emotion: Mapped[str | None] = mapped_column(String(32), nullable=True)
    emotion_intensity: Mapped[float | None] = mapped_column(Float, nullable=True)
    sentiment_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The bot's decision record (JSON); it holds emotion scores, so it expires with them.
    decision: Mapped[str | None] = mapped_column(Text, nullable=True)
    # What the turn carried besides text (photos, voice notes, files, places), one object
    # each; NULL for the many turns that carry none. A column, not a table: attachments
    # are only ever read with their turn, so storing, reading, merging, exporting,
    # erasing and expiring them costs no statement of its own.
    attachments: Mapped[list[dict[str, Any]] | None] = mapped_column(
        JSON(none_as_null=True), nullable=True
    )
    # What the customer wanted (the emotion service's intent), "" when not analysed.
    intent: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # The journey stage when a customer turn arrived (services.context.journey); NULL
    # for other roles and for turns stored before the empathy map existed.
    journey_stage: Mapped[int | None] = mapped_column(Integer, nullable=True)


class EmpathyPendingRow(Base):
    """A customer turn with an emotion reading, counted for the empathy map in the
    transaction that appended it and not yet folded into ``empathy_cells``. A row of its
    own rather than a bump of the cell's: concurrent appends then never wait on one hot
    row (nor deadlock over two). No customer id, conversation or words."""

    __tablename__ = "empathy_pending"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    channel: Mapped[int] = mapped_column(Integer)
    intent: Mapped[str] = mapped_column(String(64))
    stage: Mapped[int] = mapped_column(Integer)
    emotion: Mapped[str] = mapped_column(String(32))
    intensity: Mapped[float] = mapped_column(Float)
    sentiment: Mapped[float] = mapped_column(Float)


class EmpathyCellRow(Base):
    """The empathy map's totals: customer turns with an emotion reading, per UTC day,
    channel, intent, journey stage and emotion, folded in from ``empathy_pending`` now
    and then. No customer id, conversation or words: it is not personal data, so it
    outlives the turns' retention and erasures (documented in the README)."""

    __tablename__ = "empathy_cells"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[int] = mapped_column(Integer, primary_key=True)
    intent: Mapped[str] = mapped_column(String(64), primary_key=True)
    stage: Mapped[int] = mapped_column(Integer, primary_key=True)
    emotion: Mapped[str] = mapped_column(String(32), primary_key=True)
    turns: Mapped[int] = mapped_column(Integer)
    intensity_sum: Mapped[float] = mapped_column(Float)
    sentiment_sum: Mapped[float] = mapped_column(Float)


class IssueRow(Base):
    __tablename__ = "issues"
    __table_args__ = (Index("ix_issues_customer_open", "customer_id", "open"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    conversation_id: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(64))
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    contacts: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SlotRow(Base):
    """What the customer told the bot (an order reference, an email...): one row per
    customer and name, the newest value. The key leads with the customer, so a context
    reads a customer's slots with one index range."""

    __tablename__ = "customer_slots"

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    conversation_id: Mapped[str] = mapped_column(String(64), default="")
    channel: Mapped[int] = mapped_column(Integer, default=0)
    # When the customer gave it; retention deletes by it, hence the index.
    given_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class LinkChallengeRow(Base):
    """A pending proof that ``customer_id`` owns ``address``: a one-time code, stored hashed."""

    __tablename__ = "link_challenges"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(200))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    consumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TombstoneRow(Base):
    """An erased customer or address, as a keyed hash: stops old events recreating them."""

    __tablename__ = "tombstones"

    subject_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    erased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditRow(Base):
    """Who exported, erased, merged or purged what, and when; subjects as keyed hashes."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    action: Mapped[str] = mapped_column(String(32))
    subject_hash: Mapped[str] = mapped_column(String(64), default="")
    actor: Mapped[str] = mapped_column(String(100), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
