"""Statements of the hottest paths, built and typed by SQLAlchemy, compiled once and run on
the unit of work's own asyncpg connection.

Why: under load, SQLAlchemy's execution of one small statement (execution context, cursor
result, the greenlet hops, row processing; for an ORM select, loading the entities too) cost
more CPU than the statement's whole round trip through asyncpg:
- 40 % of a 3-row customers page at the points subgraph (bench/api.py, interleaved in one
  process at 16 concurrent requests);
- 1.2 of an award's 2.8 ms of CPU for its two statements, the lock and the record
  (bench/ledger.py, one award at a time).
Building the statement stays SQLAlchemy's (columns, types, the dialect's SQL), and so does the
transaction: the statement runs on the connection the unit of work has already entered as
the tenant, so row-level security applies as to every other statement.

Two ways in:
- ``CompiledStatement.of``: a statement fixed at import (a module constant), run with
  ``run``; a ``text()`` statement gives its result's columns with ``.columns(...)``.
- ``TEMPLATES``: statements that vary in SQL text (which filters, which order, whether a
  cursor), compiled once per shape, the cache key; each request only supplies values by name.
Values and rows go through the columns' own bind and result processors, as SQLAlchemy would
apply them. ``loaded`` turns a row into the entity the session would have loaded.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, NoReturn, TypeVar, cast

from sqlalchemy import Connection, Insert, Select, TextualSelect, inspect
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict, set_committed_value
from sqlalchemy.types import TypeEngine

_DIALECT: Final = asyncpg_dialect()  # type: ignore[no-untyped-call]
_MAX_TEMPLATES: Final = 512

Processor = Callable[[Any], Any] | None
# A write with RETURNING is one too: its rows are what it returns.
Statement = Select[Any] | TextualSelect | Insert
EntityT = TypeVar("EntityT")


@dataclass(slots=True)
class CompiledStatement:
    """One statement, compiled: its SQL with asyncpg's ``$n`` placeholders, the name of the
    value each placeholder takes, and how to type what goes in and what comes out."""

    sql: str
    parameter_names: tuple[str, ...]
    bind_processors: tuple[Processor, ...]
    row_type: type[tuple[Any, ...]]
    column_types: tuple[TypeEngine[Any], ...]
    # Values the statement carries itself (a literal SQLAlchemy made a parameter, the 0 of
    # ``coalesce(max(version), 0)``), by parameter name.
    fixed_values: Mapping[str, Any]
    # The columns whose values need their type's processing (a JSON document, a float for a
    # Decimal), by position: known from the result's column types, at the first fetch.
    processed: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None

    @classmethod
    def of(cls, statement: Statement) -> CompiledStatement:
        """``statement`` compiled; its result's column keys name the rows' fields, so they
        must differ (label them)."""
        compiled = statement.compile(dialect=_DIALECT)
        names = tuple(compiled.positiontup or ())
        binds = compiled.binds
        columns = list(
            statement.exported_columns
            if isinstance(statement, Insert)
            else statement.selected_columns
        )
        row_type = cast(
            type[tuple[Any, ...]],
            NamedTuple("Record", [(str(column.key), object) for column in columns]),
        )
        return cls(
            sql=compiled.string,
            parameter_names=names,
            bind_processors=tuple(
                binds[name].type.dialect_impl(_DIALECT).bind_processor(_DIALECT) for name in names
            ),
            row_type=row_type,
            column_types=tuple(column.type for column in columns),
            fixed_values={
                name: binds[name].effective_value for name in names if not binds[name].required
            },
        )

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        fixed = self.fixed_values
        return [
            value if process is None else process(value)
            for value, process in zip(
                (values[name] if name in values else fixed[name] for name in self.parameter_names),
                self.bind_processors,
                strict=True,
            )
        ]

    async def fetch(self, driver: Any, arguments: Sequence[Any]) -> list[tuple[Any, ...]]:
        if self.processed is None:
            statement = await driver.prepare(self.sql)
            self.processed = tuple(
                (index, process)
                for index, (column_type, attribute) in enumerate(
                    zip(self.column_types, statement.get_attributes(), strict=True)
                )
                if (
                    process := column_type.dialect_impl(_DIALECT).result_processor(
                        _DIALECT, attribute.type.oid
                    )
                )
                is not None
            )
            rows = await statement.fetch(*arguments)
        else:
            rows = await driver.fetch(self.sql, *arguments)
        return [self._record(row) for row in rows]

    def _record(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        if not self.processed:
            # Most columns' values come from asyncpg as Python wants them: no pass per value.
            return self.row_type(*raw)
        values = list(raw)
        for index, process in self.processed:
            if values[index] is not None:
                values[index] = process(values[index])
        return self.row_type(*values)


async def run(
    session: AsyncSession, statement: CompiledStatement, values: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """The rows of ``statement`` for ``values``, in the session's transaction: named tuples
    with the columns' keys as attribute names."""
    arguments = statement.arguments(values)
    async with _driver(session, statement.sql, arguments, many=False) as driver:
        return await statement.fetch(driver, arguments)


