"""Sample files and direct reads the import tests share."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from db.models import Customer, DataImportSource, PointsTransaction
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.imports.service import ImportOutcome, ImportRequest, import_file
from tests.conftest import Tenant

SAMPLES = Path(__file__).parent / "samples"
BAD_ROWS_MAPPING = {
    "email": "email",
    "points": "points",
    "shopify_id": "shopify_customer_id",
    "phone": "phone",
    "country": "country_code",
    "joined": "signed_up_at",
    "birthday": "birthday",
    "rfm": "rfm_score",
    "stage": "lifecycle_stage",
}


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


async def run(
    resources: Resources,
    tenant: Tenant,
    source: DataImportSource,
    content: bytes,
    **options: object,
) -> ImportOutcome:
    request = ImportRequest(source=source, content=content, **options)  # type: ignore[arg-type]
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return await import_file(
            WriteContext(session, tenant.merchant_id), resources.cipher, request
        )


async def balances(resources: Resources, tenant: Tenant) -> dict[str, int]:
    """Every customer's balance, by email."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.execute(select(Customer.email_encrypted, Customer.points_balance))
        return {
            resources.cipher.decrypt(encrypted, context="customers.email"): balance
            for encrypted, balance in rows
        }


async def ledger_totals(resources: Resources, tenant: Tenant) -> tuple[int, int, int, int]:
    """(sum of balances, signed sum of the ledger, open lots, ledger rows) of the shop."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        balance = await session.scalar(select(func.coalesce(func.sum(Customer.points_balance), 0)))
        total, lots, rows = (
            await session.execute(
                select(
                    func.coalesce(func.sum(PointsTransaction.points), 0),
                    func.coalesce(func.sum(PointsTransaction.remaining_points), 0),
                    func.count(),
                )
            )
        ).one()
    return int(balance or 0), int(total or 0), int(lots or 0), int(rows or 0)


async def assert_invariants(resources: Resources, tenant: Tenant) -> None:
    """Per customer: balance = signed sum of the ledger = open lots, and never negative."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.execute(
            select(
                Customer.id,
                Customer.points_balance,
                func.coalesce(func.sum(PointsTransaction.points), 0),
                func.coalesce(func.sum(PointsTransaction.remaining_points), 0),
            )
            .outerjoin(
                PointsTransaction,
                (PointsTransaction.merchant_id == Customer.merchant_id)
                & (PointsTransaction.customer_id == Customer.id),
            )
            .group_by(Customer.id, Customer.points_balance)
        )
        broken = [
            (customer_id, balance, total, lots)
            for customer_id, balance, total, lots in rows
            if not balance == total == lots or balance < 0
        ]
    assert broken == []
