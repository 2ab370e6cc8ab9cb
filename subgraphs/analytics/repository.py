"""Every SQL statement of the analytics metrics, scoped to one merchant, and the walk over
merchants analytics' jobs take."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    Customer,
    Merchant,
    PointsTransaction,
    PointsTransactionKind,
    RedemptionStatus,
    RewardRedemption,
)
from subgraphs.kit.repository import TenantRepository


@dataclass(frozen=True, slots=True)
class LoyaltyTotals:
    members_count: int
    points_issued: int
    points_redeemed: int
    rewards_redeemed: int


class AnalyticsRepository(TenantRepository[Customer]):
    model = Customer

    async def loyalty_totals(self) -> LoyaltyTotals:
        redemptions = (
            select(func.count())
            .where(
                RewardRedemption.merchant_id == self._merchant_id,
                RewardRedemption.status == RedemptionStatus.ISSUED,
            )
            .scalar_subquery()
        )
        members = select(func.count(), redemptions).where(Customer.merchant_id == self._merchant_id)
        ledger = select(
            func.coalesce(
                func.sum(PointsTransaction.points).filter(PointsTransaction.points > 0), 0
            ),
            func.coalesce(
                -func.sum(PointsTransaction.points).filter(
                    PointsTransaction.kind == PointsTransactionKind.REDEEM
                ),
                0,
            ),
        ).where(PointsTransaction.merchant_id == self._merchant_id)
        members_count, rewards_redeemed = (await self._session.execute(members)).one()
        issued, redeemed = (await self._session.execute(ledger)).one()
        return LoyaltyTotals(
            members_count=int(members_count),
            points_issued=int(issued),
            points_redeemed=int(redeemed),
            rewards_redeemed=int(rewards_redeemed),
        )


async def installed_merchants(session: AsyncSession, after: str | None, limit: int) -> list[str]:
    """Installed merchants by id, one page after ``after`` (system unit of work: every
    merchant) — the shops analytics' nightly work walks."""
    query = select(Merchant.id).where(Merchant.uninstalled_at.is_(None))
    if after is not None:
        query = query.where(Merchant.id > after)
    return list((await session.scalars(query.order_by(Merchant.id).limit(limit))).all())
