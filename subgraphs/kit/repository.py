"""Long because it is the one place of every statement shape the repositories share.

Queries every subgraph needs (which merchant a shop is, the audit trail), and the base of
a tenant repository (``TenantRepository``, after Polar's): the statement shapes every
repository would otherwise write again — one row, all rows, a keyset page, pages per owner,
insert, idempotent insert, update, versioned update, delete — each scoped to one merchant."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    ColumnExpressionArgument,
    Date,
    Select,
    SQLColumnExpression,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute, aliased
from sqlalchemy.sql.base import ExecutableOption

from db.ids import new_id
from db.models import AuditLog, Merchant
from db.models.base import Base
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.bulk import copy_rows
from subgraphs.kit.driver import TEMPLATES
from subgraphs.kit.pagination import Page, PageRequest, invalid_cursor, typed_position

ModelT = TypeVar("ModelT", bound=Base)
RowT = TypeVar("RowT")
# populate_existing: a row read again in the same session (after a lock, an update) must show
# what the database holds now, not what the identity map kept.
FRESH: Mapping[str, Any] = {"populate_existing": True}


class StaleVersion(Exception):
    """An update named the version it was based on, and the row has moved on since."""

    def __init__(self, current_version: int) -> None:
        super().__init__(f"the row is at version {current_version}")
        self.current_version = current_version


async def merchant_for_shop(session: AsyncSession, shop_domain: str) -> tuple[str, bool] | None:
    """The merchant of a shop domain and whether LoyalNest is installed there now."""
    result = await session.execute(
        select(Merchant.id, Merchant.uninstalled_at.is_(None)).where(
            Merchant.shop_domain == shop_domain
        )
    )
    row = result.one_or_none()
    return None if row is None else (row[0], bool(row[1]))


def _audit_row(
    merchant_id: str, action: AuditAction, metadata: Mapping[str, object], actor_id: str | None
) -> dict[str, Any]:
    return {
        "merchant_id": merchant_id,
        "id": new_id(),
        "action": action,
        "actor_id": actor_id,
        "metadata_": dict(metadata),
    }


async def insert_audit_log(
    session: AsyncSession,
    *,
    merchant_id: str,
    action: AuditAction,
    metadata: dict[str, object],
    actor_id: str | None = None,
) -> None:
    await session.execute(
        insert(AuditLog).values(_audit_row(merchant_id, action, metadata, actor_id))
    )


async def insert_audit_logs(
    session: AsyncSession,
    *,
    merchant_id: str,
    action: AuditAction,
    entries: Sequence[Mapping[str, object]],
    actor_id: str | None = None,
) -> None:
    """One multi-row insert for a batch of audit entries of the same action."""
    if entries:
        await session.execute(
            insert(AuditLog),
            [_audit_row(merchant_id, action, metadata, actor_id) for metadata in entries],
        )


async def audit_entries_after(
    session: AsyncSession,
    merchant_id: str,
    actions: Collection[AuditAction],
    after: tuple[datetime, str],
    limit: int,
) -> list[AuditLog]:
    """A merchant's entries of ``actions`` after ``after`` ((created_at, id)), oldest first, at
    most ``limit``: the domain events that notification flows and the Klaviyo profile sync
    read (an entry commits with the change it records), along ix_audit_logs_merchant_action
    and only the monthly partitions from ``after`` on."""
    result = await session.scalars(
        select(AuditLog)
        .where(
            AuditLog.merchant_id == merchant_id,
            AuditLog.action.in_([str(action) for action in actions]),
            keyset_after((AuditLog.created_at, AuditLog.id), after),
        )
        .order_by(AuditLog.created_at, AuditLog.id)
        .limit(limit)
    )
    return list(result)


# The columns of a keyset order: unique together, compared as a row.
Keyset = Sequence[ColumnElement[Any] | QueryableAttribute[Any]]


def keyset_after(
    columns: Keyset, position: Sequence[Any], *, descending: bool = False
) -> ColumnElement[bool]:
    """Rows strictly beyond ``position`` (a cursor's values, decoded by each column's type)
    travelling in the order of ``columns`` (``descending``: from the greatest down): a row
    comparison, plus the same bound on the leading column alone, which lets Postgres skip
    partitions (the monthly logs) and enter an index. A cursor that does not fit is the
    client's mistake, like one that does not decode (``kit.pagination``)."""
    return _beyond(columns, _decoded(columns, position), descending=descending)


