"""SQL of the rewards catalog and of the redemptions made from it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.models import Merchant, RedemptionStatus, Reward, RewardRedemption
from subgraphs.kit.pagination import Page, PageRequest


@dataclass(frozen=True, slots=True)
class MerchantConnection:
    """What issuing a discount needs to know about the shop."""

    shop_domain: str
    api_token_encrypted: str | None


@dataclass(frozen=True, slots=True)
class RedemptionWithReward:
    redemption: RewardRedemption
    reward: Reward


@dataclass(frozen=True, slots=True)
class StaleRedemption:
    merchant_id: str
    redemption_id: str


class RewardRepository:
    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self._session = session
        self._merchant_id = merchant_id

    # --- catalog ---------------------------------------------------------------------------

    async def insert_reward(self, reward_id: str, values: dict[str, Any]) -> Reward:
        result = await self._session.scalars(
            select(Reward).from_statement(
                pg_insert(Reward)
                .values(merchant_id=self._merchant_id, id=reward_id, **values)
                .returning(Reward)
            ),
            execution_options={"populate_existing": True},
        )
        row: Reward = result.one()
        return row

    async def reward_by_id(
        self, reward_id: str, *, for_update: bool = False, include_deleted: bool = False
    ) -> Reward | None:
        query = select(Reward).where(
            Reward.merchant_id == self._merchant_id, Reward.id == reward_id
        )
        if not include_deleted:
            query = query.where(Reward.deleted_at.is_(None))
        if for_update:
            query = query.with_for_update()
        result = await self._session.scalars(query, execution_options={"populate_existing": True})
        return result.one_or_none()

    async def update_reward(self, reward_id: str, values: dict[str, Any]) -> Reward | None:
        result = await self._session.scalars(
            select(Reward).from_statement(
                update(Reward)
                .where(
                    Reward.merchant_id == self._merchant_id,
                    Reward.id == reward_id,
                    Reward.deleted_at.is_(None),
                )
                .values(**values)
                .returning(Reward)
            ),
            execution_options={"populate_existing": True},
        )
        return result.one_or_none()

    async def rewards_page(
        self, page: PageRequest, *, available_at: datetime | None
    ) -> Page[Reward]:
        """Oldest first; ``available_at`` keeps only the rewards redeemable at that moment."""
        conditions = [Reward.merchant_id == self._merchant_id, Reward.deleted_at.is_(None)]
        if available_at is not None:
            conditions += [
                Reward.active.is_(True),
                or_(Reward.starts_at.is_(None), Reward.starts_at <= available_at),
                or_(Reward.ends_at.is_(None), Reward.ends_at > available_at),
            ]
        if page.after is not None:
            conditions.append(Reward.id > str(page.after[0]))
        rows = await self._session.scalars(
            select(Reward).where(and_(*conditions)).order_by(Reward.id).limit(page.limit + 1)
        )
        return Page.from_overfetch(list(rows), page.limit)

    # --- redemptions -----------------------------------------------------------------------

    async def merchant_connection(self) -> MerchantConnection:
        row = (
            await self._session.execute(
                select(Merchant.shop_domain, Merchant.api_token_encrypted).where(
                    Merchant.id == self._merchant_id
                )
            )
        ).one()
        return MerchantConnection(row.shop_domain, row.api_token_encrypted)

    async def redemption_by_idempotency_key(self, key: str) -> RewardRedemption | None:
        result = await self._session.scalars(
            select(RewardRedemption).where(
                RewardRedemption.merchant_id == self._merchant_id,
                RewardRedemption.idempotency_key == key,
            ),
            execution_options={"populate_existing": True},
        )
        return result.one_or_none()

    async def redemption_by_id(self, redemption_id: str) -> RewardRedemption | None:
        result = await self._session.scalars(
            select(RewardRedemption).where(
                RewardRedemption.merchant_id == self._merchant_id,
                RewardRedemption.id == redemption_id,
            )
        )
        return result.one_or_none()

    async def lock_redemption(self, redemption_id: str) -> RewardRedemption | None:
        """Row-locked, so the request that created it and the sweeper never both settle it."""
        result = await self._session.scalars(
            select(RewardRedemption)
            .where(
                RewardRedemption.merchant_id == self._merchant_id,
                RewardRedemption.id == redemption_id,
            )
            .with_for_update(),
            execution_options={"populate_existing": True},
        )
        return result.one_or_none()

    async def count_unrefunded(self, customer_id: str, reward_id: str) -> int:
        count = await self._session.scalar(
            select(func.count()).where(
                RewardRedemption.merchant_id == self._merchant_id,
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
        result = await self._session.scalars(
            select(RewardRedemption).from_statement(
                pg_insert(RewardRedemption)
                .values(
                    merchant_id=self._merchant_id,
                    id=redemption_id,
                    customer_id=customer_id,
                    reward_id=reward_id,
                    status=RedemptionStatus.PENDING,
                    points_spent=points_spent,
                    idempotency_key=idempotency_key,
                    code_encrypted=code_encrypted,
                    sandbox=sandbox,
                    value_amount=value_amount,
                    currency_code=currency_code,
                    debit_transaction_id=debit_transaction_id,
                )
                .returning(RewardRedemption)
            ),
            execution_options={"populate_existing": True},
        )
        row: RewardRedemption = result.one()
        return row

    async def mark_issued(
        self, redemption_id: str, shopify_discount_id: str | None
    ) -> RewardRedemption:
        return await self._update_redemption(
            redemption_id,
            status=RedemptionStatus.ISSUED,
            shopify_discount_id=shopify_discount_id,
        )

    async def mark_refunded(
        self, redemption_id: str, *, refund_transaction_id: str, failure: str
    ) -> RewardRedemption:
        return await self._update_redemption(
            redemption_id,
            status=RedemptionStatus.REFUNDED,
            refund_transaction_id=refund_transaction_id,
            failure=failure,
        )

    async def _update_redemption(self, redemption_id: str, **values: Any) -> RewardRedemption:
        result = await self._session.scalars(
            select(RewardRedemption).from_statement(
                update(RewardRedemption)
                .where(
                    RewardRedemption.merchant_id == self._merchant_id,
                    RewardRedemption.id == redemption_id,
                )
                .values(**values)
                .returning(RewardRedemption)
            ),
            execution_options={"populate_existing": True},
        )
        row: RewardRedemption = result.one()
        return row

    async def redemption_pages(
        self, customer_ids: Sequence[str], page: PageRequest
    ) -> dict[str, Page[RedemptionWithReward]]:
        """Newest first, one page per customer with each redemption's reward (deleted ones
        too: history keeps what was redeemed), all in one statement."""
        conditions = [
            RewardRedemption.merchant_id == self._merchant_id,
            RewardRedemption.customer_id.in_(customer_ids),
        ]
        if page.after is not None:
            created_at, redemption_id = page.after
            conditions.append(
                tuple_(RewardRedemption.created_at, RewardRedemption.id)
                < tuple_(datetime.fromisoformat(str(created_at)), str(redemption_id))
            )
        position = (
            func.row_number()
            .over(
                partition_by=RewardRedemption.customer_id,
                order_by=(RewardRedemption.created_at.desc(), RewardRedemption.id.desc()),
            )
            .label("position")
        )
        ranked = select(RewardRedemption, position).where(and_(*conditions)).subquery("ranked")
        redemption = aliased(RewardRedemption, ranked)
        statement = (
            select(redemption, Reward)
            .join(
                Reward,
                and_(
                    Reward.merchant_id == redemption.merchant_id,
                    Reward.id == redemption.reward_id,
                ),
            )
            .where(ranked.c.position <= page.limit + 1)
            .order_by(ranked.c.customer_id, ranked.c.position)
        )
        grouped: dict[str, list[RedemptionWithReward]] = {
            customer_id: [] for customer_id in customer_ids
        }
        for row, reward in await self._session.execute(statement):
            grouped[row.customer_id].append(RedemptionWithReward(row, reward))
        return {
            customer_id: Page.from_overfetch(rows, page.limit)
            for customer_id, rows in grouped.items()
        }


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
