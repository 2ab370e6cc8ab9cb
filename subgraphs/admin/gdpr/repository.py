"""Every SQL statement on ``gdpr_requests``, and shop/redact's check that nothing of the shop
is left in any table.

Runs in a tenant unit of work; every statement still names the merchant, as everywhere else,
so a query never depends on row-level security alone to be right.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    false,
    func,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from db.models import Base, GdprExportDownload, GdprRequest, Merchant
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.repository import TenantRepository, keyset_after, rowcount

# Ciphertexts stay in the database: loading one by accident raises instead of reading it.
_WITHOUT_EXPORT = (
    defer(GdprRequest.export_encrypted, raiseload=True),
    defer(GdprRequest.export_spec_encrypted, raiseload=True),
)


@dataclass(frozen=True, slots=True)
class NewGdprRequest:
    id: str
    request_type: str
    status: str
    shopify_customer_id: str | None
    customer_id: str | None
    delivery_id: str
    retention_expires_at: datetime
    completed_at: datetime | None = None
    export_spec_encrypted: str | None = None


class GdprRequestsRepository(TenantRepository[GdprRequest]):
    model = GdprRequest

    async def requests_page(
        self, *, request_type: str | None, page: PageRequest
    ) -> Page[GdprRequest]:
        """Newest first from a ``time_ordered_page`` position, along
        ix_gdpr_requests_merchant_type_created when a type is given."""
        return await self.paginate(
            page,
            *([] if request_type is None else [GdprRequest.request_type == request_type]),
            keyset=(GdprRequest.created_at, GdprRequest.id),
            descending=True,
            options=_WITHOUT_EXPORT,
        )

    async def requests_by_ids(self, request_ids: Sequence[str]) -> list[GdprRequest]:
        """The merchant's requests among ``request_ids`` (without exports), in no order."""
        return await self.get_by_ids(request_ids, options=_WITHOUT_EXPORT)

    async def requests_about(
        self, customer_ids: Sequence[str], shopify_customer_id: str | None
    ) -> list[GdprRequest]:
        result = await self._session.scalars(
            select(GdprRequest)
            .options(*_WITHOUT_EXPORT)
            .where(
                GdprRequest.merchant_id == self._merchant_id,
                self._request_about(customer_ids, shopify_customer_id),
            )
            .order_by(GdprRequest.created_at, GdprRequest.id)
        )
        return list(result)

    def _request_about(
        self, customer_ids: Sequence[str], shopify_customer_id: str | None
    ) -> ColumnElement[bool]:
        conditions: list[ColumnElement[bool]] = []
        if customer_ids:
            conditions.append(GdprRequest.customer_id.in_(customer_ids))
        if shopify_customer_id is not None:
            conditions.append(GdprRequest.shopify_customer_id == shopify_customer_id)
        return or_(*conditions) if conditions else false()

    async def insert_request(self, request: NewGdprRequest) -> GdprRequest:
        statement = (
            pg_insert(GdprRequest)
            .values(
                merchant_id=self._merchant_id,
                id=request.id,
                request_type=request.request_type,
                status=request.status,
                shopify_customer_id=request.shopify_customer_id,
                customer_id=request.customer_id,
                delivery_id=request.delivery_id,
                export_spec_encrypted=request.export_spec_encrypted,
                retention_expires_at=request.retention_expires_at,
                completed_at=request.completed_at,
            )
            .returning(GdprRequest)
        )
        result = await self._session.scalars(
            select(GdprRequest).from_statement(statement),
            execution_options={"populate_existing": True},
        )
        row: GdprRequest = result.one()
        return row

    async def erase_exports(
        self, customer_ids: Sequence[str], shopify_customer_id: str | None
    ) -> int:
        """Earlier requests about the customer lose their export and the Shopify id that ties
        them to the person; the rows stay as the record that the requests were answered."""
        result = await self._session.execute(
            update(GdprRequest)
            .where(
                GdprRequest.merchant_id == self._merchant_id,
                self._request_about(customer_ids, shopify_customer_id),
            )
            .values(
                export_encrypted=None,
                # A pending export then completes with nothing to hand over.
                export_spec_encrypted=None,
                shopify_customer_id=None,
                updated_at=func.now(),
            )
        )
        return rowcount(result)

    async def delete_expired(self, now: datetime) -> int:
        """Requests (and their exports) past their retention: gone, not merely emptied."""
        result = await self._session.execute(
            delete(GdprRequest).where(
                GdprRequest.merchant_id == self._merchant_id,
                GdprRequest.retention_expires_at <= now,
            )
        )
        return rowcount(result)

    # --- the export job ------------------------------------------------------------------

    async def try_lock(self, request_id: str) -> bool:
        """Take the request's advisory lock for this transaction, if no other holds it: the
        export job holds it while it builds, and Postgres drops it with the transaction
        however that ends (a killed worker's connection too). A free lock on a pending
        request therefore means no worker is building it (the sweeper's test)."""
        locked = await self._session.scalar(
            select(func.pg_try_advisory_xact_lock(func.hashtextextended(f"gdpr:{request_id}", 0)))
        )
        return bool(locked)

    async def pending_export(self, request_id: str) -> tuple[int, str | None] | None:
        """(attempts, encrypted spec) of a pending data request; None for any other."""
        result = await self._session.execute(
            select(GdprRequest.attempts, GdprRequest.export_spec_encrypted).where(
                GdprRequest.merchant_id == self._merchant_id,
                GdprRequest.id == request_id,
                GdprRequest.request_type == "data_request",
                GdprRequest.status == "pending",
            )
        )
        row = result.one_or_none()
        return None if row is None else (row.attempts, row.export_spec_encrypted)

    async def count_attempt(self, request_id: str) -> None:
        await self._session.execute(
            update(GdprRequest)
            .where(GdprRequest.merchant_id == self._merchant_id, GdprRequest.id == request_id)
            .values(attempts=GdprRequest.attempts + 1, updated_at=func.now())
        )

    async def finish_export(
        self,
        request_id: str,
        *,
        status: str,
        export_encrypted: str | None,
        completed_at: datetime | None,
        retention_expires_at: datetime | None = None,
        error: str | None = None,
    ) -> bool:
        """A pending data request completed (with its export) or failed, in one statement:
        the export becomes visible with the status, never before. False if not pending."""
        values: dict[str, object] = {
            "status": status,
            "export_encrypted": export_encrypted,
            "export_spec_encrypted": None,
            "completed_at": completed_at,
            "error": error,
            "updated_at": func.now(),
        }
        if retention_expires_at is not None:
            values["retention_expires_at"] = retention_expires_at
        result = await self._session.execute(
            update(GdprRequest)
            .where(
                GdprRequest.merchant_id == self._merchant_id,
                GdprRequest.id == request_id,
                GdprRequest.status == "pending",
            )
            .values(**values)
        )
        return rowcount(result) == 1

    async def export_by_id(self, request_id: str) -> str | None:
        """The encrypted export of a data request; None for other requests, or once erased."""
        result = await self._session.execute(
            select(GdprRequest.export_encrypted).where(
                GdprRequest.merchant_id == self._merchant_id, GdprRequest.id == request_id
            )
        )
        return result.scalar_one_or_none()

    async def completed_after(
        self, after: tuple[datetime, str], request_types: Sequence[str], limit: int
    ) -> list[GdprRequest]:
        """Requests of these types completed after ``after`` ((completed_at, id)), oldest
        first, without exports: what the customer's GDPR_DONE message reads."""
        result = await self._session.scalars(
            select(GdprRequest)
            .options(*_WITHOUT_EXPORT)
            .where(
                GdprRequest.merchant_id == self._merchant_id,
                GdprRequest.request_type.in_(list(request_types)),
                GdprRequest.completed_at.is_not(None),
                keyset_after((GdprRequest.completed_at, GdprRequest.id), after),
            )
            .order_by(GdprRequest.completed_at, GdprRequest.id)
            .limit(limit)
        )
        return list(result)

    async def unnotified(self, limit: int) -> list[GdprRequest]:
        """Completed requests the merchant has not been told of, oldest first (along
        ix_gdpr_requests_unnotified), locked and skipping those another worker holds."""
        result = await self._session.scalars(
            select(GdprRequest)
            .options(*_WITHOUT_EXPORT)
            .where(
                GdprRequest.merchant_id == self._merchant_id,
                GdprRequest.completed_at.is_not(None),
                GdprRequest.merchant_notified_at.is_(None),
            )
            .order_by(GdprRequest.completed_at, GdprRequest.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(result)

    async def mark_notified(self, request_ids: Sequence[str], now: datetime) -> None:
        if request_ids:
            await self._session.execute(
                update(GdprRequest)
                .where(
                    GdprRequest.merchant_id == self._merchant_id,
                    GdprRequest.id.in_(list(request_ids)),
                )
                .values(merchant_notified_at=now, updated_at=func.now())
            )

    async def remaining_rows(self, *, kept: Mapping[str, str]) -> dict[str, int]:
        """Rows of the merchant left in any mapped table, but for those ``kept`` on purpose
        ({table name: row id}): a table added later without a cascade shows up here instead of
        keeping data silently. Reads every table, as only a check over all of them can."""
        counts = []
        for table in Base.metadata.sorted_tables:
            if table.name == Merchant.__tablename__:
                condition = table.c.id == self._merchant_id
            elif "merchant_id" in table.c:
                condition = table.c.merchant_id == self._merchant_id
            else:
                continue
            if table.name in kept:
                condition = and_(condition, table.c.id != kept[table.name])
            counts.append(
                select(literal(table.name).label("table_name"), func.count().label("rows"))
                .select_from(table)
                .where(condition)
            )
        result = await self._session.execute(union_all(*counts))
        return {name: int(rows) for name, rows in result if rows}


class GdprExportDownloadsRepository(TenantRepository[GdprExportDownload]):
    model = GdprExportDownload

    async def use_link(self, link_id: str, request_id: str) -> bool:
        """Record a download link's use; False when it was used already (concurrent uses
        meet at the primary key: one wins, the other waits for it and finds it)."""
        result = await self._session.execute(
            pg_insert(GdprExportDownload)
            .values(merchant_id=self._merchant_id, id=link_id, request_id=request_id)
            .on_conflict_do_nothing()
            .returning(GdprExportDownload.id)
        )
        return result.scalar_one_or_none() is not None


async def pending_data_requests(session: AsyncSession, limit: int) -> list[tuple[str, str, int]]:
    """(merchant, request, attempts) of pending data requests, oldest first (a system unit of
    work, along ix_gdpr_requests_pending): the sweeper's candidates."""
    result = await session.execute(
        select(GdprRequest.merchant_id, GdprRequest.id, GdprRequest.attempts)
        .where(GdprRequest.status == "pending", GdprRequest.request_type == "data_request")
        .order_by(GdprRequest.created_at)
        .limit(limit)
    )
    return [(row.merchant_id, row.id, row.attempts) for row in result]


async def merchants_with_expired_requests(session: AsyncSession, now: datetime) -> list[str]:
    """Merchants holding a GDPR request past its retention (a system unit of work)."""
    result = await session.scalars(
        select(GdprRequest.merchant_id)
        .where(GdprRequest.retention_expires_at <= now)
        .distinct()
        .order_by(GdprRequest.merchant_id)
    )
    return list(result)


async def merchants_with_unnotified_requests(session: AsyncSession) -> list[str]:
    """Merchants with a completed request they have not been told of (a system unit of work,
    along ix_gdpr_requests_unnotified)."""
    result = await session.scalars(
        select(GdprRequest.merchant_id)
        .where(GdprRequest.completed_at.is_not(None), GdprRequest.merchant_notified_at.is_(None))
        .distinct()
        .order_by(GdprRequest.merchant_id)
    )
    return list(result)