def _decoded(columns: Keyset, position: Sequence[Any]) -> tuple[Any, ...]:
    # Cursors are JSON: timestamps travel as ISO strings (``keyset_position``).
    return tuple(typed_position([column.type.python_type for column in columns], position))


def _beyond(columns: Keyset, bounds: Sequence[Any], *, descending: bool) -> ColumnElement[bool]:
    """``keyset_after`` for decoded ``bounds`` (values, or bound parameters in a template)."""
    keys, values = tuple_(*columns), tuple_(*bounds)
    lead, bound = columns[0], bounds[0]
    if descending:
        return and_(lead <= bound, keys < values)
    return and_(lead >= bound, keys > values)


@dataclass(frozen=True, slots=True)
class Comparison:
    """One filter of a list read through ``TenantRepository.read_page``: ``column``
    ``operator`` ``value``, with the value apart from the SQL (a template's parameter)."""

    column: ColumnElement[Any]
    operator: Literal["=", "<=", ">="]
    value: Any

    def applied(self, bound: Any) -> ColumnElement[bool]:
        condition: ColumnElement[bool]
        if self.operator == "<=":
            condition = self.column <= bound
        elif self.operator == ">=":
            condition = self.column >= bound
        else:
            condition = self.column == bound
        return condition


def untagged(request: PageRequest, tag: str | None) -> PageRequest:
    """The request with its cursor's leading tag (the sort key it was made under) checked and
    dropped: a cursor of another order would page from a meaningless position."""
    if tag is None or request.cursor is None:
        return request
    if not request.cursor or request.cursor[0] != tag:
        raise invalid_cursor("it was made for another sort key")
    return replace(request, cursor=request.cursor[1:])


def travels_descending(request: PageRequest, descending: bool) -> bool:
    """Whether rows are fetched greatest first: the list's order (``descending``, flipped by
    ``reverse``), flipped again when paging backwards."""
    return descending ^ request.reverse ^ request.backward


def _ordered(keyset: Keyset, descending: bool) -> list[Any]:
    return [column.desc() if descending else column.asc() for column in keyset]


def keyset_position(keyset: Keyset, row: object, *, tag: str | None = None) -> tuple[Any, ...]:
    """The cursor position of ``row`` in a list ordered by ``keyset`` (what ``keyset_after``
    decodes), led by the sort key ``tag`` when the list has several orders (``untagged``)."""
    values: list[Any] = [] if tag is None else [tag]
    for name in _attribute_names(keyset):
        value = getattr(row, name)
        values.append(value.isoformat() if isinstance(value, datetime) else value)
    return tuple(values)


def _attribute_names(keyset: Keyset) -> tuple[str, ...]:
    # Asked for every row of every page: a column's key is a property walk each time. Keyed
    # by the columns' identities: comparing SQL columns with == builds an expression.
    key = tuple(map(id, keyset))
    names = _ATTRIBUTE_NAMES.get(key)
    if names is None:
        names = _ATTRIBUTE_NAMES[key] = tuple(str(column.key) for column in keyset)
    return names


# Keyed by mapped classes' attributes, which live as long as the process: a handful per list.
_ATTRIBUTE_NAMES: dict[tuple[int, ...], tuple[str, ...]] = {}


def pages_by(
    rows: Iterable[RowT],
    owner_ids: Sequence[str],
    owner_of: Callable[[RowT], str],
    request: PageRequest,
) -> dict[str, Page[RowT]]:
    """One page per owner (every owner asked for, empty ones too) from rows fetched
    ``limit + 1`` per owner in the direction of travel (``TenantRepository._page_per_owner``)."""
    grouped: dict[str, list[RowT]] = {owner_id: [] for owner_id in owner_ids}
    for row in rows:
        grouped[owner_of(row)].append(row)
    return {owner_id: Page.from_overfetch(found, request) for owner_id, found in grouped.items()}


