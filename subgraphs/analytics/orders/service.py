"""Order facts from what Shopify sends and what LoyalNest already holds.

Every path that sees an order records it here, idempotently by (merchant, Shopify order id):
the order webhooks (the richest: totals, presentment currency, discount codes), reconciliation
(orders no webhook delivered), the ledger backfill and the seed command (what those know).
A poorer source never overwrites a richer one: webhooks replace the row, the others only
insert what is missing and add a cancellation. Functions run in the caller's transaction and
never commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import OrderChannel, OrderFactSource
from subgraphs.analytics.orders.repository import OrderFactsRepository
from subgraphs.kit.auth_repository import customer_id_for_shopify_customer
from subgraphs.kit.integrations.shopify_operations import ShopifyOrder as AdminApiOrder
from subgraphs.kit.validation import error_location

# Shopify POS marks its orders with source_name "pos"; every other source sells online.
_POS_SOURCES = frozenset({"pos", "shopify_pos"})
_PAID_STATUSES = frozenset({"paid", "partially_refunded", "refunded"})


class OrderPayloadError(ValueError):
    """The payload is not an order (or refund) as Shopify sends it; retrying cannot help."""


@dataclass(frozen=True, slots=True)
class OrderFact:
    """One order as analytics keeps it; amounts in the shop currency unless ``presentment``."""

    shopify_order_id: str
    created_at: datetime
    currency: str
    subtotal: Decimal
    total: Decimal
    presentment_currency: str
    presentment_subtotal: Decimal
    presentment_total: Decimal
    channel: OrderChannel = OrderChannel.ONLINE
    customer_id: str | None = None
    # When the customer is not known by our id (reconciliation): found by Shopify's.
    shopify_customer_id: str | None = None
    paid_at: datetime | None = None
    cancelled_at: datetime | None = None
    region: str | None = None
    discount_codes: tuple[str, ...] = field(default=())


def channel_of(source_name: str | None) -> OrderChannel:
    return OrderChannel.POS if (source_name or "").lower() in _POS_SOURCES else OrderChannel.ONLINE


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class _Money(_Lenient):
    amount: Decimal
    currency_code: str


class _MoneySet(_Lenient):
    shop_money: _Money
    presentment_money: _Money


class _Address(_Lenient):
    country_code: str | None = None


class _Customer(_Lenient):
    id: str
    default_address: _Address | None = None


class _DiscountCode(_Lenient):
    code: str


class ShopifyOrder(_Lenient):
    """The fields of an orders/* webhook that order facts keep."""

    id: str
    currency: str
    presentment_currency: str | None = None
    created_at: datetime
    processed_at: datetime | None = None
    cancelled_at: datetime | None = None
    financial_status: str | None = None
    source_name: str | None = None
    subtotal_price: Decimal = Field(default=Decimal(0), ge=0)
    total_price: Decimal = Field(default=Decimal(0), ge=0)
    subtotal_price_set: _MoneySet | None = None
    total_price_set: _MoneySet | None = None
    discount_codes: list[_DiscountCode] = Field(default_factory=list)
    customer: _Customer | None = None
    shipping_address: _Address | None = None
    billing_address: _Address | None = None

    def region(self) -> str | None:
        for address in (self.shipping_address, self.billing_address):
            if address is not None and address.country_code:
                return address.country_code.upper()
        if self.customer and self.customer.default_address:
            code = self.customer.default_address.country_code
            return code.upper() if code else None
        return None

    def fact(self, customer_id: str | None, *, paid_now: datetime | None) -> OrderFact:
        """``paid_now``: when the delivery says the order is paid (orders/paid) though the
        payload may not have caught up; else a paid status counts from processing."""
        currency = self.currency.upper()
        presentment = (self.presentment_currency or currency).upper()
        paid_at = paid_now
        if paid_at is None and self.financial_status in _PAID_STATUSES:
            paid_at = self.processed_at or self.created_at
        return OrderFact(
            shopify_order_id=self.id,
            customer_id=customer_id,
            created_at=self.created_at,
            paid_at=paid_at,
            cancelled_at=self.cancelled_at,
            currency=currency,
            subtotal=self.subtotal_price,
            total=self.total_price,
            presentment_currency=presentment,
            presentment_subtotal=(
                self.subtotal_price_set.presentment_money.amount
                if self.subtotal_price_set
                else self.subtotal_price
            ),
            presentment_total=(
                self.total_price_set.presentment_money.amount
                if self.total_price_set
                else self.total_price
            ),
            channel=channel_of(self.source_name),
            region=self.region(),
            discount_codes=tuple(dict.fromkeys(code.code for code in self.discount_codes)),
        )


class _RefundLine(_Lenient):
    subtotal: Decimal | None = Field(default=None, ge=0)
    subtotal_set: _MoneySet | None = None

    @property
    def shop_amount(self) -> Decimal:
        if self.subtotal_set is not None:
            return self.subtotal_set.shop_money.amount
        return self.subtotal or Decimal(0)


class ShopifyRefund(_Lenient):
    id: str
    order_id: str
    refund_line_items: list[_RefundLine] = Field(default_factory=list)

    @property
    def amount(self) -> Decimal:
        """The refunded goods in shop currency (shipping refunds are not revenue either way)."""
        return sum((line.shop_amount for line in self.refund_line_items), Decimal(0))


ModelT = TypeVar("ModelT", bound=BaseModel)


def _parse(model: type[ModelT], payload: Mapping[str, Any]) -> ModelT:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = error_location(first)
        raise OrderPayloadError(f"not a Shopify {model.__name__}: {where}: {first['msg']}") from exc


async def record_order_payload(
    session: AsyncSession,
    merchant_id: str,
    payload: Mapping[str, Any],
    *,
    paid_now: datetime | None = None,
) -> OrderFact:
    """Record (or replace) the order of an orders/* webhook; its customer is the one points
    enrolled for it in the same transaction (None for a guest)."""
    fact = await order_fact_of_payload(session, merchant_id, payload, paid_now=paid_now)
    await record_webhook_facts(session, merchant_id, [fact])
    return fact


async def order_fact_of_payload(
    session: AsyncSession,
    merchant_id: str,
    payload: Mapping[str, Any],
    *,
    paid_now: datetime | None = None,
) -> OrderFact:
    """The fact an orders/* webhook records, not recorded yet (``record_webhook_facts``)."""
    order = _parse(ShopifyOrder, payload)
    customer_id = None
    if order.customer is not None:
        customer_id = await customer_id_for_shopify_customer(
            session, merchant_id, order.customer.id
        )
    return order.fact(customer_id, paid_now=paid_now)


async def record_webhook_facts(
    session: AsyncSession, merchant_id: str, facts: Sequence[OrderFact]
) -> None:
    """Record (or replace) the facts of orders/* webhooks, in one round trip."""
    await OrderFactsRepository(session, merchant_id).upsert_from_webhooks(facts)


async def record_refund_payload(
    session: AsyncSession, merchant_id: str, payload: Mapping[str, Any]
) -> tuple[bool, str | None]:
    """Add a refunds/create to its order's refunded amount (once per refund id): whether the
    order is recorded, and whose it is."""
    refund = _parse(ShopifyRefund, payload)
    return await OrderFactsRepository(session, merchant_id).add_refund(
        refund.order_id, refund.id, refund.amount
    )


_ADMIN_API_PAID = frozenset({"PAID", "PARTIALLY_REFUNDED", "REFUNDED"})


def fact_of_admin_api_order(order: AdminApiOrder) -> OrderFact:
    """An order as reconciliation reads it back: the Admin API read carries the subtotal in
    shop currency only, so totals and presentment amounts are the subtotal until a webhook
    of the order brings the rest; paid at creation when Shopify says it is paid."""
    subtotal = order.subtotal.amount if order.subtotal else Decimal(0)
    currency = order.subtotal.currency_code if order.subtotal else "USD"
    paid = (order.financial_status or "").upper() in _ADMIN_API_PAID
    return OrderFact(
        shopify_order_id=str(order.legacy_id),
        shopify_customer_id=str(order.customer.legacy_id) if order.customer else None,
        created_at=order.created_at,
        paid_at=order.created_at if paid else None,
        cancelled_at=order.cancelled_at,
        currency=currency,
        subtotal=subtotal,
        total=subtotal,
        presentment_currency=currency,
        presentment_subtotal=subtotal,
        presentment_total=subtotal,
        channel=channel_of(order.source_name),
    )


async def record_reconciled_orders(
    session: AsyncSession, merchant_id: str, facts: Sequence[OrderFact]
) -> int:
    """Orders read back from the Admin API: the ones no webhook recorded are inserted, and a
    cancellation is added to those that were. One statement for the lot."""
    return await OrderFactsRepository(session, merchant_id).upsert(
        facts, source=OrderFactSource.RECONCILIATION, replace=False
    )


async def backfill_from_ledger(session: AsyncSession, merchant_id: str) -> int:
    """Order facts for every order the points ledger earned on and no other path recorded:
    its customer, when, and the subtotal in shop currency the earn was computed on (totals
    and presentment amounts are the subtotal; channel online). Returns the rows added."""
    return await OrderFactsRepository(session, merchant_id).backfill_from_ledger()
