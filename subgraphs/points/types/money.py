"""Money, as Shopify's Admin API shapes it."""

from __future__ import annotations

from decimal import Decimal

import strawberry


@strawberry.federation.type(shareable=True, description="An amount in a currency.")
class Money:
    amount: Decimal = strawberry.field(description="Decimal amount, as a string.")
    currency_code: str = strawberry.field(description="ISO 4217 currency code.")
