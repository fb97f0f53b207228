"""Routing: agents' capacity and availability, when a ticket joined its team, each
ticket's history, and customers' service tiers

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("capacity", sa.Integer(), nullable=False, server_default="3"))
        batch_op.add_column(
            sa.Column(
                "availability", sa.String(length=16), nullable=False, server_default="offline"
            )
        )
        batch_op.add_column(
            sa.Column("availability_since", sa.DateTime(timezone=True), nullable=True)
        )

    # Tickets already queued joined their team when they were handed off.
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team_since", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE tickets SET team_since = handed_off_at")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.alter_column(
            "team_since", existing_type=sa.DateTime(timezone=True), nullable=False
        )

    op.create_table(
        "ticket_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=36), nullable=True),
        sa.Column("agent_id", sa.String(length=36), nullable=True),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("from_team", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["actor_id"], ["agents.id"]),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ticket_history", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_history_ticket_id", ["ticket_id"], unique=False)
        batch_op.create_index("ix_ticket_history_team_kind", ["team", "kind"], unique=False)

    op.create_table(
        "customer_tiers",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id"),
    )


def downgrade() -> None:
    op.drop_table("customer_tiers")
    op.drop_table("ticket_history")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("team_since")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("availability_since")
        batch_op.drop_column("availability")
        batch_op.drop_column("capacity")
