"""Money, as Shopify's Admin API shapes it."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from subgraphs.kit.graphql.codes import CurrencyCode, currency
from subgraphs.points.loaders import PointsInfo


@strawberry.federation.type(shareable=True, description="An amount in a currency.")
class Money:
    amount: Decimal = strawberry.field(description="Decimal amount, as a string.")
    currency_code: CurrencyCode = strawberry.field(description="ISO 4217 currency code.")


async def shop_money(info: PointsInfo, amount: Decimal) -> Money:
    """An amount of the program's rules, in the shop currency (one config read per request)."""
    config = await info.context.loaders.program_config.load(info.context.viewer.merchant_id)
    return Money(amount=amount, currency_code=currency(config.currencies.base))
