"""Every SQL statement on ``rewards`` (the catalog) and ``reward_redemptions`` (what customers
redeemed from it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import RedemptionStatus, Reward, RewardRedemption
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.repository import TenantRepository, pages_by


@dataclass(frozen=True, slots=True)
class RedemptionWithReward:
    redemption: RewardRedemption
    reward: Reward


@dataclass(frozen=True, slots=True)
class StaleRedemption:
    merchant_id: str
    redemption_id: str


class RewardRepository(TenantRepository[Reward]):
    model = Reward

    async def insert_new_reward(
        self, reward_id: str, values: dict[str, Any], idempotency_key: str, fingerprint: str
    ) -> Reward | None:
        """The new reward; None when ``idempotency_key`` already holds one (waiting, if a
        concurrent transaction holds it uncommitted, for that one to end)."""
        return await self.insert_new(
            {
                "id": reward_id,
                **values,
                "idempotency_key": idempotency_key,
                "idempotency_fingerprint": fingerprint,
            }
        )

    async def reward_by_idempotency_key(self, key: str) -> Reward | None:
        """Deleted rewards too: the key stays theirs."""
        return await self.get_one_or_none(Reward.idempotency_key == key)

    async def reward_by_id(
        self, reward_id: str, *, for_update: bool = False, include_deleted: bool = False
    ) -> Reward | None:
        conditions = [Reward.id == reward_id]
        if not include_deleted:
            conditions.append(Reward.deleted_at.is_(None))
        return await self.get_one_or_none(*conditions, for_update=for_update)

    async def rewards_by_ids(self, reward_ids: Sequence[str]) -> list[Reward]:
        """The merchant's rewards among ``reward_ids`` (not deleted ones), in no order."""
        return await self.get_by_ids(reward_ids, Reward.deleted_at.is_(None))

    async def update_reward(
        self, reward_id: str, values: dict[str, Any], *, expected_version: int | None = None
    ) -> Reward | None:
        """The reward as updated (its version bumped); None when there is no such reward (or
        it was deleted); StaleVersion when it is no longer at ``expected_version``."""
        return await self.update_versioned(
            reward_id, values, Reward.deleted_at.is_(None), expected_version=expected_version
        )

    async def rewards_page(
        self, page: PageRequest, *, available_at: datetime | None
    ) -> Page[Reward]:
        """Oldest first; ``available_at`` keeps only the rewards redeemable at that moment."""
        conditions: list[ColumnElement[bool]] = [Reward.deleted_at.is_(None)]
        if available_at is not None:
            conditions += [
                Reward.active.is_(True),
                or_(Reward.starts_at.is_(None), Reward.starts_at <= available_at),
                or_(Reward.ends_at.is_(None), Reward.ends_at > available_at),
            ]
        return await self.paginate(page, *conditions, keyset=(Reward.id,))


class RedemptionRepository(TenantRepository[RewardRedemption]):
    model = RewardRedemption

    async def redemption_by_idempotency_key(self, key: str) -> RewardRedemption | None:
        return await self.get_one_or_none(RewardRedemption.idempotency_key == key)

    async def redemption_by_id(
        self, redemption_id: str, *, for_update: bool = False
    ) -> RewardRedemption | None:
        """``for_update`` row-locks it, so the request that created it and the sweeper never
        both settle it."""
        return await self.get_one_or_none(
            RewardRedemption.id == redemption_id, for_update=for_update
        )

    async def redemptions_by_ids(self, redemption_ids: Sequence[str]) -> list[RedemptionWithReward]:
        """The merchant's redemptions among ``redemption_ids``, each with its reward (deleted
        ones too, as in a customer's history), in no order, in one statement."""
        statement = (
            self._select(RewardRedemption.id.in_(list(redemption_ids)))
            .add_columns(Reward)
            .join(
                Reward,
                and_(
                    Reward.merchant_id == RewardRedemption.merchant_id,
                    Reward.id == RewardRedemption.reward_id,
                ),
            )
        )
        return [
            RedemptionWithReward(row, reward)
            for row, reward in await self._session.execute(statement)
        ]

    async def count_unrefunded(self, customer_id: str, reward_id: str) -> int:
        count = await self._session.scalar(
            select(func.count()).where(
                self._mine,
                RewardRedemption.customer_id == customer_id,
                RewardRedemption.reward_id == reward_id,
                RewardRedemption.status != RedemptionStatus.REFUNDED,
            )
        )
        return int(count or 0)

    async def insert_redemption(
        self,
        *,
        redemption_id: str,
        customer_id: str,
        reward_id: str,
        points_spent: int,
        idempotency_key: str,
        code_encrypted: str,
        sandbox: bool,
        value_amount: Decimal | None,
        currency_code: str,
        debit_transaction_id: str,
    ) -> RewardRedemption:
        return await self.insert_one(
            {
                "id": redemption_id,
                "customer_id": customer_id,
                "reward_id": reward_id,
                "status": RedemptionStatus.PENDING,
                "points_spent": points_spent,
                "idempotency_key": idempotency_key,
                "code_encrypted": code_encrypted,
                "sandbox": sandbox,
                "value_amount": value_amount,
                "currency_code": currency_code,
                "debit_transaction_id": debit_transaction_id,
            }
        )

    async def mark_issued(
        self, redemption_id: str, shopify_discount_id: str | None
    ) -> RewardRedemption:
        return await self._settle(
            redemption_id,
            status=RedemptionStatus.ISSUED,
            shopify_discount_id=shopify_discount_id,
        )

    async def mark_refunded(
        self, redemption_id: str, *, refund_transaction_id: str, failure: str
    ) -> RewardRedemption:
        return await self._settle(
            redemption_id,
            status=RedemptionStatus.REFUNDED,
            refund_transaction_id=refund_transaction_id,
            failure=failure,
        )

    async def _settle(self, redemption_id: str, **values: Any) -> RewardRedemption:
        redemption = await self.update_one(redemption_id, values)
        assert redemption is not None, "redemptions are never deleted"
        return redemption

    async def redemption_pages(
        self, customer_ids: Sequence[str], page: PageRequest
    ) -> dict[str, Page[RedemptionWithReward]]:
        """Newest first, one page per customer with each redemption's reward (deleted ones
        too: history keeps what was redeemed), all in one statement."""
        redemption, statement = self._page_per_owner(
            "customer_id",
            customer_ids,
            page,
            keyset=(RewardRedemption.created_at, RewardRedemption.id),
        )
        statement = statement.add_columns(Reward).join(
            Reward,
            and_(Reward.merchant_id == redemption.merchant_id, Reward.id == redemption.reward_id),
        )
        rows = [
            RedemptionWithReward(row, reward)
            for row, reward in await self._session.execute(statement)
        ]
        return pages_by(rows, customer_ids, lambda view: view.redemption.customer_id, page)


async def stale_pending_redemptions(
    session: AsyncSession, *, created_before: datetime, limit: int
) -> list[StaleRedemption]:
    """Across all merchants (a system unit of work): redemptions still pending since before
    the cutoff, oldest first."""
    result = await session.execute(
        select(RewardRedemption.merchant_id, RewardRedemption.id)
        .where(
            RewardRedemption.status == RedemptionStatus.PENDING,
            RewardRedemption.created_at < created_before,
        )
        .order_by(RewardRedemption.created_at)
        .limit(limit)
    )
    return [StaleRedemption(row.merchant_id, row.id) for row in result]
