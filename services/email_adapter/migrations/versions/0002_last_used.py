"""When each Message-ID and thread was last used, for the retention

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("messages", "threads")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("last_used", sa.BigInteger(), nullable=False, server_default="0")
            )
            batch_op.create_index(f"ix_{table}_last_used", ["last_used"], unique=False)
        # Rows from before count as used now: their retention starts with this version.
        op.execute(sa.text(f"UPDATE {table} SET last_used = :now").bindparams(now=int(time.time())))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_last_used")
            batch_op.drop_column("last_used")
