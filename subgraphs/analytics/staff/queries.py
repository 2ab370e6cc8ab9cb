"""The staff's cross-shop read."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.analytics.loaders import AnalyticsInfo
from subgraphs.analytics.staff import service
from subgraphs.analytics.staff.types import ShopComparison


@strawberry.field(
    description="LoyalNest staff only (a staff token with admin:analytics, after MFA): shops "
    "side by side — headline loyalty numbers, RFM segment counts and churn model. Each shop "
    "read is recorded in that shop's audit trail (STAFF_SHOPS_COMPARED). Merchants' tokens "
    "and API keys are FORBIDDEN."
)
async def shop_comparison(
    info: AnalyticsInfo,
    shop_domains: Annotated[
        list[str],
        strawberry.argument(
            description="1 to 10 shop domains (e.g. example.myshopify.com); repeats count once."
        ),
    ],
) -> ShopComparison:
    context = info.context
    comparison = await service.compare_shops(
        context.resources.sessions, context.viewer, shop_domains
    )
    return ShopComparison.of(comparison)


StaffQuery = create_type("StaffQuery", [shop_comparison])
