"""SQL of order reconciliation: which shops to read, and which orders already earned."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Merchant, PointsTransaction, PointsTransactionKind


@dataclass(frozen=True, slots=True)
class ConnectedShop:
    merchant_id: str
    shop_domain: str
    api_token_encrypted: str


async def connected_shops(session: AsyncSession) -> list[ConnectedShop]:
    """Installed shops with an Admin API token (system unit of work: every merchant)."""
    rows = await session.execute(
        select(Merchant.id, Merchant.shop_domain, Merchant.api_token_encrypted)
        .where(Merchant.api_token_encrypted.is_not(None), Merchant.uninstalled_at.is_(None))
        .order_by(Merchant.id)
    )
    return [ConnectedShop(id_, domain, token) for id_, domain, token in rows if token]


async def orders_with(
    session: AsyncSession, merchant_id: str, order_ids: Sequence[str], kind: PointsTransactionKind
) -> set[str]:
    if not order_ids:
        return set()
    rows = await session.scalars(
        select(PointsTransaction.order_id).where(
            PointsTransaction.merchant_id == merchant_id,
            PointsTransaction.order_id.in_(order_ids),
            PointsTransaction.kind == kind,
        )
    )
    return {order_id for order_id in rows if order_id is not None}
