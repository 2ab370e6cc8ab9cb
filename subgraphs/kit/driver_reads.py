"""Read-only statements of the hottest lists, built and typed by SQLAlchemy, compiled once per
shape and run on the unit of work's own asyncpg connection.

Why: under load, SQLAlchemy's execution of one small SELECT (execution context, cursor
result, the greenlet hops, row processing) cost a list request more CPU than the statement's
whole round trip through asyncpg: 40 % of a 3-row customers page at the points subgraph
(bench/api.py, interleaved in one process at 16 concurrent requests). Building the statement
stays SQLAlchemy's (columns, types, the dialect's SQL), and so does the transaction: the page
runs on the connection the unit of work has already entered as the tenant, so row-level
security applies as to every other statement.

A template is a statement whose every varying value is a named ``bindparam``; its shape (what
varies in SQL text: which filters, which order, whether a cursor) is the cache key, and each
request only supplies values by name. Values and rows go through the columns' own bind and
result processors, as SQLAlchemy would apply them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, cast

from sqlalchemy import Select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

_DIALECT: Final = asyncpg_dialect()  # type: ignore[no-untyped-call]
_MAX_TEMPLATES: Final = 512

Processor = Callable[[Any], Any] | None


@dataclass(slots=True)
class CompiledRead:
    """One statement shape, compiled: its SQL with asyncpg's ``$n`` placeholders, the name of
    the value each placeholder takes, and how to type what goes in and what comes out."""

    sql: str
    parameter_names: tuple[str, ...]
    bind_processors: tuple[Processor, ...]
    row_type: type[tuple[Any, ...]]
    column_types: tuple[TypeEngine[Any], ...]
    # The columns whose values need their type's processing (a JSON document, a float for a
    # Decimal), by position: known from the result's column types, at the first fetch.
    processed: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None

    @classmethod
    def of(cls, statement: Select[Any]) -> CompiledRead:
        compiled = statement.compile(dialect=_DIALECT)
        names = tuple(compiled.positiontup or ())
        binds = compiled.binds
        columns = list(statement.selected_columns)
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
        )

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        return [
            value if process is None else process(value)
            for value, process in zip(
                (values[name] for name in self.parameter_names), self.bind_processors, strict=True
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


class DriverReads:
    """The compiled templates of one process, by shape (least recently used dropped first)."""

    def __init__(self, maxsize: int = _MAX_TEMPLATES) -> None:
        self._compiled: OrderedDict[Hashable, CompiledRead] = OrderedDict()
        self._maxsize = maxsize

    def compiled(self, shape: Hashable, build: Callable[[], Select[Any]]) -> CompiledRead:
        found = self._compiled.get(shape)
        if found is None:
            found = self._compiled[shape] = CompiledRead.of(build())
            if len(self._compiled) > self._maxsize:
                self._compiled.popitem(last=False)
        else:
            self._compiled.move_to_end(shape)
        return found

    async def fetch(
        self,
        session: AsyncSession,
        shape: Hashable,
        build: Callable[[], Select[Any]],
        values: Mapping[str, Any],
    ) -> list[tuple[Any, ...]]:
        """The rows of the template ``shape`` (``build`` makes it the first time) for
        ``values``, read in the session's transaction: named tuples with the columns' keys
        as attribute names."""
        read = self.compiled(shape, build)
        connection = await session.connection()
        arguments = read.arguments(values)
        # Whatever watches the engine's statements (statement counts in tests and benchmarks,
        # tracing) sees this one too, though SQLAlchemy does not execute it. There is no
        # DBAPI cursor or execution context to give: listeners get None for both.
        watchers = connection.sync_connection.dispatch.before_cursor_execute  # type: ignore[union-attr]
        if watchers:
            watchers(connection.sync_connection, None, read.sql, arguments, None, False)
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None, "the unit of work holds a live connection"
        return await read.fetch(driver, arguments)


DRIVER_READS: Final = DriverReads()
