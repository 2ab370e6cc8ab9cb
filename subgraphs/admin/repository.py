"""Every SQL statement of the admin domain."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Merchant


class MerchantsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def merchants_by_ids(self, merchant_ids: Sequence[str]) -> list[Merchant]:
        result = await self._session.scalars(select(Merchant).where(Merchant.id.in_(merchant_ids)))
        return list(result)

    async def merchant_by_shop(self, shop_domain: str) -> Merchant | None:
        result = await self._session.scalars(
            select(Merchant).where(Merchant.shop_domain == shop_domain)
        )
        return result.one_or_none()

    async def insert_merchant(
        self, *, merchant_id: str, shop_domain: str, plan: str
    ) -> Merchant | None:
        """``None`` when the shop is already installed."""
        statement = (
            pg_insert(Merchant)
            .values(id=merchant_id, shop_domain=shop_domain, plan=plan)
            .on_conflict_do_nothing(index_elements=["shop_domain"])
            .returning(Merchant)
        )
        result = await self._session.scalars(select(Merchant).from_statement(statement))
        return result.one_or_none()


async def maintain_log_partitions(session: AsyncSession) -> list[tuple[str, str]]:
    result = await session.execute(text("SELECT * FROM loyalnest_maintain_log_partitions()"))
    return [(str(action), str(name)) for action, name in result.all()]
