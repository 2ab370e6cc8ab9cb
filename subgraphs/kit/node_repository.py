"""Which objects exist for a merchant, by global ID type: the one question the subgraph that
answers ``node(id:)`` must ask about types other subgraphs own.

Why it is asked at all: ``node`` returns ``{__typename, id}`` and the router fetches every other
field from the type's owner, whose ``resolve_reference`` checks the tenant. But when the owner
answers null (another shop's ID, a deleted row), the Hive router keeps the stub and drops the
fields (no null propagation: graphql-hive/router#1110), so ``node`` would answer an object for
an ID the viewer's shop does not have. So ``node`` checks existence first, here, under the
viewer's row-level security; the owner still resolves (and checks) every field.

Existence only, one statement per type per batch. A table's visibility rule beyond the tenant
lives beside it here (deleted rewards are gone to ``node`` as they are to ``reward(id:)``), and
so does the column naming the customer a row belongs to: a customer token (the storefront)
sees only its own customer's rows, so it cannot even learn that another customer's exist.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    BonusCampaign,
    Customer,
    DataImport,
    NotificationDelivery,
    PointsTransaction,
    Referral,
    ReferralLink,
    Reward,
    RewardRedemption,
    VipTier,
)
from db.models.base import Base


@dataclass(frozen=True, slots=True)
class NodeTable:
    model: type[Base]
    # What else a row needs to be there for the API.
    visible: ColumnElement[bool]
    # The customer the row belongs to, for rows that belong to one.
    customer: ColumnElement[str] | None


# GraphQL type name -> its table.
NODE_TABLES: Final[Mapping[str, NodeTable]] = {
    "Customer": NodeTable(Customer, true(), Customer.__table__.c.id),
    "PointsTransaction": NodeTable(
        PointsTransaction, true(), PointsTransaction.__table__.c.customer_id
    ),
    "Reward": NodeTable(Reward, Reward.deleted_at.is_(None), None),
    "RewardRedemption": NodeTable(
        RewardRedemption, true(), RewardRedemption.__table__.c.customer_id
    ),
    "BonusCampaign": NodeTable(BonusCampaign, true(), None),
    "VipTier": NodeTable(VipTier, true(), None),
    "NotificationDelivery": NodeTable(NotificationDelivery, true(), None),
    "DataImport": NodeTable(DataImport, true(), None),
    "ReferralLink": NodeTable(ReferralLink, true(), ReferralLink.__table__.c.advocate_customer_id),
    # A friend sees their own referral (referralClaim answers it); staff see every one.
    "Referral": NodeTable(Referral, true(), Referral.__table__.c.friend_customer_id),
}


class NodeRepository:
    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self._session = session
        self._merchant_id = merchant_id

    async def existing_ids(
        self, type_name: str, ids: Collection[str], *, for_customer: str | None = None
    ) -> set[str]:
        """The ids among ``ids`` of rows of ``type_name`` this merchant has; with
        ``for_customer``, only those of rows that customer may see (its own, and rows that
        belong to no customer)."""
        node = NODE_TABLES[type_name]
        table: Any = node.model.__table__
        query = select(table.c.id).where(
            table.c.merchant_id == self._merchant_id, table.c.id.in_(list(ids)), node.visible
        )
        if for_customer is not None and node.customer is not None:
            query = query.where(node.customer == for_customer)
        return set(await self._session.scalars(query))
