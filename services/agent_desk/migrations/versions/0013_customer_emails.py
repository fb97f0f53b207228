"""The whole of customers' emails (quoted history and signature kept) and their subjects

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_emails",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("full_text", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("customer_emails", schema=None) as batch_op:
        batch_op.create_index("ix_customer_emails_conversation_id", ["conversation_id"])
        batch_op.create_index("ix_customer_emails_customer_id", ["customer_id"])
        batch_op.create_index("ix_customer_emails_received_at", ["received_at"])


def downgrade() -> None:
    op.drop_table("customer_emails")
