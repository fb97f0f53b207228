"""A ticket's emotional intensity (care for agents), and each agent's history by time

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("emotional_intensity", sa.Float(), nullable=True))
    op.create_index("ix_ticket_history_agent_at", "ticket_history", ["agent_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_ticket_history_agent_at", table_name="ticket_history")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("emotional_intensity")
