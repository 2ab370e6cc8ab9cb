"""What the backfill asks Shopify for, and its answers in the shapes the webhooks carry.

Each bulk result line becomes the payload the matching webhook would have delivered (REST
field names, numeric ids), parsed by the very models the webhook handlers parse: points'
``ShopifyCustomer`` and analytics' ``ShopifyOrder``. So a backfilled customer or order fact
is exactly what ``customers/create`` or ``orders/create`` would have made of it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from subgraphs.analytics.orders.service import OrderFact, ShopifyOrder
from subgraphs.points.orders.shopify_payloads import PayloadError, ShopifyCustomer, parse

_COUNTRY = "countryCodeV2"
CUSTOMERS_QUERY = f"""
{{
  customers {{
    edges {{
      node {{
        id legacyResourceId locale
        defaultEmailAddress {{ emailAddress }}
        defaultPhoneNumber {{ phoneNumber }}
        defaultAddress {{ {_COUNTRY} }}
      }}
    }}
  }}
}}"""
_MONEY_BAG = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"


def orders_query(since: datetime) -> str:
    """Orders created at or after ``since``, with what an order fact keeps, and the ids of
    their refunds: ``Order.refunds`` is a list, not a connection, so it comes inline on the
    order's line, but a bulk query refuses a connection inside a list ("Queries that contain a
    connection field within a list field are not currently supported"), so the refunds' line
    items (what ``refunds/create`` nets out) are read afterwards (``REFUND_LINES_QUERY``)."""
    stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"""
{{
  orders(query: "created_at:>='{stamp}'") {{
    edges {{
      node {{
        id legacyResourceId createdAt processedAt cancelledAt
        displayFinancialStatus sourceName currencyCode presentmentCurrencyCode
        subtotalPriceSet {{ {_MONEY_BAG} }}
        totalPriceSet {{ {_MONEY_BAG} }}
        discountCodes
        customer {{ legacyResourceId defaultAddress {{ {_COUNTRY} }} }}
        shippingAddress {{ {_COUNTRY} }}
        billingAddress {{ {_COUNTRY} }}
        refunds {{ id legacyResourceId }}
      }}
    }}
  }}
}}"""


# A refund's refunded goods, as refunds/create carries them (refund_line_items[].subtotal_set),
# for a few refunds at once; a refund with more lines than a page is read on with
# ``REFUND_MORE_LINES_QUERY``. Five refunds of 50 lines stay far below the 1,000 points a
# single query may cost.
REFUND_LINES_PAGE = 50
REFUNDS_PER_QUERY = 5
_REFUND_LINES = f"""
    legacyResourceId
    refundLineItems(first: {REFUND_LINES_PAGE}, after: $after) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ subtotalSet {{ {_MONEY_BAG} }} }}
    }}"""
REFUND_LINES_QUERY = f"""
query LoyalNestRefundLines($ids: [ID!]!, $after: String) {{
  nodes(ids: $ids) {{ ... on Refund {{ id {_REFUND_LINES} }} }}
}}"""
REFUND_MORE_LINES_QUERY = f"""
query LoyalNestRefundMoreLines($id: ID!, $after: String) {{
  node(id: $id) {{ ... on Refund {{ id {_REFUND_LINES} }} }}
}}"""


def refund_ids_of_line(node: dict[str, Any]) -> list[str]:
    """The refunds of an orders line (their Admin API ids), in Shopify's order."""
    refunds = node.get("refunds")
    if not isinstance(refunds, list):
        return []
    return [
        str(refund["id"]) for refund in refunds if isinstance(refund, dict) and refund.get("id")
    ]


def refund_payload(
    order_node: dict[str, Any], refund_node: dict[str, Any], lines: list[Any]
) -> dict[str, Any]:
    """A refund of an orders line as refunds/create delivers it (REST names, numeric ids, so
    the same refund id keys it either way): its goods, line by line (``lines``: every one of
    the refund's ``refundLineItems`` nodes)."""
    return {
        "id": refund_node.get("legacyResourceId"),
        "order_id": order_node.get("legacyResourceId"),
        "refund_line_items": [
            {"subtotal_set": _money_set(line.get("subtotalSet"))}
            for line in lines
            if isinstance(line, dict)
        ],
    }


def _field(node: dict[str, Any], name: str, inner: str) -> Any:
    value = node.get(name)
    return value.get(inner) if isinstance(value, dict) else None


def _address(node: dict[str, Any], name: str) -> dict[str, Any] | None:
    country = _field(node, name, _COUNTRY)
    return {"country_code": country} if country else None


def customer_of_line(node: dict[str, Any]) -> ShopifyCustomer | None:
    """A customers line as ``customers/create`` carries the customer; None if unreadable."""
    payload = {
        "id": node.get("legacyResourceId"),
        "email": _field(node, "defaultEmailAddress", "emailAddress"),
        "phone": _field(node, "defaultPhoneNumber", "phoneNumber"),
        "locale": node.get("locale"),
        "default_address": _address(node, "defaultAddress"),
    }
    try:
        return parse(ShopifyCustomer, payload)
    except PayloadError:
        return None


def _money_set(bag: object) -> dict[str, Any] | None:
    if not isinstance(bag, dict):
        return None
    return {
        side: {"amount": money.get("amount"), "currency_code": money.get("currencyCode")}
        for side, key in (("shop_money", "shopMoney"), ("presentment_money", "presentmentMoney"))
        if isinstance(money := bag.get(key), dict)
    }


def _shop_amount(bag: object) -> Any:
    return _field(bag, "shopMoney", "amount") if isinstance(bag, dict) else None


def order_fact_of_line(node: dict[str, Any]) -> OrderFact | None:
    """An orders line as the order webhooks' fact of it (its customer found by Shopify id
    when written); None if unreadable."""
    customer = node.get("customer") if isinstance(node.get("customer"), dict) else None
    payload: dict[str, Any] = {
        "id": node.get("legacyResourceId"),
        "currency": node.get("currencyCode"),
        "presentment_currency": node.get("presentmentCurrencyCode"),
        "created_at": node.get("createdAt"),
        "processed_at": node.get("processedAt"),
        "cancelled_at": node.get("cancelledAt"),
        # The Admin API's display status is the REST financial_status in upper case.
        "financial_status": (node.get("displayFinancialStatus") or "").lower() or None,
        "source_name": node.get("sourceName"),
        "subtotal_price": _shop_amount(node.get("subtotalPriceSet")) or 0,
        "total_price": _shop_amount(node.get("totalPriceSet")) or 0,
        "subtotal_price_set": _money_set(node.get("subtotalPriceSet")),
        "total_price_set": _money_set(node.get("totalPriceSet")),
        "discount_codes": [{"code": code} for code in node.get("discountCodes") or []],
        "customer": (
            {
                "id": customer.get("legacyResourceId"),
                "default_address": _address(customer, "defaultAddress"),
            }
            if customer
            else None
        ),
        "shipping_address": _address(node, "shippingAddress"),
        "billing_address": _address(node, "billingAddress"),
    }
    try:
        order = ShopifyOrder.model_validate(payload)
    except ValidationError:
        return None
    fact = order.fact(None, paid_now=None)
    return replace(fact, shopify_customer_id=order.customer.id) if order.customer else fact
