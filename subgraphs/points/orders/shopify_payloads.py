"""Shopify's webhook payloads, parsed into what the points rules need.

Lenient where Shopify is loose (unknown fields ignored, ids as numbers or strings, money as
strings) and strict where a wrong guess would move points: a malformed payload raises
``PayloadError`` and its delivery fails with that message instead of awarding anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from subgraphs.kit.validation import validation_problems
from subgraphs.points.orders.reversal import RefundLine
from subgraphs.points.program.calculation import Order, OrderLine
from subgraphs.points.program.service import Channel

# Shopify POS marks its orders with source_name "pos"; every other source sells online.
_POS_SOURCES = frozenset({"pos", "shopify_pos"})
_PAID_STATUSES = frozenset({"paid", "partially_refunded", "refunded"})


ModelT = TypeVar("ModelT", bound=BaseModel)


def channel_of(source_name: str | None) -> Channel:
    return Channel.POS if (source_name or "").lower() in _POS_SOURCES else Channel.ONLINE


class PayloadError(ValueError):
    """The payload is not what Shopify sends for its topic; retrying cannot help."""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class ShopifyAddress(_Lenient):
    country_code: str | None = None


class ShopifyCustomer(_Lenient):
    id: str
    email: str | None = None
    phone: str | None = None
    locale: str | None = None
    default_address: ShopifyAddress | None = None

    @property
    def country_code(self) -> str | None:
        return self.default_address.country_code if self.default_address else None


class _DiscountAllocation(_Lenient):
    amount: Decimal


class ShopifyLineItem(_Lenient):
    id: str
    quantity: int = Field(ge=0)
    price: Decimal = Field(ge=0)
    discount_allocations: list[_DiscountAllocation] = Field(default_factory=list)

    @property
    def paid_amount(self) -> Decimal:
        """What the shopper paid for the line, after the discounts allocated to it."""
        discounts = sum((d.amount for d in self.discount_allocations), Decimal(0))
        return max(self.price * self.quantity - discounts, Decimal(0))


class ShopifyOrderPayload(_Lenient):
    id: str
    email: str | None = None
    currency: str
    created_at: datetime
    cancelled_at: datetime | None = None
    financial_status: str | None = None
    source_name: str | None = None
    customer: ShopifyCustomer | None = None
    billing_address: ShopifyAddress | None = None
    shipping_address: ShopifyAddress | None = None
    line_items: list[ShopifyLineItem] = Field(default_factory=list)

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @property
    def is_paid(self) -> bool:
        return self.financial_status in _PAID_STATUSES

    @property
    def buyer_email(self) -> str | None:
        return (self.customer.email if self.customer else None) or self.email

    @property
    def country_code(self) -> str | None:
        for address in (self.shipping_address, self.billing_address):
            if address is not None and address.country_code:
                return address.country_code
        return self.customer.country_code if self.customer else None

    def to_order(self) -> Order:
        return Order(
            order_id=self.id,
            currency=self.currency,
            lines=tuple(
                OrderLine(line_id=line.id, quantity=line.quantity, amount=line.paid_amount)
                for line in self.line_items
            ),
            channel=channel_of(self.source_name),
            placed_at=self.created_at,
            country_code=self.country_code,
        )


class _RefundLineItem(_Lenient):
    line_item_id: str
    quantity: int = Field(ge=0)
    subtotal: Decimal | None = Field(default=None, ge=0)


class ShopifyRefundPayload(_Lenient):
    id: str
    order_id: str
    refund_line_items: list[_RefundLineItem] = Field(default_factory=list)

    def refund_lines(self) -> tuple[RefundLine, ...]:
        return tuple(
            RefundLine(line_id=item.line_item_id, quantity=item.quantity, amount=item.subtotal)
            for item in self.refund_line_items
            if item.quantity > 0 or item.subtotal
        )


def parse(model: type[ModelT], payload: Mapping[str, Any]) -> ModelT:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise PayloadError(f"not a {model.__name__}: {validation_problems(exc)}") from exc
