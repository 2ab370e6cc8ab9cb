"""Every SQL statement on ``referrals`` and ``referral_rewards``, scoped to one merchant."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, event, func, literal, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Session

from db.models import Referral, ReferralReward, ReferralRewardStatus, ReferralStatus
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.repository import TenantRepository, utc_date

# Customers the transaction knows nobody referred (by merchant): a worker batch asks once for
# all its buyers, where every paid order asked for its own (most buyers were not referred).
# Only a referral inserted here can make one of them referred in the transaction, and
# ``insert_new_referral`` forgets them; any rollback forgets all.
_NOT_REFERRED = "loyalnest.customers_not_referred"


@event.listens_for(Session, "after_soft_rollback")
def _forget_not_referred(session: Session, _previous: object) -> None:
    session.info.pop(_NOT_REFERRED, None)


class ConversionRepository(TenantRepository[Referral]):
    model = Referral

    def _not_referred(self) -> set[str]:
        memo: dict[str, set[str]] = self._session.info.setdefault(_NOT_REFERRED, {})
        return memo.setdefault(self._merchant_id, set())

    async def look_up_friends(self, customer_ids: Sequence[str]) -> None:
        """Remember which of these customers nobody referred, for ``by_friend``."""
        if not customer_ids:
            return
        referred = set(
            await self._session.scalars(
                select(Referral.friend_customer_id).where(
                    self._mine, Referral.friend_customer_id.in_(customer_ids)
                )
            )
        )
        self._not_referred().update(set(customer_ids) - referred)

    async def by_friend(
        self, friend_customer_id: str, *, for_update: bool = False
    ) -> Referral | None:
        if friend_customer_id in self._not_referred():
            return None
        return await self.get_one_or_none(
            Referral.friend_customer_id == friend_customer_id, for_update=for_update
        )

    async def by_id(self, referral_id: str, *, for_update: bool = False) -> Referral | None:
        return await self.get_one_or_none(Referral.id == referral_id, for_update=for_update)

    async def by_qualifying_order(
        self, order_id: str, *, for_update: bool = False
    ) -> Referral | None:
        return await self.get_one_or_none(
            Referral.qualifying_order_id == order_id, for_update=for_update
        )

    async def referrals_page(
        self, request: PageRequest, *, status: ReferralStatus | None = None
    ) -> Page[Referral]:
        """Newest first."""
        conditions = [] if status is None else [Referral.status == status.value]
        return await self.paginate(
            request, *conditions, keyset=(Referral.created_at, Referral.id), descending=True
        )

    async def referral_pages(
        self, advocate_ids: Sequence[str], request: PageRequest
    ) -> dict[str, Page[Referral]]:
        """Newest first, one page per advocate, all in one statement."""
        return await self.paginate_per_owner(
            "advocate_customer_id",
            advocate_ids,
            request,
            keyset=(Referral.created_at, Referral.id),
        )

    async def daily_counts(
        self, first: datetime, end: datetime
    ) -> dict[date, tuple[int, int, Decimal]]:
        """Per UTC day in [first, end): (referrals attributed, referrals completed, revenue of
        their qualifying orders). One statement."""
        attributed = select(
            utc_date(Referral.created_at).label("day"),
            literal(1).label("attributed"),
            literal(0).label("completed"),
            literal(0).label("revenue"),
        ).where(self._mine, Referral.created_at >= first, Referral.created_at < end)
        completed = select(
            utc_date(Referral.completed_at).label("day"),
            literal(0),
            literal(1),
            func.coalesce(Referral.qualifying_subtotal, 0),
        ).where(
            self._mine,
            Referral.status == ReferralStatus.COMPLETED.value,
            Referral.completed_at >= first,
            Referral.completed_at < end,
        )
        both = union_all(attributed, completed).subquery()
        statement = select(
            both.c.day, func.sum(both.c.attributed), func.sum(both.c.completed),
            func.sum(both.c.revenue),
        ).group_by(both.c.day)  # fmt: skip
        return {
            day: (int(attributed_count), int(completed_count), Decimal(revenue))
            for day, attributed_count, completed_count, revenue in await self._session.execute(
                statement
            )
        }

    async def top_advocates(
        self, first: datetime, end: datetime, limit: int
    ) -> list[tuple[str, int, Decimal]]:
        """(advocate, completed referrals, their revenue) in [first, end), most first."""
        completions = func.count()
        statement = (
            select(
                Referral.advocate_customer_id,
                completions,
                func.coalesce(func.sum(Referral.qualifying_subtotal), 0),
            )
            .where(
                self._mine,
                Referral.status == ReferralStatus.COMPLETED.value,
                Referral.completed_at >= first,
                Referral.completed_at < end,
            )
            .group_by(Referral.advocate_customer_id)
            .order_by(completions.desc(), Referral.advocate_customer_id)
            .limit(limit)
        )
        return [
            (advocate, int(count), Decimal(revenue or 0))
            for advocate, count, revenue in await self._session.execute(statement)
        ]

    async def activity_counts(self, first: datetime, end: datetime) -> tuple[int, int, int]:
        """(referrals attributed, completed, rejected) in [first, end). One statement."""

        def within(column: InstrumentedAttribute[Any]) -> ColumnElement[bool]:
            return and_(column >= first, column < end)

        completed = (Referral.status == ReferralStatus.COMPLETED.value) & within(
            Referral.completed_at
        )
        rejected = (Referral.status == ReferralStatus.REJECTED.value) & within(Referral.updated_at)
        statement = select(
            func.count().filter(within(Referral.created_at)),
            func.count().filter(completed),
            func.count().filter(rejected),
        ).where(self._mine, within(Referral.created_at) | completed | rejected)
        attributed, completed_count, rejected_count = (await self._session.execute(statement)).one()
        return int(attributed), int(completed_count), int(rejected_count)

    async def recently_changed(self, limit: int) -> list[Referral]:
        """The referrals changed last (attributed, completed, rejected...), newest first."""
        statement = (
            self._select().order_by(Referral.updated_at.desc(), Referral.id.desc()).limit(limit)
        )
        return list(await self._session.scalars(statement))

    async def add_refund(self, referral_id: str, amount: Decimal) -> Referral | None:
        return await self.update_one(
            referral_id, {"refunded_amount": Referral.refunded_amount + amount}
        )

    async def insert_new_referral(self, values: Mapping[str, Any]) -> Referral | None:
        """None when the friend was referred already (one referral per friend)."""
        self._not_referred().discard(str(values["friend_customer_id"]))
        return await self.insert_new(values)

    async def complete(
        self, referral_id: str, order_id: str, subtotal: Decimal, at: datetime
    ) -> Referral | None:
        return await self.update_one(
            referral_id,
            {
                "status": ReferralStatus.COMPLETED.value,
                "qualifying_order_id": order_id,
                "qualifying_subtotal": subtotal,
                "completed_at": at,
            },
            Referral.status == ReferralStatus.PENDING.value,
        )

    async def set_status(self, referral_id: str, status: ReferralStatus) -> None:
        await self.update_one(referral_id, {"status": status.value})

    async def completed_count(self, advocate_customer_id: str) -> int:
        """The advocate's completed referrals (the one being completed included)."""
        count = await self._session.scalar(
            select(func.count()).where(
                self._mine,
                Referral.advocate_customer_id == advocate_customer_id,
                Referral.status == ReferralStatus.COMPLETED.value,
            )
        )
        return int(count or 0)

    async def attributed_since(self, advocate_customer_id: str, since: datetime) -> int:
        count = await self._session.scalar(
            select(func.count()).where(
                self._mine,
                Referral.advocate_customer_id == advocate_customer_id,
                Referral.created_at >= since,
            )
        )
        return int(count or 0)


