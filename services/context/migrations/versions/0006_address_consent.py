"""Keep SMS consent per address (each phone number's STOP and START), not per customer.

Each identity gets ``opted_out`` and ``consent_updated_at``. A customer who had opted out
has every SMS number they have opted out (which number sent STOP was never recorded, so
all of them stay protected); then ``customers.sms_opted_out`` goes, since the
customer-level view is now read from the identities. The column is dropped with
``ALTER TABLE ... DROP COLUMN`` (SQLite 3.35 or later), not by copying ``customers``,
which every other table references.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SMS = 2  # rapport.common.v1.CHANNEL_SMS; proto numbers are never reused

_identities = sa.table(
    "identities",
    sa.column("customer_id", sa.String),
    sa.column("channel", sa.Integer),
    sa.column("opted_out", sa.Boolean),
    sa.column("consent_updated_at", sa.DateTime(timezone=True)),
)
_customers = sa.table(
    "customers",
    sa.column("id", sa.String),
    sa.column("sms_opted_out", sa.Boolean),
    sa.column("consent_updated_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.add_column(
            sa.Column("opted_out", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("consent_updated_at", sa.DateTime(timezone=True), nullable=True))
    opted_out = sa.select(_customers.c.id).where(_customers.c.sms_opted_out.is_(sa.true()))
    since = (
        sa.select(_customers.c.consent_updated_at)
        .where(_customers.c.id == _identities.c.customer_id)
        .scalar_subquery()
    )
    op.execute(
        _identities.update()
        .where(_identities.c.channel == SMS, _identities.c.customer_id.in_(opted_out))
        .values(opted_out=True, consent_updated_at=since)
    )
    with op.batch_alter_table("customers", recreate="never") as batch:
        batch.drop_column("sms_opted_out")


def downgrade() -> None:
    with op.batch_alter_table("customers", recreate="never") as batch:
        batch.add_column(
            sa.Column("sms_opted_out", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    any_number_out = (
        sa.select(_identities.c.customer_id)
        .where(_identities.c.channel == SMS, _identities.c.opted_out.is_(sa.true()))
        .distinct()
    )
    op.execute(
        _customers.update().where(_customers.c.id.in_(any_number_out)).values(sms_opted_out=True)
    )
    with op.batch_alter_table("identities", recreate="never") as batch:
        batch.drop_column("consent_updated_at")
        batch.drop_column("opted_out")
