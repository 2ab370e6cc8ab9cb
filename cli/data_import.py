"""`loyalnest import`: a CSV file previewed or imported into one shop, through the same
service as ``dataImportCreate`` (so the same checks, the same ledger entries, the same replay),
with the file read from disk instead of a request body."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from db.models import DataImport, DataImportSource
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.kit.events import ledger_changed
from subgraphs.kit.repository import merchant_for_shop
from subgraphs.kit.resources import open_resources
from subgraphs.kit.settings import Settings
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.imports.service import ImportRequest, Progress, import_file


class UnknownShop(Exception):
    """No merchant has this shop domain."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    data_import: DataImport
    replayed: bool


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """``--mapping "E-mail=email"`` options as a column -> field mapping."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, separator, field = pair.rpartition("=")
        if not separator or not column or not field:
            raise ValueError(f"{pair!r}: give a mapping as COLUMN=FIELD")
        mapping[column] = field
    return mapping


async def import_csv_file(
    settings: Settings,
    shop: str,
    content: bytes,
    source: DataImportSource,
    *,
    mapping: Mapping[str, str] | None,
    dry_run: bool,
    file_name: str | None = None,
    skip_invalid_rows: bool = False,
    idempotency_key: str | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Raises ``PointsError`` for what the service refuses, ``UnknownShop`` for the shop."""
    request = ImportRequest(
        source=source,
        content=content,
        mapping=mapping or None,
        dry_run=dry_run,
        file_name=file_name,
        idempotency_key=idempotency_key,
        skip_invalid_rows=skip_invalid_rows,
    )
    async with open_resources(settings) as resources:
        async with system_unit_of_work(resources.sessions) as session:
            found = await merchant_for_shop(session, shop)
        if found is None:
            raise UnknownShop(shop)
        merchant_id, _installed = found
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            outcome = await import_file(
                WriteContext(session, merchant_id), resources.cipher, request, progress=progress
            )
        if not dry_run and not outcome.replayed:
            await ledger_changed(resources, merchant_id, reason="data_import")
    return ImportResult(outcome.data_import, outcome.replayed)
