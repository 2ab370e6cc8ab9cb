"""Reads straight from Postgres that ledger tests compare against."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update

from db.models import Customer, PointsTransaction
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant


@dataclass(frozen=True)
class LedgerState:
    balance: int
    ledger_sum: int
    open_lots: int
    rows: int

    @property
    def consistent(self) -> bool:
        """The invariants: balance = signed sum of the ledger = unspent lots, never negative."""
        return self.balance == self.ledger_sum == self.open_lots and self.balance >= 0


async def ledger_state(resources: Resources, tenant: Tenant, customer_id: str) -> LedgerState:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        balance = await session.scalar(
            select(Customer.points_balance).where(
                Customer.merchant_id == tenant.merchant_id, Customer.id == customer_id
            )
        )
        total, lots, rows = (
            await session.execute(
                select(
                    func.coalesce(func.sum(PointsTransaction.points), 0),
                    func.coalesce(func.sum(PointsTransaction.remaining_points), 0),
                    func.count(),
                ).where(
                    PointsTransaction.merchant_id == tenant.merchant_id,
                    PointsTransaction.customer_id == customer_id,
                )
            )
        ).one()
    assert balance is not None
    return LedgerState(balance, int(total or 0), int(lots or 0), int(rows or 0))


async def set_customer_facts(
    resources: Resources, tenant: Tenant, customer_id: str, **values: object
) -> None:
    """Facts analytics would have computed (RFM segment, country...)."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await session.execute(
            update(Customer)
            .where(Customer.merchant_id == tenant.merchant_id, Customer.id == customer_id)
            .values(**values)
        )


async def customer_row(resources: Resources, tenant: Tenant, customer_id: str) -> Customer:
    """The customer's row as committed (balance, lifetime facts, last activity)."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        row = await session.get(Customer, (tenant.merchant_id, customer_id))
    assert row is not None
    return row