class ReferralRewardRepository(TenantRepository[ReferralReward]):
    model = ReferralReward

    async def insert_rewards(self, rows: Sequence[Mapping[str, Any]]) -> list[ReferralReward]:
        """Each side's reward once: a side rewarded already keeps its row."""
        made = [await self.insert_new(row) for row in rows]
        return [reward for reward in made if reward is not None]

    async def of_referrals(self, referral_ids: Sequence[str]) -> list[ReferralReward]:
        return await self.get_all(
            ReferralReward.referral_id.in_(referral_ids),
            order_by=(ReferralReward.referral_id, ReferralReward.side),
        )

    async def of_referral(self, referral_id: str) -> list[ReferralReward]:
        return await self.get_all(
            ReferralReward.referral_id == referral_id, order_by=(ReferralReward.side,)
        )

    async def move(
        self,
        referral_id: str,
        side: str | None,
        from_status: Sequence[ReferralRewardStatus],
        to_status: ReferralRewardStatus,
    ) -> list[ReferralReward]:
        """Rewards of the referral (one side, or both) in ``from_status`` moved to
        ``to_status``; the rewards moved."""
        conditions = [
            self._mine,
            ReferralReward.referral_id == referral_id,
            ReferralReward.status.in_([status.value for status in from_status]),
        ]
        if side is not None:
            conditions.append(ReferralReward.side == side)
        result = await self._session.scalars(
            select(ReferralReward).from_statement(
                update(ReferralReward)
                .where(*conditions)
                .values(status=to_status.value, updated_at=func.now())
                .returning(ReferralReward)
            ),
            execution_options={"populate_existing": True},
        )
        return list(result)

    async def due(self, now: datetime, limit: int) -> list[ReferralReward]:
        """Pending rewards whose release time has come, locked for this transaction; rows
        another worker holds are skipped, so two workers never issue one reward."""
        result = await self._session.scalars(
            select(ReferralReward)
            .where(
                self._mine,
                ReferralReward.status == ReferralRewardStatus.PENDING.value,
                ReferralReward.release_at <= now,
            )
            .order_by(ReferralReward.release_at, ReferralReward.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(result)

    async def held_referrals_since(self, since: datetime | None) -> int:
        """Referrals with a reward held for review, held since ``since`` (None: ever)."""
        query = select(func.count(func.distinct(ReferralReward.referral_id))).where(
            self._mine, ReferralReward.status == ReferralRewardStatus.HELD.value
        )
        if since is not None:
            query = query.where(ReferralReward.created_at > since)
        return int(await self._session.scalar(query) or 0)

    async def issued_points(self, first: datetime, end: datetime) -> int:
        """Points of the rewards issued in [first, end): what the program cost."""
        total = await self._session.scalar(
            select(func.coalesce(func.sum(ReferralReward.points), 0)).where(
                self._mine,
                ReferralReward.status == ReferralRewardStatus.ISSUED.value,
                ReferralReward.issued_at >= first,
                ReferralReward.issued_at < end,
            )
        )
        return int(total or 0)

    async def mark_issued(
        self,
        reward_id: str,
        at: datetime,
        *,
        discount_code_encrypted: str | None = None,
        discount_id: str | None = None,
    ) -> None:
        await self.update_one(
            reward_id,
            {
                "status": ReferralRewardStatus.ISSUED.value,
                "issued_at": at,
                "discount_code_encrypted": discount_code_encrypted,
                "discount_id": discount_id,
                "last_error": None,
            },
        )

    async def mark_failed(self, reward_id: str, error: str) -> None:
        await self.update_one(
            reward_id, {"status": ReferralRewardStatus.FAILED.value, "last_error": error}
        )


async def merchants_with_held_rewards(session: AsyncSession) -> list[str]:
    """Merchants with referrals waiting for review (as the table owner: spans tenants)."""
    result = await session.scalars(
        select(ReferralReward.merchant_id)
        .where(ReferralReward.status == ReferralRewardStatus.HELD.value)
        .distinct()
    )
    return list(result)


async def merchants_with_due_rewards(session: AsyncSession, now: datetime) -> list[str]:
    """Merchants with a reward to release (as the table owner: the sweep spans tenants)."""
    result = await session.scalars(
        select(ReferralReward.merchant_id)
        .where(
            ReferralReward.status == ReferralRewardStatus.PENDING.value,
            ReferralReward.release_at <= now,
        )
        .distinct()
    )
    return list(result)
