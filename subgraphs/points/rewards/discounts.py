"""Turning a redemption into a discount code a shopper can use at checkout.

A shop connected to Shopify gets a real single-use discount through the Admin API; a shop
without a connection (the dev demo merchant) gets the code as is, marked sandbox. Either way
the code itself is generated here, before anything is asked of Shopify: the redemption stores
it first, so a crash between the two leaves a code the sweeper can look up.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from db.crypto import FieldCipher
from db.models import Reward, RewardKind
from subgraphs.kit.integrations.shopify_admin import (
    ShopifyAdminClient,
    ShopifyAdminError,
    ShopifyUnavailableError,
    ShopifyUserErrors,
)
from subgraphs.kit.integrations.shopify_operations import DiscountCodeSpec, DiscountKind
from subgraphs.points.shopify import MerchantConnection, ShopifyConnector

CODE_PREFIX = "LN-"
# No 0/O or 1/I: shoppers read these codes and type them at checkout.
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# 12 characters of 32 symbols: 60 random bits, beyond guessing and beyond collisions.
_CODE_LENGTH = 12

_DISCOUNT_KINDS = {
    RewardKind.FIXED_AMOUNT: DiscountKind.FIXED_AMOUNT,
    RewardKind.PERCENTAGE: DiscountKind.PERCENTAGE,
    RewardKind.FREE_SHIPPING: DiscountKind.FREE_SHIPPING,
    RewardKind.FREE_PRODUCT: DiscountKind.FREE_PRODUCT,
}


def new_discount_code() -> str:
    return CODE_PREFIX + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))


def discount_spec(
    reward: Reward, code: str, *, starts_at: datetime, shopify_customer_id: str | None
) -> DiscountCodeSpec:
    """The single-use discount a redemption of ``reward`` gives. Amounts stay in the shop
    currency: Shopify converts them for shoppers paying in another currency."""
    return DiscountCodeSpec(
        code=code,
        title=reward.title,
        kind=_DISCOUNT_KINDS[RewardKind(reward.kind)],
        starts_at=starts_at,
        value=reward.value,
        product_id=reward.product_id,
        minimum_subtotal=reward.min_order_amount,
        shopify_customer_id=shopify_customer_id,
    )


@dataclass(frozen=True, slots=True)
class IssuedDiscount:
    # None for a sandbox code, which exists nowhere but in our database.
    discount_id: str | None


class DiscountNotIssuedError(Exception):
    """The discount was not created. ``retryable``: Shopify could not be reached, so whether a
    lookup would find the code is unknown; otherwise Shopify answered and refused."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class DiscountIssuer(Protocol):
    async def issue(self, spec: DiscountCodeSpec) -> IssuedDiscount:
        """Create the discount; raises DiscountNotIssuedError."""
        ...

    async def lookup(self, code: str) -> IssuedDiscount | None:
        """The discount holding ``code`` if it exists; raises DiscountNotIssuedError."""
        ...


class SandboxIssuer:
    """For shops without a Shopify connection: the generated code is the whole discount."""

    async def issue(self, spec: DiscountCodeSpec) -> IssuedDiscount:
        return IssuedDiscount(discount_id=None)

    async def lookup(self, code: str) -> IssuedDiscount | None:
        return IssuedDiscount(discount_id=None)


class ShopifyIssuer:
    def __init__(self, client: ShopifyAdminClient) -> None:
        self._client = client

    async def issue(self, spec: DiscountCodeSpec) -> IssuedDiscount:
        try:
            created = await self._client.create_discount_code(spec)
        except ShopifyUserErrors as exc:
            # A create whose answer was lost (timeout) and was sent again finds its own code
            # taken: the first one did land. Our codes are random, so nobody else's is.
            if "TAKEN" in exc.codes:
                found = await self.lookup(spec.code)
                if found is not None:
                    return found
            raise DiscountNotIssuedError(
                f"Shopify refused the discount: {exc}", retryable=False
            ) from exc
        except ShopifyAdminError as exc:
            raise _not_issued(exc) from exc
        return IssuedDiscount(discount_id=created.id)

    async def lookup(self, code: str) -> IssuedDiscount | None:
        try:
            discount_id = await self._client.discount_id_by_code(code)
        except ShopifyAdminError as exc:
            raise _not_issued(exc) from exc
        return None if discount_id is None else IssuedDiscount(discount_id=discount_id)


def _not_issued(exc: ShopifyAdminError) -> DiscountNotIssuedError:
    return DiscountNotIssuedError(
        str(exc) or type(exc).__name__, retryable=isinstance(exc, ShopifyUnavailableError)
    )


@asynccontextmanager
async def discount_issuer(
    connector: ShopifyConnector,
    merchant_id: str,
    connection: MerchantConnection,
    cipher: FieldCipher,
) -> AsyncIterator[DiscountIssuer]:
    """Shopify's discounts for a connected shop, the sandbox for the others."""
    async with connector.admin_client(merchant_id, connection, cipher) as client:
        yield SandboxIssuer() if client is None else ShopifyIssuer(client)
