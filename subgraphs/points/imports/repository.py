"""Every SQL statement on ``data_imports`` (the imports, dry runs included),
``data_import_rows`` (the rows a committed import applied) and ``staged_uploads`` (the files
waiting for their import)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    UNFINISHED_IMPORT_STATUSES,
    DataImport,
    DataImportRow,
    StagedUpload,
)
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.repository import TenantRepository

ROW_COLUMNS = (
    "merchant_id",
    "import_id",
    "row_number",
    "customer_id",
    "created_customer",
    "points",
    "transaction_id",
)
# (merchant_id, import_id, row_number, customer_id, created_customer, points, transaction_id)
RowRecord = tuple[str, str, int, str, bool, int, str | None]


class DataImportRepository(TenantRepository[DataImport]):
    model = DataImport

    async def import_by_id(self, import_id: str, *, for_update: bool = False) -> DataImport | None:
        return await self.get_one_or_none(DataImport.id == import_id, for_update=for_update)

    async def imports_by_ids(self, import_ids: Sequence[str]) -> list[DataImport]:
        return await self.get_by_ids(import_ids)

    async def import_by_key(self, idempotency_key: str) -> DataImport | None:
        return await self.get_one_or_none(DataImport.idempotency_key == idempotency_key)

    async def try_lock(self, import_id: str) -> bool:
        """Take the import's advisory lock for this transaction, if no other holds it.

        The worker applying an import holds it for its whole transaction, and Postgres lets it
        go when that transaction ends, however it ends: a worker killed mid-import drops its
        connection, and with it the lock. So a free lock on a running import means its worker
        is gone (the sweeper's test), and two jobs for one import never both apply it."""
        locked = await self._session.scalar(
            select(
                func.pg_try_advisory_xact_lock(func.hashtextextended(f"data_import:{import_id}", 0))
            )
        )
        return bool(locked)

    async def update_import(
        self, import_id: str, values: Mapping[str, Any], *, only_if_unfinished: bool = False
    ) -> DataImport | None:
        """The import as updated; with ``only_if_unfinished``, only a queued or running one."""
        guard = (DataImport.status.in_(UNFINISHED_IMPORT_STATUSES),) if only_if_unfinished else ()
        return await self.update_one(import_id, values, *guard)

    async def imports_page(self, page: PageRequest) -> Page[DataImport]:
        """Newest first (ids are time-ordered)."""
        found: Page[DataImport] = await self.paginate(
            page, keyset=(DataImport.id,), descending=True
        )
        return found


class DataImportRowRepository(TenantRepository[DataImportRow]):
    model = DataImportRow

    async def stage(self, records: Iterable[RowRecord]) -> int:
        """The applied rows, at COPY speed."""
        return await self.copy_in(ROW_COLUMNS, records)

    async def applied_rows(self, import_id: str) -> list[DataImportRow]:
        result = await self._session.scalars(
            select(DataImportRow)
            .where(self._mine, DataImportRow.import_id == import_id)
            .order_by(DataImportRow.row_number)
        )
        return list(result)


async def unfinished_imports(session: AsyncSession, limit: int) -> list[tuple[str, str]]:
    """(merchant id, import id) of queued and running imports, every shop's (a system unit of
    work: the sweeper's), oldest first."""
    rows = await session.execute(
        select(DataImport.merchant_id, DataImport.id)
        .where(DataImport.status.in_(UNFINISHED_IMPORT_STATUSES))
        .order_by(DataImport.id)
        .limit(limit)
    )
    return [(merchant_id, import_id) for merchant_id, import_id in rows]


class StagedUploadRepository(TenantRepository[StagedUpload]):
    model = StagedUpload

    async def insert(
        self,
        upload_id: str,
        *,
        file_name: str | None,
        file_size: int,
        content_encrypted: str | None,
        expires_at: datetime,
    ) -> StagedUpload:
        return await self.insert_one(
            {
                "id": upload_id,
                "file_name": file_name,
                "file_size": file_size,
                "content_encrypted": content_encrypted,
                "expires_at": expires_at,
            }
        )

    async def upload_by_id(self, upload_id: str) -> StagedUpload | None:
        return await self.get_one_or_none(StagedUpload.id == upload_id)

    async def remove(self, upload_id: str) -> bool:
        return await self.delete_one(upload_id)

    async def store_content(self, upload_id: str, content_encrypted: str, file_size: int) -> None:
        await self.update_one(
            upload_id, {"content_encrypted": content_encrypted, "file_size": file_size}
        )


async def purge_expired_uploads(session: AsyncSession, now: datetime) -> int:
    """Delete every shop's staged files past their lifetime (a system unit of work: the
    retention job's); how many."""
    result = await session.execute(
        delete(StagedUpload).where(StagedUpload.expires_at <= now).returning(StagedUpload.id)
    )
    return len(result.all())
