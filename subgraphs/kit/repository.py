"""Queries every subgraph needs (which merchant a shop is, the audit trail), and the pieces
repositories share."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    Text,
    cast,
    false,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from db.ids import new_id
from db.models import AuditLog, Merchant


class TenantRepository:
    """Base of a repository confined to one merchant. Its statements run in that merchant's
    tenant unit of work and still name ``self._merchant_id`` themselves, so none depends on
    row-level security alone to be right."""

    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self._session = session
        self._merchant_id = merchant_id


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


def rowcount(result: object) -> int:
    """Rows an UPDATE or DELETE touched (SQLAlchemy types ``rowcount`` on CursorResult only)."""
    return int(getattr(result, "rowcount", 0) or 0)


def mentions_any(column: SQLColumnExpression[Any], needles: Collection[str]) -> ColumnElement[bool]:
    """Case-insensitive substring test on the text form of a column (jsonb included).
    strpos, unlike LIKE, gives no meaning to ``%`` or ``_`` in an email."""
    if not needles:
        return false()
    text_form = func.lower(cast(column, Text))
    return or_(*(func.strpos(text_form, needle.lower()) > 0 for needle in needles))
