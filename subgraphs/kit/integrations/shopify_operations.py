"""The Shopify Admin API operations LoyalNest sends (discount codes, recent orders), their
inputs, and the shapes it reads back. The client that sends them is ``shopify_admin``."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any


class DiscountKind(enum.Enum):
    FIXED_AMOUNT = "FIXED_AMOUNT"
    PERCENTAGE = "PERCENTAGE"
    FREE_SHIPPING = "FREE_SHIPPING"
    FREE_PRODUCT = "FREE_PRODUCT"


@dataclass(frozen=True, kw_only=True)
class DiscountCodeSpec:
    """A single-use code. ``value`` is an amount in the shop's currency (FIXED_AMOUNT) or a
    percentage 0-100 (PERCENTAGE); ``shopify_customer_id`` (gid or numeric id) restricts the
    code to that customer, otherwise anyone holding it may use it."""

    code: str
    title: str
    kind: DiscountKind
    starts_at: datetime
    value: Decimal | None = None
    product_id: str | None = None
    minimum_subtotal: Decimal | None = None
    shopify_customer_id: str | None = None
    ends_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.code.strip():
            raise ValueError("a discount code cannot be blank")
        if self.kind is DiscountKind.FIXED_AMOUNT and (self.value is None or self.value <= 0):
            raise ValueError("a fixed amount discount needs a positive value")
        if self.kind is DiscountKind.PERCENTAGE and (
            self.value is None or not 0 < self.value <= 100
        ):
            raise ValueError("a percentage discount needs a value in (0, 100]")
        if self.kind is DiscountKind.FREE_PRODUCT and not (self.product_id or "").startswith(
            "gid://shopify/Product/"
        ):
            raise ValueError("a free product discount needs a Shopify product gid")
        if self.starts_at.tzinfo is None or (self.ends_at and self.ends_at.tzinfo is None):
            raise ValueError("discount dates must be timezone-aware")
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("a discount must end after it starts")


@dataclass(frozen=True)
class CreatedDiscount:
    id: str
    code: str


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency_code: str


@dataclass(frozen=True)
class CustomerRef:
    id: str
    legacy_id: int


@dataclass(frozen=True)
class OrderLineItem:
    id: str
    title: str
    quantity: int
    original_total: Money | None
    discounted_total: Money | None


@dataclass(frozen=True)
class ShopifyOrder:
    id: str
    legacy_id: int
    name: str
    email: str | None
    customer: CustomerRef | None
    created_at: datetime
    updated_at: datetime
    subtotal: Money | None
    source_name: str | None
    line_items: tuple[OrderLineItem, ...]
    # False when the order has more line items than one page carries.
    line_items_complete: bool
    # Shopify's display status, e.g. "PAID", "PENDING", "PARTIALLY_REFUNDED".
    financial_status: str | None = None
    cancelled_at: datetime | None = None


@dataclass(frozen=True)
class OrdersPage:
    orders: tuple[ShopifyOrder, ...]
    has_next_page: bool
    end_cursor: str | None


_DISCOUNT_RESULT = "codeDiscountNode { id } userErrors { field code message }"
CREATE_BASIC = f"""
mutation LoyalNestCreateBasicDiscount($input: DiscountCodeBasicInput!) {{
  discountCodeBasicCreate(basicCodeDiscount: $input) {{ {_DISCOUNT_RESULT} }}
}}"""
CREATE_FREE_SHIPPING = f"""
mutation LoyalNestCreateFreeShippingDiscount($input: DiscountCodeFreeShippingInput!) {{
  discountCodeFreeShippingCreate(freeShippingCodeDiscount: $input) {{ {_DISCOUNT_RESULT} }}
}}"""
DISCOUNT_BY_CODE = """
query LoyalNestDiscountByCode($code: String!) {
  codeDiscountNodeByCode(code: $code) { id }
}"""

# Shopify refuses a query whose requested cost exceeds 1,000 points, and a connection costs
# `first` times its nodes: an order with 15 line items is ~80 points, so 12 orders per page.
MAX_ORDERS_PER_PAGE = 12
_LINE_ITEMS_PER_ORDER = 15
_MONEY = "shopMoney { amount currencyCode }"
ORDERS_SINCE = f"""
query LoyalNestOrdersSince($first: Int!, $after: String, $query: String!) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id legacyResourceId name email createdAt updatedAt sourceName
      displayFinancialStatus cancelledAt
      customer {{ id legacyResourceId }}
      currentSubtotalPriceSet {{ {_MONEY} }}
      lineItems(first: {_LINE_ITEMS_PER_ORDER}) {{
        pageInfo {{ hasNextPage }}
        nodes {{
          id title quantity
          originalTotalSet {{ {_MONEY} }}
          discountedTotalSet {{ {_MONEY} }}
        }}
      }}
    }}
  }}
}}"""


def _customer_gid(customer_id: str) -> str:
    return (
        customer_id if customer_id.startswith("gid://") else f"gid://shopify/Customer/{customer_id}"
    )


def _common_input(spec: DiscountCodeSpec) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "title": spec.title,
        "code": spec.code,
        "startsAt": spec.starts_at.isoformat(),
        "endsAt": spec.ends_at.isoformat() if spec.ends_at else None,
        # `context` replaced `customerSelection` for code discounts in 2025-10.
        "context": (
            {"customers": {"add": [_customer_gid(spec.shopify_customer_id)]}}
            if spec.shopify_customer_id
            else {"all": "ALL"}
        ),
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
    }
    if spec.minimum_subtotal is not None:
        fields["minimumRequirement"] = {
            "subtotal": {"greaterThanOrEqualToSubtotal": str(spec.minimum_subtotal)}
        }
    return fields


def basic_input(spec: DiscountCodeSpec) -> dict[str, Any]:
    assert spec.kind is not DiscountKind.FREE_SHIPPING
    value: dict[str, Any]
    items: dict[str, Any] = {"all": True}
    if spec.kind is DiscountKind.FIXED_AMOUNT:
        value = {"discountAmount": {"amount": str(spec.value), "appliesOnEachItem": False}}
    elif spec.kind is DiscountKind.PERCENTAGE:
        assert spec.value is not None
        value = {"percentage": float(spec.value / 100)}
    else:
        value = {"discountOnQuantity": {"quantity": "1", "effect": {"percentage": 1.0}}}
        items = {"products": {"productsToAdd": [spec.product_id]}}
    return {**_common_input(spec), "customerGets": {"value": value, "items": items}}


def free_shipping_input(spec: DiscountCodeSpec) -> dict[str, Any]:
    return {**_common_input(spec), "destination": {"all": True}}


def _money(money_bag: object) -> Money | None:
    if not isinstance(money_bag, dict) or not isinstance(money_bag.get("shopMoney"), dict):
        return None
    shop_money = money_bag["shopMoney"]
    return Money(Decimal(str(shop_money["amount"])), str(shop_money["currencyCode"]))


def _datetime(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def order_from_node(node: dict[str, Any]) -> ShopifyOrder:
    customer = node.get("customer")
    line_items = node["lineItems"]
    return ShopifyOrder(
        id=node["id"],
        legacy_id=int(node["legacyResourceId"]),
        name=node["name"],
        email=node.get("email"),
        customer=(
            CustomerRef(id=customer["id"], legacy_id=int(customer["legacyResourceId"]))
            if customer
            else None
        ),
        created_at=_datetime(node["createdAt"]),
        updated_at=_datetime(node["updatedAt"]),
        subtotal=_money(node.get("currentSubtotalPriceSet")),
        source_name=node.get("sourceName"),
        line_items=tuple(
            OrderLineItem(
                id=item["id"],
                title=item["title"],
                quantity=int(item["quantity"]),
                original_total=_money(item.get("originalTotalSet")),
                discounted_total=_money(item.get("discountedTotalSet")),
            )
            for item in line_items["nodes"]
        ),
        line_items_complete=not line_items["pageInfo"]["hasNextPage"],
        financial_status=node.get("displayFinancialStatus"),
        cancelled_at=_datetime(node["cancelledAt"]) if node.get("cancelledAt") else None,
    )
