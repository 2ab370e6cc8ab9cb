"""SQL of VIP tiers and of the customer facts their rules read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.ids import new_id
from db.models import AuditLog, Customer, VipTier

_FACT_COLUMNS = (
    Customer.id,
    Customer.total_points_earned,
    Customer.total_spent,
    Customer.rfm_score,
    Customer.vip_tier_id,
)


@dataclass(frozen=True, slots=True)
class CustomerTierFacts:
    """What the tier rules read of one customer, and the tier they hold now."""

    customer_id: str
    points_earned: int
    total_spent: Decimal
    rfm_score: dict[str, Any] | None
    tier_id: str | None


def _facts(row: Any) -> CustomerTierFacts:
    return CustomerTierFacts(
        customer_id=row.id,
        points_earned=row.total_points_earned,
        total_spent=row.total_spent,
        rfm_score=row.rfm_score,
        tier_id=row.vip_tier_id,
    )


async def merchant_ids_with_tiers(session: AsyncSession) -> list[str]:
    """Every merchant that has tiers (a system session: it spans tenants)."""
    result = await session.scalars(
        select(VipTier.merchant_id).distinct().order_by(VipTier.merchant_id)
    )
    return list(result)


class TierRepository:
    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self._session = session
        self._merchant_id = merchant_id

    async def lock(self) -> None:
        """Serialize tier edits and recalculations of one merchant until the transaction ends:
        the rank check then holds until the insert, and two recalculations never interleave."""
        await self._session.execute(
            select(
                func.pg_advisory_xact_lock(
                    func.hashtextextended("vip_tiers:" + self._merchant_id, 0)
                )
            )
        )

    async def tiers(self) -> list[VipTier]:
        """All the merchant's tiers, lowest rank first."""
        result = await self._session.scalars(
            select(VipTier).where(VipTier.merchant_id == self._merchant_id).order_by(VipTier.rank)
        )
        return list(result)

    async def tier(self, tier_id: str) -> VipTier | None:
        result = await self._session.scalars(
            select(VipTier).where(VipTier.merchant_id == self._merchant_id, VipTier.id == tier_id)
        )
        return result.one_or_none()

    async def insert(
        self,
        *,
        tier_id: str,
        name: dict[str, str],
        rank: int,
        rules: dict[str, Any],
        benefits: dict[str, Any],
    ) -> VipTier:
        result = await self._session.scalars(
            insert(VipTier)
            .values(
                merchant_id=self._merchant_id,
                id=tier_id,
                name=name,
                rank=rank,
                rules=rules,
                benefits=benefits,
            )
            .returning(VipTier)
        )
        return result.one()

    async def update(self, tier_id: str, values: Mapping[str, Any]) -> VipTier | None:
        result = await self._session.scalars(
            update(VipTier)
            .where(VipTier.merchant_id == self._merchant_id, VipTier.id == tier_id)
            .values(**values)
            .returning(VipTier),
            execution_options={"populate_existing": True, "synchronize_session": False},
        )
        return result.one_or_none()

    async def delete(self, tier_id: str) -> bool:
        result = await self._session.execute(
            delete(VipTier)
            .where(VipTier.merchant_id == self._merchant_id, VipTier.id == tier_id)
            .returning(VipTier.id),
            execution_options={"synchronize_session": False},
        )
        return result.scalar_one_or_none() is not None

    async def customer_facts_after(
        self, after: str | None, limit: int, *, lock: bool = False
    ) -> list[CustomerTierFacts]:
        """The next ``limit`` customers in id order. ``lock`` holds them until the transaction
        ends, so a concurrent ledger write waits and then reassigns under the new tiers."""
        query = select(*_FACT_COLUMNS).where(Customer.merchant_id == self._merchant_id)
        if after is not None:
            query = query.where(Customer.id > after)
        query = query.order_by(Customer.id).limit(limit)
        if lock:
            # NO KEY UPDATE: blocks ledger writers (FOR UPDATE) but not inserts that only
            # reference the customer (ledger rows, redemptions).
            query = query.with_for_update(key_share=True)
        result = await self._session.execute(query)
        return [_facts(row) for row in result]

    async def customer_facts_by_ids(self, customer_ids: Sequence[str]) -> list[CustomerTierFacts]:
        result = await self._session.execute(
            select(*_FACT_COLUMNS).where(
                Customer.merchant_id == self._merchant_id, Customer.id.in_(customer_ids)
            )
        )
        return [_facts(row) for row in result]

    async def assign(self, tier_by_customer: Mapping[str, str | None]) -> None:
        """Set each customer's tier: one statement per target tier, not per customer."""
        by_tier: dict[str | None, list[str]] = {}
        for customer_id, tier_id in tier_by_customer.items():
            by_tier.setdefault(tier_id, []).append(customer_id)
        for tier_id, customer_ids in by_tier.items():
            await self._session.execute(
                update(Customer)
                .where(Customer.merchant_id == self._merchant_id, Customer.id.in_(customer_ids))
                .values(vip_tier_id=tier_id),
                execution_options={"synchronize_session": False},
            )

    async def insert_audit_logs(
        self, action: str, entries: Sequence[dict[str, Any]], *, actor_id: str | None
    ) -> None:
        """One multi-row insert for a batch of audit entries of the same action."""
        if not entries:
            return
        await self._session.execute(
            insert(AuditLog),
            [
                {
                    "merchant_id": self._merchant_id,
                    "id": new_id(),
                    "action": action,
                    "actor_id": actor_id,
                    "metadata_": metadata,
                }
                for metadata in entries
            ],
        )
