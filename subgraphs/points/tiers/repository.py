"""Every SQL statement on ``vip_tiers``. Which tier each customer holds is a column of
``customers`` (``customers.repository``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import VipTier
from subgraphs.kit.repository import TenantRepository


async def merchant_ids_with_tiers(
    session: AsyncSession, after: str | None, limit: int
) -> list[str]:
    """Merchants that have tiers, by id, one page after ``after`` (a system session: it spans
    tenants)."""
    query = select(VipTier.merchant_id).distinct()
    if after is not None:
        query = query.where(VipTier.merchant_id > after)
    result = await session.scalars(query.order_by(VipTier.merchant_id).limit(limit))
    return list(result)


class TierRepository(TenantRepository[VipTier]):
    model = VipTier

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
        return await self.get_all(order_by=(VipTier.rank,))

    async def tier(self, tier_id: str) -> VipTier | None:
        return await self.get_one_or_none(VipTier.id == tier_id)

    async def insert(
        self,
        *,
        tier_id: str,
        name: dict[str, str],
        rank: int,
        rules: dict[str, Any],
        benefits: dict[str, Any],
        idempotency_key: str,
        idempotency_fingerprint: str,
    ) -> VipTier:
        return await self.insert_one(
            {
                "id": tier_id,
                "name": name,
                "rank": rank,
                "rules": rules,
                "benefits": benefits,
                "idempotency_key": idempotency_key,
                "idempotency_fingerprint": idempotency_fingerprint,
            }
        )

    async def tier_by_idempotency_key(self, key: str) -> VipTier | None:
        return await self.get_one_or_none(VipTier.idempotency_key == key)
