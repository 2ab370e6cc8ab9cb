"""Importing customers and balances from a CSV file: a dry run previews, a commit applies.

Transaction contract: ``import_file`` works in the caller's unit of work and commits nothing
itself. A commit is all or nothing: the import's record, its new customers (COPY), its staged
rows (COPY) and its ledger entries (one set-based statement) land in that one transaction,
so a failure at any point leaves no row applied. The caller publishes
``kit.events.ledger_changed`` after the commit.

Ledger: every row with points becomes ONE ``import`` entry, a credit that opens a lot (expiring
under the program's policy) and moves the balance projection in the same statement, under the
idempotency key ``import:<import id>:<row>``. The import itself is keyed by the client's
idempotency key, or the file's fingerprint: the same import sent again replays the first one
and changes nothing. Imported points are added to what a customer already holds here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import CUSTOMERS_EMAIL, CUSTOMERS_PHONE
from db.ids import new_id
from db.models import DataImport, DataImportSource, DataImportStatus, PointsTransactionKind
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.consents.service import (
    ConsentStatus,
    ConsentType,
    record_imported_consents,
)
from subgraphs.points.customers.repository import CustomerRepository
from subgraphs.points.customers.service import email_index
from subgraphs.points.errors import (
    MAX_CREATE_KEY_LENGTH,
    PointsError,
    PointsErrorCode,
    check_idempotency_key,
    idempotency_key_reused,
)
from subgraphs.points.imports.parsing import ImportRow, ParsedFile, RowError, RowErrorCode
from subgraphs.points.imports.parsing import parse_file as parse_rows
from subgraphs.points.imports.repository import (
    DataImportRepository,
    DataImportRowRepository,
    RowRecord,
)
from subgraphs.points.imports.sources import ImportField, source_mapping
from subgraphs.points.ledger.repository import BulkEntry, LedgerRepository
from subgraphs.points.ledger.write_path import credit_expiry, trace
from subgraphs.points.program.calculation import TraceStep
from subgraphs.points.program.service import program_config
from subgraphs.points.tiers.repository import TierRepository
from subgraphs.points.tiers.service import recalculate_tiers

# The error log keeps this many entries; ``error_count`` counts them all.
MAX_LOGGED_ERRORS = 10_000
IMPORT_SOURCE = "import"
_CUSTOMER_COLUMNS = (
    "merchant_id",
    "id",
    "email_encrypted",
    "email_blind_index",
    "shopify_customer_id",
    "phone_encrypted",
    "country_code",
    # An opening balance: the import entry recorded in the same transaction (``BulkEntry``).
    "points_balance",
    "total_points_earned",
)

# Progress of a long import: (stage, done, total); the CLI draws it as a bar.
Progress = Callable[[str, int, int], None]
# The same, awaited: the worker records each step and publishes it.
StepProgress = Callable[[str, int, int], Awaitable[None]]
# New customers are copied in steps of this many rows, each step reported.
PROGRESS_STEP = 10_000


@dataclass(frozen=True, slots=True)
class ImportRequest:
    source: DataImportSource
    content: bytes
    # A custom import's file column -> field name; None for the built-in sources.
    mapping: Mapping[str, str] | None = None
    dry_run: bool = True
    file_name: str | None = None
    idempotency_key: str | None = None
    # Commit the rows that validate and leave the others out (each is in the error log).
    skip_invalid_rows: bool = False
    # The staged upload holding the file (``imports.uploads``), instead of ``content``.
    upload_id: str | None = None


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    data_import: DataImport
    # True when the idempotency key had been used: the earlier import, nothing changed now.
    replayed: bool


@dataclass(slots=True)
class Plan:
    """Every valid row, matched against the shop: whom it creates, whom it credits."""

    creates: list[ImportRow]
    updates: list[tuple[ImportRow, str]]
    # Rows of existing customers with no points: nothing credited (a consent, perhaps).
    skips: list[tuple[ImportRow, str]]


def fingerprint(request: ImportRequest) -> str:
    digest = hashlib.sha256()
    digest.update(request.source.value.encode())
    digest.update(json.dumps(dict(request.mapping or {}), sort_keys=True).encode())
    digest.update(request.content)
    return digest.hexdigest()


def _ledger_key(import_id: str, row: int) -> str:
    return f"import:{import_id}:{row}"


def import_key_prefix(import_id: str) -> str:
    """The prefix of every ledger key an import (and its revert) wrote."""
    return f"import:{import_id}:"


async def import_file(
    write: WriteContext,
    cipher: FieldCipher,
    request: ImportRequest,
    *,
    progress: Progress | None = None,
) -> ImportOutcome:
    """Validate every row and preview (``dry_run``) or apply the file at once, in the caller's
    transaction (module docstring): the CLI's path. The API queues commits for the worker
    (``imports.queued``)."""
    report = progress or (lambda _stage, _done, _total: None)

    async def report_step(stage: str, done: int, total: int) -> None:
        report(stage, done, total)

    imports = DataImportRepository(write.session, write.merchant_id)
    key = commit_key(request)
    if key is not None:
        replay = await replay_of(imports, key, request)
        if replay is not None:
            return replay
    parsed, plan = await validated(write, cipher, request)
    report("validated", parsed.row_count, parsed.row_count)
    import_id = new_id()
    values = record_values(request, parsed, plan, key=key, actor_id=write.actor_id)
    if request.dry_run:
        return ImportOutcome(await imports.insert_one({"id": import_id, **values}), False)
    created = await imports.insert_new(
        {
            "id": import_id,
            **values,
            "status": DataImportStatus.COMMITTED,
            "committed_at": write.now,
            "rows_done": len(plan.creates) + len(plan.updates),
        }
    )
    if created is None:
        # A concurrent request under the same key committed first (this insert waited for it).
        assert key is not None
        replay = await replay_of(imports, key, request)
        assert replay is not None, "a conflicting insert leaves the row that won"
        return replay
    await apply_plan(write, cipher, created, plan, report=report_step)
    return ImportOutcome(created, False)


def commit_key(request: ImportRequest) -> str | None:
    """The key a commit claims (the client's, or the file's fingerprint); None for a dry run,
    which claims nothing."""
    if request.dry_run:
        return None
    key = request.idempotency_key or f"file:{fingerprint(request)}"
    check_idempotency_key(key, MAX_CREATE_KEY_LENGTH)
    return key


async def validated(
    write: WriteContext, cipher: FieldCipher, request: ImportRequest
) -> tuple[ParsedFile, Plan]:
    """Every row parsed and matched against the shop; a commit of a file with problems is
    refused whole unless it skips invalid rows."""
    mapping = source_mapping(request.source, request.mapping)
    parsed = parse_rows(request.content, mapping)
    plan = await _match(write.session, write.merchant_id, cipher, parsed)
    if parsed.errors and not request.dry_run and not request.skip_invalid_rows:
        first = parsed.errors[0]
        raise PointsError(
            PointsErrorCode.IMPORT_HAS_ERRORS,
            "file",
            f"{len(parsed.errors)} problems in the file (the first: row {first.row}, "
            f"{first.column or 'the row'}: {first.message}); nothing was imported. A dry run "
            "lists them all; fix them or send skipInvalidRows",
        )
    return parsed, plan


async def replay_of(
    imports: DataImportRepository, key: str, request: ImportRequest
) -> ImportOutcome | None:
    existing = await imports.import_by_key(key)
    if existing is None:
        return None
    if existing.fingerprint != fingerprint(request):
        raise idempotency_key_reused()
    return ImportOutcome(existing, True)


async def _match(
    session: AsyncSession, merchant_id: str, cipher: FieldCipher, parsed: ParsedFile
) -> Plan:
    """Match the rows to the shop's customers by email (the blind index, one statement) and
    refuse a Shopify id that another customer holds; then who is created, credited, skipped."""
    customers = CustomerRepository(session, merchant_id)
    index_of = {row.row: email_index(row.email, cipher) for row in parsed.rows}
    existing = await customers.ids_by_email_indexes(list(index_of.values()))
    shopify_ids = [row.shopify_customer_id for row in parsed.rows if row.shopify_customer_id]
    holders = await customers.email_indexes_by_shopify_ids(shopify_ids)
    taken: set[int] = set()
    for row in parsed.rows:
        holder = holders.get(row.shopify_customer_id or "")
        if holder is not None and holder != index_of[row.row]:
            taken.add(row.row)
            parsed.errors.append(
                RowError(
                    row.row,
                    parsed.plan.column_of(ImportField.SHOPIFY_CUSTOMER_ID),
                    RowErrorCode.SHOPIFY_CUSTOMER_ID_TAKEN,
                    f"Shopify customer {row.shopify_customer_id} is another customer of the "
                    "shop (with another email)",
                )
            )
    if taken:
        parsed.reject(taken)
        parsed.errors.sort(key=lambda error: error.row)
    plan = Plan([], [], [])
    for row in parsed.rows:
        customer_id = existing.get(index_of[row.row])
        if customer_id is None:
            plan.creates.append(row)
        elif row.points > 0:
            plan.updates.append((row, customer_id))
        else:
            plan.skips.append((row, customer_id))
    return plan


def record_values(
    request: ImportRequest,
    parsed: ParsedFile,
    plan: Plan,
    *,
    key: str | None,
    actor_id: str | None,
) -> dict[str, Any]:
    points = sum(row.points for row in plan.creates) + sum(row.points for row, _ in plan.updates)
    return {
        "source": request.source,
        "status": DataImportStatus.PREVIEWED,
        "idempotency_key": key,
        "fingerprint": fingerprint(request),
        "file_name": request.file_name,
        "mapping": dict(request.mapping) if request.mapping else None,
        "row_count": parsed.row_count,
        "create_count": len(plan.creates),
        "update_count": len(plan.updates),
        "skip_count": len(plan.skips),
        "error_count": len(parsed.errors),
        "points_total": points,
        "error_log": [error.to_json() for error in parsed.errors[:MAX_LOGGED_ERRORS]],
        "actor_id": actor_id,
    }


async def apply_plan(
    write: WriteContext,
    cipher: FieldCipher,
    data_import: DataImport,
    plan: Plan,
    *,
    report: StepProgress,
) -> None:
    """The merge: new customers by COPY, the staged rows by COPY, the ledger entries (and the
    balances they move) in one statement, then the VIP tiers the new balances qualify for;
    and the audit entry of the commit. ``report`` hears how many rows are done of how many."""
    session, merchant_id, now = write.session, write.merchant_id, write.now
    total = len(plan.creates) + len(plan.updates)
    created = [(row, new_id()) for row in plan.creates]
    customers = CustomerRepository(session, merchant_id)
    # In steps, so a long import shows progress; COPY's cost hardly depends on the step size.
    for start in range(0, len(created), PROGRESS_STEP):
        await customers.copy_in(
            _CUSTOMER_COLUMNS,
            (
                _customer_record(merchant_id, cipher, row, customer_id)
                for row, customer_id in created[start : start + PROGRESS_STEP]
            ),
        )
        await report("customers", min(start + PROGRESS_STEP, len(created)), total)
    credited = [(row, customer_id, True) for row, customer_id in created]
    credited += [(row, customer_id, False) for row, customer_id in plan.updates]
    entries = {
        row.row: BulkEntry(
            new_id(), customer_id, row.points, _ledger_key(data_import.id, row.row), opening=is_new
        )
        for row, customer_id, is_new in credited
        if row.points > 0
    }
    config = await program_config(session, merchant_id)
    detail = f"imported from {data_import.source} (import {data_import.id})"
    recorded = await LedgerRepository(session, merchant_id).record_many(
        list(entries.values()),
        kind=PointsTransactionKind.IMPORT,
        reason=f"Balance imported from {data_import.source}",
        source=IMPORT_SOURCE,
        explanation={**trace(TraceStep("data_import", True, detail)), "import_id": data_import.id},
        expires_at=credit_expiry(config, now),
        actor_id=data_import.actor_id,
    )
    # A fresh import's keys are its own: every entry is recorded (a replay never gets here).
    assert len(recorded) == len(entries), "an import's ledger keys are new"
    await report("ledger", total, total)
    records: list[RowRecord] = [
        (
            merchant_id,
            data_import.id,
            row.row,
            customer_id,
            is_new,
            row.points,
            entries[row.row].id if row.row in entries else None,
        )
        for row, customer_id, is_new in credited
    ]
    await DataImportRowRepository(session, merchant_id).stage(records)
    # Shopify's "Accepts Email Marketing", as the newsletter consent of every customer it names.
    choices = {
        customer_id: ConsentStatus.GRANTED if row.accepts_email_marketing else ConsentStatus.REVOKED
        for row, customer_id in [*created, *plan.updates, *plan.skips]
        if row.accepts_email_marketing is not None
    }
    consents = await record_imported_consents(write, choices, consent_type=ConsentType.NEWSLETTER)
    if await TierRepository(session, merchant_id).tiers():
        await recalculate_tiers(session, merchant_id, actor_id=data_import.actor_id)
    await write.audit.record(
        AuditAction.DATA_IMPORT_COMMITTED,
        {
            "import_id": data_import.id,
            "source": data_import.source,
            "rows": data_import.row_count,
            "created": len(plan.creates),
            "updated": len(plan.updates),
            "points": sum(row.points for row, _customer, _new in credited),
            "consents": consents,
        },
    )
    await report("done", total, total)


def _customer_record(
    merchant_id: str, cipher: FieldCipher, row: ImportRow, customer_id: str
) -> tuple[object, ...]:
    return (
        merchant_id,
        customer_id,
        cipher.encrypt(row.email, context=CUSTOMERS_EMAIL),
        email_index(row.email, cipher),
        row.shopify_customer_id,
        None if row.phone is None else cipher.encrypt(row.phone, context=CUSTOMERS_PHONE),
        row.country_code,
        row.points,
        row.points,
    )


async def import_by_id(
    session: AsyncSession, merchant_id: str, import_id: str
) -> DataImport | None:
    return await DataImportRepository(session, merchant_id).import_by_id(import_id)


async def imports_page(
    session: AsyncSession, merchant_id: str, page: PageRequest
) -> Page[DataImport]:
    return await DataImportRepository(session, merchant_id).imports_page(page)
