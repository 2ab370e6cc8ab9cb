"""Undoing a committed import (``dataImportRevert``), within 30 days of its commit.

Transaction contract: in the caller's unit of work, all or nothing; the caller publishes
``kit.events.ledger_changed`` after the commit. The import's row is locked first, so two
reverts run one after the other and the second finds it reverted and changes nothing.

Each of the import's ``import`` entries is reversed by one ``reverse`` entry (key
``import:<id>:<row>:revert``) taking back the imported points, as far as the customer's
balance allows: points spent since cannot be taken back, and the shortfall is recorded on the
import. The debit takes the import's own lot first, then the others in the ledger's order, so
balance = signed sum of the ledger = open lots still holds. Customers the import created who
have no other ledger entry and no order are then removed (with their ledger rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from db.ids import new_id
from db.models import DataImport, DataImportStatus, PointsTransactionKind
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.customers.repository import CustomerRepository
from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.imports.repository import DataImportRepository, DataImportRowRepository
from subgraphs.points.imports.service import IMPORT_SOURCE, import_key_prefix
from subgraphs.points.ledger.repository import BulkEntry, LedgerRepository
from subgraphs.points.ledger.write_path import trace
from subgraphs.points.program.calculation import TraceStep
from subgraphs.points.tiers.repository import TierRepository
from subgraphs.points.tiers.service import recalculate_tiers

REVERT_WINDOW = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class RevertOutcome:
    data_import: DataImport
    # True when the import had been reverted already: nothing changed this time.
    replayed: bool


def _not_revertible(message: str) -> PointsError:
    return PointsError(PointsErrorCode.IMPORT_NOT_REVERTIBLE, "id", message)


async def revert_import(write: WriteContext, import_id: str) -> RevertOutcome:
    session, merchant_id, now, actor_id = (
        write.session,
        write.merchant_id,
        write.now,
        write.actor_id,
    )
    imports = DataImportRepository(session, merchant_id)
    data_import = await imports.import_by_id(import_id, for_update=True)
    if data_import is None:
        raise PointsError(PointsErrorCode.IMPORT_NOT_FOUND, "id", "the shop has no such import")
    if data_import.status == DataImportStatus.REVERTED:
        return RevertOutcome(data_import, True)
    if data_import.status != DataImportStatus.COMMITTED or data_import.committed_at is None:
        raise _not_revertible("a dry run applied nothing, so there is nothing to revert")
    if now - data_import.committed_at > REVERT_WINDOW:
        raise _not_revertible(
            f"the import was committed on {data_import.committed_at:%Y-%m-%d}: imports can be "
            f"reverted for {REVERT_WINDOW.days} days"
        )
    rows = await DataImportRowRepository(session, merchant_id).applied_rows(import_id)
    credited = [row for row in rows if row.transaction_id is not None]
    customers = CustomerRepository(session, merchant_id)
    # Locked as every ledger writer locks them, so no spend interleaves with the revert.
    balances = await customers.lock_balances([row.customer_id for row in credited])
    taken_back = {
        row.customer_id: min(row.points, balances.get(row.customer_id, 0)) for row in credited
    }
    shortfall = sum(row.points - taken_back[row.customer_id] for row in credited)
    entries = [
        BulkEntry(
            new_id(),
            row.customer_id,
            -taken_back[row.customer_id],
            f"{import_key_prefix(import_id)}{row.row_number}:revert",
        )
        for row in credited
        if taken_back[row.customer_id] > 0
    ]
    ledger = LedgerRepository(session, merchant_id)
    recorded = await ledger.record_many(
        entries,
        kind=PointsTransactionKind.REVERSE,
        reason=f"Import {import_id} reverted",
        source=IMPORT_SOURCE,
        explanation={
            **trace(TraceStep("data_import_revert", True, f"import {import_id} reverted")),
            "import_id": import_id,
        },
        expires_at=None,
        actor_id=actor_id,
    )
    lot_of = {row.customer_id: row.transaction_id for row in credited}
    await ledger.consume_many(
        {entry.customer_id: (-entry.points, lot_of[entry.customer_id]) for entry in recorded}
    )
    created = [row.customer_id for row in rows if row.created_customer]
    active = await ledger.customers_with_entries_except(created, import_key_prefix(import_id))
    removed = await customers.delete_without_orders([c for c in created if c not in active])
    if await TierRepository(session, merchant_id).tiers():
        await recalculate_tiers(session, merchant_id, actor_id=actor_id)
    reverted_points = sum(-entry.points for entry in recorded)
    updated = await imports.update_one(
        import_id,
        {
            "status": DataImportStatus.REVERTED,
            "reverted_at": now,
            "reverted_points": reverted_points,
            "revert_shortfall": shortfall,
            "removed_customers": removed,
        },
    )
    assert updated is not None, "the import is locked"
    await write.audit.record(
        AuditAction.DATA_IMPORT_REVERTED,
        {
            "import_id": import_id,
            "reverted_points": reverted_points,
            "shortfall": shortfall,
            "removed_customers": removed,
        },
    )
    return RevertOutcome(updated, False)
