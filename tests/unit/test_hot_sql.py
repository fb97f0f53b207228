"""HotStatement on SQLite: the same rows, values and defaults as SQLAlchemy's execution."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import MultipleResultsFound, NoResultFound

from services.context.hot_sql import HotStatement

METADATA = MetaData()
NOTES = Table(
    "notes",
    METADATA,
    Column("id", String(36), primary_key=True),
    Column("written_at", DateTime(timezone=True), nullable=False),
    Column("pinned", Boolean, nullable=False, default=False),
    Column("score", Integer, nullable=False, default=3),
    Column("stamp", String(36), nullable=False, default=lambda: "computed"),
)
MOMENT = datetime(2026, 11, 26, 15, 40, 14, 123456, tzinfo=UTC)


@pytest.fixture
def connection(tmp_path: Path) -> Iterator[Connection]:
    engine = create_engine(f"sqlite:///{tmp_path / 'hot.db'}")
    METADATA.create_all(engine)
    with engine.begin() as connection:
        yield connection
    engine.dispose()


def _note(number: int, **values: Any) -> dict[str, Any]:
    return {
        "id": f"n{number}",
        "written_at": MOMENT + timedelta(minutes=number),
        "pinned": number % 2 == 0,
        "score": number,
        "stamp": "given",
        **values,
    }


def test_rows_come_back_typed_and_named_as_sqlalchemy_reads_them(connection: Connection) -> None:
    add = HotStatement(insert(NOTES))
    for number in range(3):
        assert add(connection, _note(number)).rowcount == 1
    latest = (
        select(NOTES, (NOTES.c.score * 10).label("scaled"))
        .where(NOTES.c.written_at >= bindparam("since"))
        .order_by(NOTES.c.written_at.desc())
        .limit(bindparam("limit"))
    )
    params = {"since": MOMENT + timedelta(minutes=1), "limit": 5}

    hot = list(HotStatement(latest)(connection, params))
    usual = list(connection.execute(latest, params))

    assert [tuple(row) for row in hot] == [tuple(row) for row in usual]
    assert [row.id for row in hot] == ["n2", "n1"]
    assert hot[0].written_at == datetime(2026, 11, 26, 15, 42, 14, 123456)
    assert hot[0].pinned is True and hot[1].pinned is False
    assert [row.scaled for row in hot] == [20, 10]


def test_an_insert_fills_left_out_columns_with_their_scalar_defaults(
    connection: Connection,
) -> None:
    HotStatement(insert(NOTES))(connection, {"id": "n1", "written_at": MOMENT, "stamp": "s"})

    row = connection.execute(select(NOTES)).one()

    assert (row.pinned, row.score, row.stamp) == (False, 3, "s")


def test_a_computed_default_must_be_passed_explicitly(connection: Connection) -> None:
    with pytest.raises(ValueError, match="computed default"):
        HotStatement(insert(NOTES))(connection, {"id": "n1", "written_at": MOMENT})


def test_update_returning_conflicts_and_literals_behave_as_with_sqlalchemy(
    connection: Connection,
) -> None:
    add_once = HotStatement(sqlite.insert(NOTES).on_conflict_do_nothing())
    assert add_once(connection, _note(1)).rowcount == 1
    assert add_once(connection, _note(1, score=9)).rowcount == 0
    bump = HotStatement(
        update(NOTES)
        .where(NOTES.c.id == bindparam("note"))
        .values(score=NOTES.c.score + 5, pinned=func.coalesce(bindparam("pin"), NOTES.c.pinned))
        .returning(NOTES.c.score, NOTES.c.pinned)
    )

    bumped = bump(connection, {"note": "n1", "pin": None}).one()

    assert (bumped.score, bumped.pinned) == (6, False)
    assert bump(connection, {"note": "n1", "pin": True}).one() == (11, True)
    assert bump(connection, {"note": "missing", "pin": None}).first() is None


def test_results_are_read_like_sqlalchemy_results(connection: Connection) -> None:
    add = HotStatement(insert(NOTES))
    for number in range(2):
        add(connection, _note(number))
    count = HotStatement(select(func.count()).where(NOTES.c.score >= bindparam("least")))
    by_id = HotStatement(select(NOTES.c.score).where(NOTES.c.id == bindparam("id")))

    assert count(connection, {"least": 1}).scalar_one() == 1
    assert by_id(connection, {"id": "n1"}).scalar() == 1
    assert by_id(connection, {"id": "nobody"}).scalar() is None
    with pytest.raises(NoResultFound):
        by_id(connection, {"id": "nobody"}).one()
    with pytest.raises(MultipleResultsFound):
        HotStatement(select(NOTES.c.id))(connection, {}).one()


def test_the_statements_join_the_connections_transaction(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'hot.db'}")
    METADATA.create_all(engine)
    add = HotStatement(insert(NOTES))
    with pytest.raises(RuntimeError), engine.begin() as connection:
        add(connection, _note(1))
        raise RuntimeError("roll back")
    with engine.begin() as connection:
        add(connection, _note(2))

    with engine.connect() as connection:
        assert connection.execute(select(NOTES.c.id)).scalars().all() == ["n2"]
    engine.dispose()
