"""Every SQL statement of the admin subgraph on ``merchants`` (kit's core keeps the shop ->
merchant id lookup authentication needs). Runs in a system unit of work for installs, in the
merchant's tenant unit of work otherwise (row-level security shows only that merchant)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Merchant
from subgraphs.kit.repository import rowcount


class MerchantsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def merchants_by_ids(self, merchant_ids: Sequence[str]) -> list[Merchant]:
        result = await self._session.scalars(select(Merchant).where(Merchant.id.in_(merchant_ids)))
        return list(result)

    async def merchant_by_id(self, merchant_id: str) -> Merchant | None:
        found = await self.merchants_by_ids([merchant_id])
        return found[0] if found else None

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

    async def store_access_token(self, merchant_id: str, api_token_encrypted: str) -> bool:
        """Store the token and mark the shop installed again; True if it had been uninstalled."""
        was_uninstalled = await self._session.scalar(
            select(Merchant.uninstalled_at.is_not(None))
            .where(Merchant.id == merchant_id)
            .with_for_update()
        )
        await self._session.execute(
            update(Merchant)
            .where(Merchant.id == merchant_id)
            .values(api_token_encrypted=api_token_encrypted, uninstalled_at=None)
        )
        return bool(was_uninstalled)

    async def mark_uninstalled(self, merchant_id: str, at: datetime) -> bool:
        """Forget the Admin API token (Shopify revokes it anyway) and remember when. Loyalty
        data stays until shop/redact, so a reinstall within 48 hours finds it intact."""
        result = await self._session.execute(
            update(Merchant)
            .where(Merchant.id == merchant_id)
            .values(uninstalled_at=at, api_token_encrypted=None)
        )
        return bool(rowcount(result))

    async def delete_merchant(self, merchant_id: str) -> int:
        """shop/redact: cascades to every table with a foreign key to merchants."""
        result = await self._session.execute(delete(Merchant).where(Merchant.id == merchant_id))
        return rowcount(result)
