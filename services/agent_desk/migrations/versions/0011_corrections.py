"""Agents' corrections of the emotion and intent read in customers' messages

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "corrections",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("turn_event_id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("turn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detected_emotion", sa.String(length=32), nullable=False),
        sa.Column("detected_intent", sa.String(length=64), nullable=False),
        sa.Column("emotion", sa.String(length=32), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=False),
        sa.Column("model_versions", sa.JSON(), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("corrections", schema=None) as batch_op:
        batch_op.create_index("ix_corrections_conversation_id", ["conversation_id"])
        batch_op.create_index("ix_corrections_customer_id", ["customer_id"])
        batch_op.create_index("ix_corrections_turn_at", ["turn_at"])
        batch_op.create_index("ix_corrections_created_at", ["created_at"])
        batch_op.create_index(
            "ux_corrections_turn_agent", ["turn_event_id", "agent_id"], unique=True
        )


def downgrade() -> None:
    op.drop_table("corrections")
