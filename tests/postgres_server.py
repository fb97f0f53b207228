"""Pytest plugin giving tests a real PostgreSQL server from Debian's packages.

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
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

PG_ROOT = Path("/usr/lib/postgresql")


def _binaries() -> Path:
    versions = sorted(PG_ROOT.glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not versions:
        raise RuntimeError(
            "PostgreSQL is not installed: apt-get install postgresql (or set TEST_POSTGRES_URL)"
        )
    return versions[-1].parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresCluster:
    """A temporary PostgreSQL cluster with trust authentication on loopback."""

    def __init__(self, directory: Path) -> None:
        self.bin = _binaries()
        self.directory = directory
        self.data = directory / "data"
        self.port = _free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        self.process: subprocess.Popen[bytes] | None = None

    def _run_as(self) -> dict[str, str]:
        return {"user": self.user, "cwd": str(self.directory)} if self.user else {}

    def start(self) -> None:
        if self.user:
            shutil.chown(self.directory, self.user)
        subprocess.run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            **self._run_as(),  # type: ignore[arg-type]
        )
        with (self.directory / "postgres.log").open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(self.bin / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.directory}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=200",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                **self._run_as(),  # type: ignore[arg-type]
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        log_text = (self.directory / "postgres.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"PostgreSQL did not start on port {self.port}:\n{log_text}")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


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
