"""Queries every subgraph needs: which merchant a shop is, and the audit trail."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.ids import new_id
from db.models import AuditLog, Merchant


async def merchant_id_for_shop(session: AsyncSession, shop_domain: str) -> str | None:
    result = await session.execute(select(Merchant.id).where(Merchant.shop_domain == shop_domain))
    return result.scalar_one_or_none()


async def insert_audit_log(
    session: AsyncSession,
    *,
    merchant_id: str,
    action: str,
    metadata: dict[str, object],
    actor_id: str | None = None,
) -> None:
    await session.execute(
        insert(AuditLog).values(
            merchant_id=merchant_id,
            id=new_id(),
            action=action,
            actor_id=actor_id,
            metadata_=metadata,
        )
    )
