"""GraphQL types of the merchants domain."""

from __future__ import annotations

import strawberry

from db.models import Merchant as MerchantRow
from subgraphs.admin.loaders import AdminInfo
from subgraphs.admin.merchants import service
from subgraphs.admin.nodes.types import Node
from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.node import global_id, local_id
from subgraphs.kit.permissions import Capability, require

MerchantPlan = domain_enum(
    service.MerchantPlan,
    name="MerchantPlan",
    description="The LoyalNest plan a merchant pays for.",
    values={
        "FREE": "Up to 300 orders a month.",
        "STARTER": "Up to 500 orders a month.",
        "GROWTH": "Up to 1,500 orders a month.",
        "PLUS": "Shopify Plus merchants.",
    },
)


@strawberry.federation.type(keys=["id"], description="A Shopify shop running LoyalNest.")
class Merchant(Node):
    shop_domain: str = strawberry.field(description="The shop's myshopify.com domain.")
    plan: MerchantPlan = strawberry.field(description="The merchant's LoyalNest plan.")  # type: ignore[valid-type]

    @classmethod
    def from_row(cls, row: MerchantRow) -> Merchant:
        return cls(
            id=global_id("Merchant", row.id),
            shop_domain=row.shop_domain,
            plan=MerchantPlan(row.plan),
        )

    @classmethod
    async def resolve_reference(cls, info: AdminInfo, id: strawberry.ID) -> Merchant | None:
        require(info.context.viewer, Capability.READ_PROGRAM)  # as Query.merchant
        merchant_id = local_id(id, "Merchant")
        # Row-level security hides every merchant but the viewer's: another shop's is None.
        row = await info.context.loaders.merchants.merchant_by_id.load(merchant_id)
        return None if row is None else cls.from_row(row)
