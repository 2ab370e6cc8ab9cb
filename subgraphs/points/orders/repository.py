"""Every SQL statement of the points subgraph on ``merchants`` (the admin subgraph writes
them): the shops whose orders reconciliation reads back, and how to reach a shop's Admin API
(its domain and token), for orders and discount codes alike."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Merchant
from subgraphs.points.shopify import MerchantConnection


@dataclass(frozen=True, slots=True)
class ConnectedShop:
    merchant_id: str
    connection: MerchantConnection


async def shop_connection(session: AsyncSession, merchant_id: str) -> MerchantConnection:
    """How to reach the merchant's shop (its row is visible to the merchant's own unit of
    work)."""
    row = (
        await session.execute(
            select(Merchant.shop_domain, Merchant.api_token_encrypted).where(
                Merchant.id == merchant_id
            )
        )
    ).one()
    return MerchantConnection(row.shop_domain, row.api_token_encrypted)


async def connected_shops(
    session: AsyncSession, after: str | None, limit: int
) -> list[ConnectedShop]:
    """Installed shops with an Admin API token, by merchant id, one page after ``after``
    (system unit of work: every merchant)."""
    query = select(Merchant.id, Merchant.shop_domain, Merchant.api_token_encrypted).where(
        Merchant.api_token_encrypted.is_not(None),
        Merchant.api_token_encrypted != "",
        Merchant.uninstalled_at.is_(None),
    )
    if after is not None:
        query = query.where(Merchant.id > after)
    rows = await session.execute(query.order_by(Merchant.id).limit(limit))
    return [ConnectedShop(id_, MerchantConnection(domain, token)) for id_, domain, token in rows]