async def run_many(
    session: AsyncSession, statement: CompiledStatement, many: Sequence[Mapping[str, Any]]
) -> None:
    """``statement`` once for each of ``many`` (its rows, if any, unread), in the session's
    transaction and in one round trip: asyncpg sends them all before it reads an answer. For a
    batch that a multi-row statement would have to build and compile anew for each size."""
    if not many:
        return
    arguments = [statement.arguments(values) for values in many]
    async with _driver(session, statement.sql, arguments, many=True) as driver:
        await driver.executemany(statement.sql, arguments)


@asynccontextmanager
async def _driver(
    session: AsyncSession, sql: str, arguments: Sequence[Any], *, many: bool
) -> AsyncIterator[Any]:
    """The asyncpg connection of the session's transaction, to run ``sql`` on; what it raises
    is raised as SQLAlchemy's (``_raise_as_executed``)."""
    connection = await session.connection()
    # Whatever watches the engine's statements (statement counts in tests and benchmarks,
    # tracing) sees this one too, though SQLAlchemy does not execute it. There is no DBAPI
    # cursor or execution context to give: listeners get None for both.
    watchers = connection.sync_connection.dispatch.before_cursor_execute  # type: ignore[union-attr]
    if watchers:
        watchers(connection.sync_connection, None, sql, arguments, None, many)
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None, "the unit of work holds a live connection"
    try:
        yield driver
    except Exception as error:
        await connection.run_sync(_raise_as_executed, raw.dbapi_connection, error, sql, arguments)
        raise  # not reached: the line above raises


def _raise_as_executed(
    sync_connection: Connection,
    adapted: Any,
    error: Exception,
    sql: str,
    arguments: Sequence[Any],
) -> NoReturn:
    """Raise ``error`` as SQLAlchemy would have had it run the statement: asyncpg's error
    translated by the dialect and wrapped in ``sqlalchemy.exc`` (``IntegrityError``, a
    ``DBAPIError`` with its SQLSTATE), and the connection invalidated when the error says it
    is gone. Callers (the worker deciding whether to retry, ``db.session`` starting again on a
    fresh connection) cannot tell a driver statement from any other."""
    try:
        adapted._handle_exception(error)
    except Exception as translated:
        sync_connection._handle_dbapi_exception(translated, sql, arguments, None, None)
    raise error


class StatementTemplates:
    """The compiled templates of one process, by shape (least recently used dropped first)."""

    def __init__(self, maxsize: int = _MAX_TEMPLATES) -> None:
        self._compiled: OrderedDict[Hashable, CompiledStatement] = OrderedDict()
        self._maxsize = maxsize

    def compiled(self, shape: Hashable, build: Callable[[], Statement]) -> CompiledStatement:
        found = self._compiled.get(shape)
        if found is None:
            found = self._compiled[shape] = CompiledStatement.of(build())
            if len(self._compiled) > self._maxsize:
                self._compiled.popitem(last=False)
        else:
            self._compiled.move_to_end(shape)
        return found

    async def fetch(
        self,
        session: AsyncSession,
        shape: Hashable,
        build: Callable[[], Statement],
        values: Mapping[str, Any],
    ) -> list[tuple[Any, ...]]:
        """The rows of the template ``shape`` (``build`` makes it the first time) for
        ``values``, as ``run`` gives them."""
        return await run(session, self.compiled(shape, build), values)


TEMPLATES: Final = StatementTemplates()


@functools.cache
def _key_attributes(mapper: Mapper[Any]) -> tuple[str, ...]:
    """The attribute names of the mapped primary key, in its order: looked up once."""
    return tuple(mapper.get_property_by_column(column).key for column in mapper.primary_key)


def loaded(session: AsyncSession, model: type[EntityT], values: Mapping[str, Any]) -> EntityT:
    """The entity of a row read with ``run``, as the session would have loaded it with
    ``populate_existing``: the instance already in the identity map with its columns
    refreshed, or a new persistent one that flush leaves alone.

    ``values`` must hold every column attribute, by key: one left out would be loaded on first
    access, which an async session cannot do."""
    sync = session.sync_session
    mapper = inspect(model)
    key = mapper.identity_key_from_primary_key(
        tuple(values[name] for name in _key_attributes(mapper))
    )
    existing = sync.identity_map.get(key)
    if existing is not None:
        for attribute, value in values.items():
            set_committed_value(existing, attribute, value)
        return cast(EntityT, existing)
    instance = mapper.class_manager.new_instance()
    # The values as a loaded row's: set without attribute events (the declarative constructor
    # fires one per column, most of an entity's cost), then all committed, the instance keyed
    # (``make_transient_to_detached``) and in the session as a loaded one is.
    instance_dict(instance).update(values)
    make_transient_to_detached(instance)
    sync.add(instance)
    return cast(EntityT, instance)
