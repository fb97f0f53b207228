"""The context store's engine: SQLite by default, PostgreSQL when ``DATABASE_URL`` names it
(``shared.database``), with the store's own Alembic migrations."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from shared import database
from shared.database import async_url, create_engine, sync_sqlite_engine

__all__ = ["MIGRATIONS", "async_url", "create_engine", "migrate", "sync_sqlite_engine"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


async def migrate(engine: AsyncEngine) -> None:
    """Bring the context store's schema to its latest migration."""
    await database.migrate(engine, MIGRATIONS)