class TenantRepository(Generic[ModelT]):
    """One merchant's rows of the table ``model`` (the repository that owns it). Every
    statement it builds filters on ``merchant_id`` first, so Postgres prunes to that
    merchant's hash partition (row-level security checks the same merchant again)."""

    model: type[ModelT]

    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self._session = session
        self._merchant_id = merchant_id

    @property
    def _mine(self) -> ColumnElement[bool]:
        return self.model.__table__.c.merchant_id == self._merchant_id

    def _id_is(self, row_id: str) -> ColumnElement[bool]:
        return self.model.__table__.c.id == row_id

    def _select(self, *conditions: ColumnExpressionArgument[bool]) -> Select[ModelT]:
        return select(self.model).where(self._mine, *conditions)

    async def get_one_or_none(
        self, *conditions: ColumnExpressionArgument[bool], for_update: bool = False
    ) -> ModelT | None:
        """The one row matching ``conditions``; ``for_update`` row-locks it (and re-reads it)."""
        query = self._select(*conditions)
        if for_update:
            query = query.with_for_update()
        result = await self._session.scalars(query, execution_options=FRESH)
        return result.one_or_none()

    async def get_by_ids(
        self,
        row_ids: Collection[str],
        *conditions: ColumnExpressionArgument[bool],
        options: Sequence[ExecutableOption] = (),
    ) -> list[ModelT]:
        """The rows among ``row_ids`` (and matching ``conditions``), in no order, in one
        statement: what a DataLoader's batch asks for (``node``/``nodes`` refetches).
        ``options``: loader options, e.g. leaving a large column unloaded."""
        if not row_ids:
            return []
        column = self.model.__table__.c.id
        return await self.get_all(column.in_(list(row_ids)), *conditions, options=options)

    async def get_all(
        self,
        *conditions: ColumnExpressionArgument[bool],
        order_by: Sequence[Any] = (),
        options: Sequence[ExecutableOption] = (),
    ) -> list[ModelT]:
        query = self._select(*conditions).options(*options).order_by(*order_by)
        return list(await self._session.scalars(query))

    async def paginate(
        self,
        request: PageRequest,
        *conditions: ColumnExpressionArgument[bool],
        keyset: Keyset,
        descending: bool = False,
        options: Sequence[ExecutableOption] = (),
        tag: str | None = None,
    ) -> Page[ModelT]:
        """One page of the list ordered by ``keyset`` (unique together; ``descending``: greatest
        first), in either direction from the request's cursor, in one statement of
        ``limit + 1`` rows. ``tag``: the sort key the list's cursors lead with."""
        request = untagged(request, tag)
        query = self._select(*conditions).options(*options)
        rows = await self._session.scalars(_page_of(query, request, keyset, descending))
        return Page.from_overfetch(list(rows), request)

    async def paginate_records(
        self,
        request: PageRequest,
        *conditions: ColumnExpressionArgument[bool],
        keyset: Keyset,
        descending: bool = False,
        tag: str | None = None,
    ) -> Page[Any]:
        """``paginate`` for a page that is only read: rows of every column of the table, with
        the columns' names as attributes, and no ORM entity behind them. Building entities
        (identity map, instance state, attribute events) was the largest cost of a 100-row
        page of customers (bench/README.md)."""
        request = untagged(request, tag)
        query = select(*self.model.__table__.columns).where(self._mine, *conditions)
        # On the session's connection: rows of columns need none of the ORM's execution
        # (its compile state and result processing were a fifth of a page's CPU).
        connection = await self._session.connection()
        result = await connection.execute(_page_of(query, request, keyset, descending))
        return Page.from_overfetch(list(result.all()), request)

    async def read_page(
        self,
        request: PageRequest,
        comparisons: Sequence[Comparison] = (),
        *,
        keyset: Keyset,
        descending: bool = False,
        tag: str | None = None,
    ) -> Page[Any]:
        """``paginate_records`` for the hottest lists: the same page, as named tuples of every
        column, from a template compiled once per shape and run on the session's driver
        connection (``kit.driver``: why)."""
        request = untagged(request, tag)
        travel = travels_descending(request, descending)
        cursor = None if request.cursor is None else _decoded(keyset, request.cursor)
        table = self.model.__table__
        shape = (
            self.model.__tablename__,
            tuple((str(c.column.key), c.operator) for c in comparisons),
            tuple(str(column.key) for column in keyset),
            cursor is not None,
            travel,
        )

        def template() -> Select[Any]:
            conditions = [table.c.merchant_id == bindparam("merchant_id", type_=Text)]
            conditions += [
                c.applied(bindparam(f"value_{i}", type_=c.column.type))
                for i, c in enumerate(comparisons)
            ]
            if cursor is not None:
                bounds = [bindparam(f"cursor_{i}", type_=col.type) for i, col in enumerate(keyset)]
                conditions.append(_beyond(keyset, bounds, descending=travel))
            return (
                select(*table.columns)
                .where(*conditions)
                .order_by(*_ordered(keyset, travel))
                .limit(bindparam("limit", type_=BigInteger))
            )

        values: dict[str, Any] = {"merchant_id": self._merchant_id, "limit": request.limit + 1}
        values.update((f"value_{i}", c.value) for i, c in enumerate(comparisons))
        values.update((f"cursor_{i}", bound) for i, bound in enumerate(cursor or ()))
        rows = await TEMPLATES.fetch(self._session, shape, template, values)
        return Page.from_overfetch(rows, request)

    def _page_per_owner(
        self,
        owner: str,
        owner_ids: Sequence[str],
        request: PageRequest,
        *,
        keyset: Keyset,
        descending: bool = True,
    ) -> tuple[Any, Select[Any]]:
        """One page per owner (the column ``owner``) in one statement: a window over the
        owners' rows keeping the first ``limit + 1`` of each in the direction of travel, as
        ``paginate`` would for one owner (``pages_by`` makes the pages). Returns the row entity
        (an alias of ``model`` to select and join from) and the statement, ordered by owner
        then rank."""
        owner_column = self.model.__table__.c[owner]
        travel = travels_descending(request, descending)
        conditions = [self._mine, owner_column.in_(owner_ids)]
        if request.cursor is not None:
            conditions.append(keyset_after(keyset, request.cursor, descending=travel))
        rank = (
            func.row_number()
            .over(partition_by=owner_column, order_by=_ordered(keyset, travel))
            .label("rank")
        )
        ranked = select(self.model, rank).where(*conditions).subquery("ranked")
        row = aliased(self.model, ranked)
        statement = (
            select(row)
            .where(ranked.c.rank <= request.limit + 1)
            .order_by(ranked.c[owner], ranked.c.rank)
        )
        return row, statement

    async def paginate_per_owner(
        self,
        owner: str,
        owner_ids: Sequence[str],
        request: PageRequest,
        *,
        keyset: Keyset,
        descending: bool = True,
    ) -> dict[str, Page[ModelT]]:
        """``paginate`` for many owners at once (a DataLoader's batch: each customer's
        transactions, each advocate's referrals): one page per owner, every owner asked for
        (empty ones too), in one statement."""
        _, statement = self._page_per_owner(
            owner, owner_ids, request, keyset=keyset, descending=descending
        )
        rows = await self._session.scalars(statement)
        return pages_by(rows, owner_ids, lambda row: str(getattr(row, owner)), request)

    async def insert_one(self, values: Mapping[str, Any]) -> ModelT:
        statement = insert(self.model).values(merchant_id=self._merchant_id, **values)
        result = await self._session.scalars(
            select(self.model).from_statement(statement.returning(self.model)),
            execution_options=FRESH,
        )
        row: ModelT = result.one()
        return row

    async def insert_new(self, values: Mapping[str, Any]) -> ModelT | None:
        """Insert the row unless a unique key already holds one: None then (an idempotent
        insert, e.g. under an idempotency key)."""
        statement = (
            pg_insert(self.model)
            .values(merchant_id=self._merchant_id, **values)
            .on_conflict_do_nothing()
            .returning(self.model)
        )
        result = await self._session.scalars(
            select(self.model).from_statement(statement), execution_options=FRESH
        )
        return result.one_or_none()

    async def update_one(
        self, row_id: str, values: Mapping[str, Any], *conditions: ColumnExpressionArgument[bool]
    ) -> ModelT | None:
        """The row as updated; None when no row has that id (and meets ``conditions``)."""
        statement = update(self.model).where(self._mine, self._id_is(row_id), *conditions)
        result = await self._session.scalars(
            select(self.model).from_statement(statement.values(**values).returning(self.model)),
            execution_options=FRESH,
        )
        return result.one_or_none()

    async def update_versioned(
        self,
        row_id: str,
        values: Mapping[str, Any],
        *conditions: ColumnExpressionArgument[bool],
        expected_version: int | None,
    ) -> ModelT | None:
        """``update_one`` for a table with a ``version`` column: the update bumps it, and with
        ``expected_version`` it applies only to that version, in the UPDATE itself, so of two
        updates based on one version exactly one lands; the other raises ``StaleVersion``.
        None when no row has that id (and meets ``conditions``)."""
        version = self.model.__table__.c.version
        guard = () if expected_version is None else (version == expected_version,)
        updated = await self.update_one(
            row_id, {**values, "version": version + 1}, *conditions, *guard
        )
        if updated is None and expected_version is not None:
            current = await self._session.scalar(
                select(version).where(self._mine, self._id_is(row_id), *conditions)
            )
            if current is not None:
                raise StaleVersion(current)
        return updated

    async def copy_in(self, columns: Sequence[str], records: Iterable[Sequence[Any]]) -> int:
        """Insert many of the merchant's rows at COPY speed (``kit.bulk``); every record's
        ``merchant_id`` must be this merchant's (row-level security checks it)."""
        return await copy_rows(self._session, self.model.__table__, columns, records)

    async def delete_one(self, row_id: str) -> bool:
        """False when there was no such row (deletes are idempotent)."""
        id_column = self.model.__table__.c.id
        result = await self._session.execute(
            delete(self.model).where(self._mine, self._id_is(row_id)).returning(id_column),
            execution_options={"synchronize_session": False},
        )
        return result.scalar_one_or_none() is not None


