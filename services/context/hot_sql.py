"""The statements of every message, run on SQLite's own cursor: compiled and typed once.

SQLAlchemy's work around each execution (cache lookup, parameter and result set-up)
costs about four times what SQLite spends running one of the small statements of the
hot path (measured: about 10 µs against 2.5 µs). A message from a new customer runs
eighteen of them in the store's single writer thread, so on SQLite that overhead was
most of the writer's time, and the writer's time is what every message waits for.

A :class:`HotStatement` is still written with SQLAlchemy Core, compiled by SQLAlchemy,
and its values are converted by SQLAlchemy's own column types in both directions: only
the per-execution layer is skipped. On other databases (PostgreSQL, whose time goes to
round trips instead) it runs through SQLAlchemy as usual.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, CursorResult
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import MultipleResultsFound, NoResultFound
from sqlalchemy.sql import Delete, Insert, Select, Update
from sqlalchemy.sql.compiler import SQLCompiler

Statement = Select[Any] | Insert | Update | Delete
Converter = Callable[[Any], Any]

_SQLITE = sqlite.dialect(paramstyle="qmark")


class HotResult:
    """The rows of one execution, read the ways SQLAlchemy's results are on the hot path."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def first(self) -> Any | None:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if not self._rows:
            raise NoResultFound("No row was found when one was required")
        if len(self._rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when exactly one was required")
        return self._rows[0]

    def scalar(self) -> Any | None:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]


class _CompiledForSqlite:
    """A statement compiled for SQLite for one set of parameter names, with the converters
    of its parameters and result columns."""

    def __init__(self, statement: Statement, names: Sequence[str]) -> None:
        compiled = statement.compile(dialect=_SQLITE, column_keys=list(names))
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        # Columns an INSERT leaves out get their scalar defaults, as SQLAlchemy would.
        self.defaults: dict[str, Any] = {}
        for column in compiled.insert_prefetch:
            default = column.default
            if default is None or not default.is_scalar:
                raise ValueError(f"{column} has a computed default; pass it explicitly")
            self.defaults[column.key] = default.arg  # type: ignore[attr-defined]
        # In SQL order: name, converter, and the value of a literal bound in the statement.
        self.parameters: list[tuple[str, Converter | None, Any]] = []
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            converter = bind.type.dialect_impl(_SQLITE).bind_processor(_SQLITE)
            self.parameters.append((name, converter, bind.effective_value))
        self.converters: list[tuple[int, Converter]] = []
        for index, selected in enumerate(statement.exported_columns):
            converter = selected.type.dialect_impl(_SQLITE).result_processor(_SQLITE, None)
            if converter is not None:
                self.converters.append((index, converter))
        self._row_type: Any = None

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        values = {**self.defaults, **params} if self.defaults else params
        arguments = []
        for name, converter, literal in self.parameters:
            value = values[name] if name in values else literal
            arguments.append(value if converter is None else converter(value))
        return arguments

    def rows(self, description: Sequence[Sequence[Any]], raw: list[tuple[Any, ...]]) -> list[Any]:
        """Rows whose values are read by column name, as SQLAlchemy's rows are."""
        if self._row_type is None:
            self._row_type = namedtuple("HotRow", [column[0] for column in description])  # type: ignore[misc]
        if not self.converters:
            return [self._row_type._make(row) for row in raw]
        converted = []
        for row in raw:
            values = list(row)
            for index, converter in self.converters:
                values[index] = converter(values[index])
            converted.append(self._row_type._make(values))
        return converted


class HotStatement:
    """A Core statement that runs on SQLite's cursor directly; elsewhere through SQLAlchemy."""

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, ...], _CompiledForSqlite] = {}

    def __call__(
        self, connection: Connection, params: Mapping[str, Any]
    ) -> HotResult | CursorResult[Any]:
        if connection.dialect.name != "sqlite":
            return connection.execute(self.statement, params)
        names = tuple(params)
        compiled = self._compiled.get(names)
        if compiled is None:
            compiled = self._compiled[names] = _CompiledForSqlite(self.statement, names)
        # The connection's own driver connection: the statement joins its transaction.
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, compiled.arguments(params))
            if cursor.description is None:
                return HotResult([], cursor.rowcount)
            return HotResult(compiled.rows(cursor.description, cursor.fetchall()), cursor.rowcount)
        finally:
            cursor.close()
