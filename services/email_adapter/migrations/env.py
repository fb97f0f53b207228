"""Alembic environment: runs on the connection the email adapter's store hands it."""

from __future__ import annotations

from alembic import context

from services.email_adapter.store import METADATA

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=METADATA,
    render_as_batch=True,  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
