"""Every SQL statement of the referrals domain, scoped to one merchant."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from db.models import Customer, ReferralLink
from subgraphs.kit.repository import TenantRepository


class ReferralsRepository(TenantRepository[ReferralLink]):
    model = ReferralLink

    async def customer_exists(self, customer_id: str) -> bool:
        result = await self._session.execute(
            select(
                exists().where(
                    Customer.merchant_id == self._merchant_id, Customer.id == customer_id
                )
            )
        )
        return bool(result.scalar())

    async def links_by_advocates(self, customer_ids: Sequence[str]) -> list[ReferralLink]:
        result = await self._session.scalars(
            select(ReferralLink).where(
                ReferralLink.merchant_id == self._merchant_id,
                ReferralLink.advocate_customer_id.in_(customer_ids),
            )
        )
        return list(result)

    async def links_by_codes(self, codes: Sequence[str]) -> list[ReferralLink]:
        result = await self._session.scalars(
            select(ReferralLink).where(
                ReferralLink.merchant_id == self._merchant_id, ReferralLink.code.in_(codes)
            )
        )
        return list(result)

    async def insert_link(
        self, *, link_id: str, customer_id: str, code: str
    ) -> ReferralLink | None:
        """``None`` when the code is taken or the advocate already has a link."""
        statement = (
            pg_insert(ReferralLink)
            .values(
                merchant_id=self._merchant_id,
                id=link_id,
                advocate_customer_id=customer_id,
                code=code,
            )
            .on_conflict_do_nothing()
            .returning(ReferralLink)
        )
        result = await self._session.scalars(select(ReferralLink).from_statement(statement))
        return result.one_or_none()

    async def count_click(self, link_id: str) -> None:
        """One more visitor on the link (the click was recorded in the same transaction)."""
        await self._session.execute(
            update(ReferralLink)
            .where(self._mine, ReferralLink.id == link_id)
            .values(click_count=ReferralLink.click_count + 1)
        )
