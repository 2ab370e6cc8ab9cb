"""Every SQL statement on ``merchant_referrals``. The rows a repository sees are those its
merchant is party to (referred, or advocate), or every merchant's for LoyalNest staff in a
system unit of work; row-level security checks the same parties again for the app role."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import MerchantReferral
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.repository import TenantRepository


class MerchantReferralsRepository(TenantRepository[MerchantReferral]):
    model = MerchantReferral

    def __init__(self, session: AsyncSession, merchant_id: str | None) -> None:
        """``merchant_id`` None: every merchant's referrals (staff, system unit of work)."""
        super().__init__(session, merchant_id or "")
        self._every_merchant = merchant_id is None

    @property
    def _mine(self) -> ColumnElement[bool]:
        # A referral belongs to both of its shops, so "mine" is either side.
        if self._every_merchant:
            return true()
        return or_(
            MerchantReferral.merchant_id == self._merchant_id,
            MerchantReferral.advocate_merchant_id == self._merchant_id,
        )

    async def referrals_page(
        self, *, status: str | None, advocate_only: bool, page: PageRequest
    ) -> Page[MerchantReferral]:
        """Newest first; ``advocate_only``: the shops this merchant referred."""
        conditions: list[ColumnElement[bool]] = []
        if status is not None:
            conditions.append(MerchantReferral.status == status)
        if advocate_only:
            conditions.append(MerchantReferral.advocate_merchant_id == self._merchant_id)
        return await self.paginate(
            page,
            *conditions,
            keyset=(MerchantReferral.created_at, MerchantReferral.id),
            descending=True,
        )

    async def referral_of_referred(self, referred_merchant_id: str) -> MerchantReferral | None:
        return await self.get_one_or_none(MerchantReferral.merchant_id == referred_merchant_id)

    async def insert_completed(self, row: MerchantReferral) -> bool:
        """False when the shop had already been referred (a shop is referred once)."""
        values = {
            column.key: getattr(row, column.key)
            for column in MerchantReferral.__table__.columns
            if getattr(row, column.key) is not None
        }
        statement = (
            pg_insert(MerchantReferral)
            .values(values)
            .on_conflict_do_nothing(index_elements=["merchant_id"])
            .returning(MerchantReferral.id)
        )
        return (await self._session.scalar(statement)) is not None