def _page_of(
    query: Select[Any], request: PageRequest, keyset: Keyset, descending: bool
) -> Select[Any]:
    """``query`` narrowed to one page (``limit + 1`` rows) in the request's direction."""
    travel = travels_descending(request, descending)
    if request.cursor is not None:
        query = query.where(keyset_after(keyset, request.cursor, descending=travel))
    return query.order_by(*_ordered(keyset, travel)).limit(request.limit + 1)


def utc_date(moment: SQLColumnExpression[Any]) -> ColumnElement[date]:
    """The calendar day of a timestamptz in UTC: without the pin, the day would depend on the
    session's time zone."""
    return cast(func.timezone("UTC", moment), Date)


class AuditTrail:
    """Where one actor's changes to one merchant's data are recorded, in the caller's
    transaction: the change and its audit entry commit together or not at all."""

    def __init__(self, session: AsyncSession, merchant_id: str, actor_id: str | None = None):
        self._session = session
        self._merchant_id = merchant_id
        self._actor_id = actor_id

    async def record(self, action: AuditAction, metadata: dict[str, object]) -> None:
        await insert_audit_log(
            self._session,
            merchant_id=self._merchant_id,
            action=action,
            metadata=metadata,
            actor_id=self._actor_id,
        )

    async def record_many(
        self, action: AuditAction, entries: Sequence[Mapping[str, object]]
    ) -> None:
        await insert_audit_logs(
            self._session,
            merchant_id=self._merchant_id,
            action=action,
            entries=entries,
            actor_id=self._actor_id,
        )


def rowcount(result: object) -> int:
    """Rows an UPDATE or DELETE touched (SQLAlchemy types ``rowcount`` on CursorResult only)."""
    return int(getattr(result, "rowcount", 0) or 0)


def any_of(values: Sequence[str]) -> ColumnElement[Any]:
    """``column == any_of(values)`` is ``= ANY(array)``: one parameter however many values
    (``IN`` binds one each, and Postgres takes at most 32,767 parameters per statement)."""
    return any_(bindparam(None, list(values), type_=ARRAY(Text)))


def mentions_any(column: SQLColumnExpression[Any], needles: Collection[str]) -> ColumnElement[bool]:
    """Case-insensitive substring test on the text form of a column (jsonb included).
    strpos, unlike LIKE, gives no meaning to ``%`` or ``_`` in an email."""
    if not needles:
        return false()
    text_form = func.lower(cast(column, Text))
    return or_(*(func.strpos(text_form, needle.lower()) > 0 for needle in needles))
