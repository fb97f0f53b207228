"""Alembic environment: runs on the connection the agent desk hands it."""

from __future__ import annotations

from alembic import context

from services.agent_desk.models import Base

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
