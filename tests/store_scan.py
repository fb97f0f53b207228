"""Reading a whole database back, every column of every row of every table it has (found
by reflection, not from the models), to prove what it holds and what it no longer does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, MetaData, select
from sqlalchemy.ext.asyncio import AsyncEngine


def _text(value: Any) -> str:
    """A column's value as text; bytes as UTF-8 where they are (protobuf keeps strings so)."""
    if value is None:
        return ""
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _read(connection: Connection) -> dict[str, list[str]]:
    metadata = MetaData()
    metadata.reflect(connection)
    return {
        table.name: [" | ".join(_text(v) for v in row) for row in connection.execute(select(table))]
        for table in metadata.sorted_tables
    }


async def every_row(engine: AsyncEngine) -> dict[str, list[str]]:
    """Each table's rows, each as the text of all its columns."""
    async with engine.connect() as connection:
        return await connection.run_sync(_read)


def holding(rows: Mapping[str, list[str]], secrets: Iterable[str]) -> dict[str, list[str]]:
    """Which of ``secrets`` each table still holds (tables holding none left out)."""
    found: dict[str, list[str]] = {}
    for table, texts in rows.items():
        kept = [s for s in secrets if any(s in text for text in texts)]
        if kept:
            found[table] = kept
    return found
