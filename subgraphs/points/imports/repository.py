"""Every SQL statement on ``data_imports`` (the imports, dry runs included) and
``data_import_rows`` (the rows a committed import applied)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select

from db.models import DataImport, DataImportRow
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
