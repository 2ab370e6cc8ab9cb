"""SQL that ties Shopify's customers to ours: by Shopify id, by email, and claiming."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Customer


class ShopifyCustomerRepository:
    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self._session = session
        self._merchant_id = merchant_id

    async def by_shopify_id(self, shopify_customer_id: str) -> Customer | None:
        result = await self._session.scalars(
            select(Customer).where(
                Customer.merchant_id == self._merchant_id,
                Customer.shopify_customer_id == shopify_customer_id,
            )
        )
        return result.one_or_none()

    async def by_email_index(self, email_blind_index: str) -> Customer | None:
        result = await self._session.scalars(
            select(Customer).where(
                Customer.merchant_id == self._merchant_id,
                Customer.email_blind_index == email_blind_index,
            )
        )
        return result.one_or_none()

    async def claim(self, customer_id: str, shopify_customer_id: str) -> bool:
        """Attach a Shopify account to a customer known so far only by email (guest orders).
        False when the customer already belongs to another Shopify account."""
        result = await self._session.execute(
            update(Customer)
            .where(
                Customer.merchant_id == self._merchant_id,
                Customer.id == customer_id,
                Customer.shopify_customer_id.is_(None),
            )
            .values(shopify_customer_id=shopify_customer_id)
        )
        return bool(getattr(result, "rowcount", 0))

    async def update_profile(
        self,
        customer_id: str,
        *,
        email_encrypted: str,
        email_blind_index: str,
        phone_encrypted: str | None,
        locale: str,
        country_code: str | None,
    ) -> None:
        await self._session.execute(
            update(Customer)
            .where(Customer.merchant_id == self._merchant_id, Customer.id == customer_id)
            .values(
                email_encrypted=email_encrypted,
                email_blind_index=email_blind_index,
                phone_encrypted=phone_encrypted,
                locale=locale,
                country_code=country_code,
            )
        )
