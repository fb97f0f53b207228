"""Remember what a customer told the bot (order reference, email, postal code...).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_slots",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.Integer(), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("customer_id", "name"),
    )
    with op.batch_alter_table("customer_slots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_slots_given_at"), ["given_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("customer_slots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_slots_given_at"))
    op.drop_table("customer_slots")
