"""The desk's engine: a SQLite file by default, PostgreSQL (asyncpg) when the URL says so
(``shared.database``), with the desk's own Alembic migrations, run at start-up and
before the CLI writes. The desk owns this database alone; it never reads the context
store's.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from shared import database
from shared.database import create_engine

__all__ = ["MIGRATIONS", "create_engine", "migrate"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


async def migrate(engine: AsyncEngine) -> None:
    """Bring the desk's schema to its latest migration."""
    await database.migrate(engine, MIGRATIONS)
