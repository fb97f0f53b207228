"""Customers' feedback in their own words after a rating, and the rating's scale (NPS)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scale", sa.Integer(), server_default="1", nullable=False))
    op.create_table(
        "feedback",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("rating_event_id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("scale", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=False),
        sa.Column("dominant_emotion", sa.String(length=32), nullable=False),
        sa.Column("intensity", sa.Float(), nullable=True),
        sa.Column("sentiment_score", sa.Float(), nullable=True),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index("ix_feedback_conversation_id", ["conversation_id"])
        batch_op.create_index("ix_feedback_customer_id", ["customer_id"])
        batch_op.create_index("ix_feedback_given_at", ["given_at"])


def downgrade() -> None:
    op.drop_table("feedback")
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_column("scale")
