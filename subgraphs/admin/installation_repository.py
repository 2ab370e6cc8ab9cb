"""SQL of a shop's installation state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Merchant


async def mark_uninstalled(session: AsyncSession, merchant_id: str, at: datetime) -> bool:
    """Forget the Admin API token (Shopify revokes it anyway) and remember when. Loyalty
    data stays until shop/redact, so a reinstall within 48 hours finds it intact."""
    result = await session.execute(
        update(Merchant)
        .where(Merchant.id == merchant_id)
        .values(uninstalled_at=at, api_token_encrypted=None)
    )
    return bool(getattr(result, "rowcount", 0))
