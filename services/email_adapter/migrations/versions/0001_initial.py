"""Mailbox cursors, Message-IDs seen and sent, conversation threads

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailbox_cursors",
        sa.Column("mailbox", sa.String(length=254), nullable=False),
        sa.Column("folder", sa.String(length=200), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("mailbox", "folder"),
    )
    op.create_table(
        "messages",
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("message_id"),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_conversation_id", ["conversation_id"], unique=False)
    op.create_table(
        "threads",
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("mailbox", sa.String(length=254), nullable=False),
        sa.Column("customer", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("last_inbound_id", sa.String(length=998), nullable=False),
        sa.Column("message_references", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id"),
    )


def downgrade() -> None:
    op.drop_table("threads")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_conversation_id")
    op.drop_table("messages")
    op.drop_table("mailbox_cursors")
