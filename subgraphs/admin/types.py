"""GraphQL types of the admin subgraph."""

from __future__ import annotations

import enum

import strawberry

from db.models import Merchant as MerchantRow
from subgraphs.admin.loaders import AdminInfo
from subgraphs.admin.service import MerchantPlan as DomainPlan


@strawberry.enum(description="The LoyalNest plan a merchant pays for.")
class MerchantPlan(enum.Enum):
    FREE = strawberry.enum_value(DomainPlan.FREE.value, description="Up to 300 orders a month.")
    STARTER = strawberry.enum_value(
        DomainPlan.STARTER.value, description="Up to 500 orders a month."
    )
    GROWTH = strawberry.enum_value(
        DomainPlan.GROWTH.value, description="Up to 1,500 orders a month."
    )
    PLUS = strawberry.enum_value(DomainPlan.PLUS.value, description="Shopify Plus merchants.")


@strawberry.federation.type(keys=["id"], description="A Shopify shop running LoyalNest.")
class Merchant:
    id: strawberry.ID = strawberry.field(description="LoyalNest merchant id.")
    shop_domain: str = strawberry.field(description="The shop's myshopify.com domain.")
    plan: MerchantPlan = strawberry.field(description="The merchant's LoyalNest plan.")

    @classmethod
    def from_row(cls, row: MerchantRow) -> Merchant:
        return cls(
            id=strawberry.ID(row.id), shop_domain=row.shop_domain, plan=MerchantPlan(row.plan)
        )

    @classmethod
    async def resolve_reference(cls, info: AdminInfo, id: strawberry.ID) -> Merchant | None:
        row = await info.context.loaders.merchant_by_id.load(str(id))
        return None if row is None else cls.from_row(row)
