"""Ratings, conversations seen, and the tickets' KPI columns

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reason_codes", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("sentiment_first", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("sentiment_last", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("holding_sent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_tickets_handed_off_at", ["handed_off_at"], unique=False)

    op.create_table(
        "ratings",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("ticket_id", sa.String(length=36), nullable=True),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index("ix_ratings_conversation_id", ["conversation_id"], unique=False)
        batch_op.create_index("ix_ratings_agent_id", ["agent_id"], unique=False)
        batch_op.create_index("ix_ratings_rated_at", ["rated_at"], unique=False)

    op.create_table(
        "conversations_seen",
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    with op.batch_alter_table("conversations_seen", schema=None) as batch_op:
        batch_op.create_index("ix_conversations_seen_started_at", ["started_at"], unique=False)


def downgrade() -> None:
    op.drop_table("conversations_seen")
    op.drop_table("ratings")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_handed_off_at")
        batch_op.drop_column("holding_sent_at")
        batch_op.drop_column("sentiment_last")
        batch_op.drop_column("sentiment_first")
        batch_op.drop_column("reason_codes")
