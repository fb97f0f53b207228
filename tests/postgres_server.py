"""Pytest plugin giving tests a real PostgreSQL server from Debian's packages (infra/postgres.py).

With ``TEST_POSTGRES_URL`` set (``postgresql://user:pass@host:port/db``), tests use that
server. Otherwise a throwaway cluster is created with ``initdb`` in a temporary folder
and started on a free port on 127.0.0.1 (as the ``postgres`` system user when the tests
run as root, since PostgreSQL refuses to run as root). A server that cannot start fails
the tests: a store tested only on SQLite is not tested on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from infra.postgres import PostgresCluster


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL server (database ``postgres``) shared by the test session."""
    external = os.environ.get("TEST_POSTGRES_URL")
    if external:
        yield external
        return
    # Not under pytest's own temp root: that is private to the user running the tests,
    # and the server runs as ``postgres``.
    directory = Path(tempfile.mkdtemp(prefix="rapport-postgres-"))
    cluster = PostgresCluster(directory)
    try:
        cluster.start()
        yield cluster.url
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
def fresh_postgres_database(postgres_url: str) -> Iterator[str]:
    """A new, empty database on the session's server, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_url, f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def email_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The email adapter's store: on the embedded default and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'email.sqlite3'}"
    return str(request.getfixturevalue("fresh_postgres_database"))
