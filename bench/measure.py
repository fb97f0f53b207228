"""What every benchmark needs: a free loopback port, percentiles, and CPU time per process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from infra.postgres import PostgresCluster


def percentile(ordered: list[float], fraction: float) -> float:
    """The value at ``fraction`` (0..1) of an already sorted list (nearest rank)."""
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


async def create_database(server_url: str, name: str) -> str:
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@contextlib.contextmanager
def bench_database(backend: str, sqlite_file: str) -> Iterator[str]:
    """A fresh database's URL: a SQLite file, or a database on a PostgreSQL server of its
    own ("postgresql"), removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix=f"rapport-bench-{backend}-"))
    cluster: PostgresCluster | None = None
    try:
        if backend == "sqlite":
            yield f"sqlite:///{workdir / sqlite_file}"
        else:
            cluster = PostgresCluster(workdir, durable=True)
            cluster.start()
            yield asyncio.run(create_database(cluster.url, "bench"))
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
