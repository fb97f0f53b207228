"""The context store's SQLite reads: asked for together, they share one trip and fail alone."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from sqlalchemy import Connection, text

from services.context.database import create_engine
from services.context.store import Store


async def test_reads_asked_for_together_share_a_connection_and_each_is_answered_alone(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'context.db'}")
    store = Store(engine, hash_key=b"k" * 32)
    connections: list[Connection] = []

    def read(number: int, connection: Connection) -> int:
        connections.append(connection)
        if number == 2:
            raise ValueError("this read fails")
        value = connection.execute(text("SELECT :number * 10"), {"number": number}).scalar_one()
        return int(value)

    try:
        results = await asyncio.gather(
            *(store.run_read(functools.partial(read, number)) for number in range(4)),
            return_exceptions=True,
        )
        later = await store.run_read(functools.partial(read, 5))
    finally:
        await store.close()
        await engine.dispose()

    assert results[:2] == [0, 10] and results[3] == 30
    assert isinstance(results[2], ValueError)
    assert later == 50
    assert all(c is connections[0] for c in connections[:4])  # one trip for the four
    assert connections[4] is not connections[0]  # a later turn makes its own


async def test_a_read_group_that_cannot_reach_the_database_fails_every_read_none_hangs(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'context.db'}")
    store = Store(engine, hash_key=b"k" * 32)
    (tmp_path / "missing" / "dir").rmdir()  # the engine made the folder; the file cannot be

    def read(connection: Connection) -> int:
        return int(connection.execute(text("SELECT 1")).scalar_one())

    try:
        results = await asyncio.wait_for(
            asyncio.gather(store.run_read(read), store.run_read(read), return_exceptions=True),
            timeout=10,
        )
    finally:
        await store.close()
        await engine.dispose()

    assert len(results) == 2 and all(isinstance(r, Exception) for r in results)
