"""Which objects exist for a merchant, by global ID type: the one question the subgraph that
answers ``node(id:)`` must ask about types other subgraphs own.

Why it is asked at all: ``node`` returns ``{__typename, id}`` and the router fetches every other
field from the type's owner, whose ``resolve_reference`` checks the tenant. But when the owner
answers null (another shop's ID, a deleted row), the Hive router keeps the stub and drops the
fields (no null propagation: graphql-hive/router#1110), so ``node`` would answer an object for
an ID the viewer's shop does not have. So ``node`` checks existence first, here, under the
viewer's row-level security; the owner still resolves (and checks) every field.

Existence only, one statement per type per batch. A table's visibility rule beyond the tenant
lives beside it here (deleted rewards are gone to ``node`` as they are to ``reward(id:)``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    BonusCampaign,
    Customer,
    PointsTransaction,
    ReferralLink,
    Reward,
    RewardRedemption,
    VipTier,
)
from db.models.base import Base

# GraphQL type name -> its table and what else a row needs to be there for the API.
NODE_TABLES: Final[Mapping[str, tuple[type[Base], ColumnElement[bool]]]] = {
    "Customer": (Customer, true()),
    "PointsTransaction": (PointsTransaction, true()),
    "Reward": (Reward, Reward.deleted_at.is_(None)),
    "RewardRedemption": (RewardRedemption, true()),
    "BonusCampaign": (BonusCampaign, true()),
    "VipTier": (VipTier, true()),
    "ReferralLink": (ReferralLink, true()),
}


class NodeRepository:
    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self._session = session
        self._merchant_id = merchant_id

    async def existing_ids(self, type_name: str, ids: Collection[str]) -> set[str]:
        """The ids among ``ids`` of rows of ``type_name`` this merchant has."""
        model, visible = NODE_TABLES[type_name]
        table: Any = model.__table__
        result = await self._session.scalars(
            select(table.c.id).where(
                table.c.merchant_id == self._merchant_id, table.c.id.in_(list(ids)), visible
            )
        )
        return set(result)
