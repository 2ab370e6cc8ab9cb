"""GraphQL types of the staff view."""

from __future__ import annotations

import strawberry

from subgraphs.analytics.churn.types import ChurnModel
from subgraphs.analytics.staff import service
from subgraphs.analytics.types import LoyaltyMetrics


@strawberry.type(description="One shop's side of a staff comparison.")
class ShopAnalytics:
    shop_domain: str = strawberry.field(description="The shop, e.g. example.myshopify.com.")
    installed: bool = strawberry.field(
        description="Whether LoyalNest is installed there now (an uninstalled shop keeps its "
        "data until Shopify asks for it to be erased)."
    )
    loyalty_metrics: LoyaltyMetrics = strawberry.field(
        description="Its headline numbers (members, points issued and redeemed, rewards "
        "redeemed) and customers per RFM segment, as its own dashboard reads them."
    )
    churn_model: ChurnModel = strawberry.field(
        description="Its churn model: status, holdout AUC and sample size."
    )

    @classmethod
    def of(cls, shop: service.ShopAnalytics) -> ShopAnalytics:
        return cls(
            shop_domain=shop.shop_domain,
            installed=shop.installed,
            loyalty_metrics=LoyaltyMetrics.of(shop.metrics),
            churn_model=ChurnModel.of(shop.churn_model),
        )


@strawberry.type(description="Shops side by side, for LoyalNest staff.")
class ShopComparison:
    shops: list[ShopAnalytics] = strawberry.field(
        description="The shops found, in the order asked (each once)."
    )
    unknown_shop_domains: list[str] = strawberry.field(
        description="The domains asked for that no LoyalNest shop has (trimmed, lower case)."
    )

    @classmethod
    def of(cls, comparison: service.ShopComparison) -> ShopComparison:
        return cls(
            shops=[ShopAnalytics.of(shop) for shop in comparison.shops],
            unknown_shop_domains=comparison.unknown_shop_domains,
        )
