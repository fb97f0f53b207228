"""The services' database engines: SQLite by default, PostgreSQL (asyncpg) when the URL
names it, and their Alembic migrations run at start-up, so a fresh database is ready to
use and an old one is brought up to date. Each service owns its own database and
migrations (the context store, the agent desk); this is only the plumbing they share.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def async_url(url: str) -> str:
    """``sqlite:///x`` or ``postgresql://...`` with the asyncio driver the store uses."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return parsed.set(drivername=_ASYNC_DRIVERS[backend]).render_as_string(hide_password=False)


def create_engine(url: str) -> AsyncEngine:
    """An engine for ``url``.

    For SQLite the file's folder is created and WAL mode lets readers run beside the writer.
    """
    engine_url = make_url(async_url(url))
    if engine_url.get_backend_name() != "sqlite":
        # No pre-ping: it costs a round trip per transaction. A connection the server
        # dropped fails one call and is discarded; recycling keeps them younger than
        # typical idle timeouts.
        return create_async_engine(engine_url, pool_recycle=1800, pool_size=10)
    if engine_url.database and engine_url.database != ":memory:":
        Path(engine_url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(engine_url, connect_args={"timeout": 30})
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL never corrupts the file; it syncs at checkpoints, not each commit.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def sync_sqlite_engine(engine: AsyncEngine) -> Engine:
    """A plain-driver engine on the same SQLite file, for work run whole in one thread."""
    url = engine.url.set(drivername="sqlite")
    sync_engine = create_sync_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    event.listen(sync_engine, "connect", _sqlite_pragmas)
    return sync_engine


def _upgrade(migrations: Path, connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine, migrations: Path) -> None:
    """Bring the schema to the latest migration of the ``migrations`` folder."""
    async with engine.begin() as connection:
        await connection.run_sync(partial(_upgrade, migrations))
