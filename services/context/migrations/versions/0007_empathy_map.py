"""The empathy map: each turn's intent and journey stage, and the map's running totals.

``turns`` gets ``intent`` ("" for turns stored before) and ``journey_stage`` (NULL for
them: the conversation's state when they arrived is not known any more), with the index
the map's drill-down reads; ``empathy_pending`` (turns counted, not yet folded) and
``empathy_cells`` (the totals) start empty, so the map counts turns appended from this
migration on.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("turns", recreate="never") as batch:
        batch.add_column(sa.Column("intent", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("journey_stage", sa.Integer(), nullable=True))
    op.create_index("ix_turns_empathy", "turns", ["intent", "journey_stage", "occurred_at"])
    op.create_table(
        "empathy_pending",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.Integer(), nullable=False),
        sa.Column("intent", sa.String(64), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("emotion", sa.String(32), nullable=False),
        sa.Column("intensity", sa.Float(), nullable=False),
        sa.Column("sentiment", sa.Float(), nullable=False),
    )
    op.create_table(
        "empathy_cells",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("channel", sa.Integer(), primary_key=True),
        sa.Column("intent", sa.String(64), primary_key=True),
        sa.Column("stage", sa.Integer(), primary_key=True),
        sa.Column("emotion", sa.String(32), primary_key=True),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("intensity_sum", sa.Float(), nullable=False),
        sa.Column("sentiment_sum", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("empathy_cells")
    op.drop_table("empathy_pending")
    op.drop_index("ix_turns_empathy", table_name="turns")
    with op.batch_alter_table("turns", recreate="never") as batch:
        batch.drop_column("journey_stage")
        batch.drop_column("intent")
