"""Refunds come with the Shopify backfill: each order's refunds (named in the bulk file, their
line items read from the Admin API, page by page) are recorded through refunds/create's own
path, so a backfilled shop's order facts and RFM monetary net out what was refunded, as the
live webhooks would have. Keyed by the Shopify refund id: a run resumed after a crash, the
backfill run again, and the refund's own webhook arriving later each net it out once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from db.models import BackfillStatus
from db.session import tenant_unit_of_work
from subgraphs.admin.backfill import service as backfills
from subgraphs.kit.integrations.shopify_admin import ShopifyUnavailableError
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant
from tests.subgraphs.analytics.rfm_shops import RawOrder, expected_rfm, stored_scores
from tests.worker.shopify_backfill.runs import (
    backfill_job,
    customers_by_shopify_id,
    order_facts_by_shopify_id,
)
from tests.worker.shopify_backfill.shopify_bulk import (
    mocked_shopify,
    recorded_lines,
    recorded_refunds,
)
from worker.analytics.webhooks import AnalyticsContext, after_refund


def _recorded_orders() -> list[dict[str, Any]]:
    return [json.loads(line) for line in recorded_lines("orders")]


def _refund_lines(refund_id: str) -> list[dict[str, Any]]:
    return [line for page in recorded_refunds()[refund_id]["pages"] for line in page]


def _refunded_goods(order: dict[str, Any]) -> Decimal:
    """What the recorded refunds of an order took back: their lines' subtotals, shop money."""
    return sum(
        (
            Decimal(line["subtotalSet"]["shopMoney"]["amount"])
            for refund in order["refunds"]
            for line in _refund_lines(refund["id"])
        ),
        Decimal(0),
    )


def _shop_amount(order: dict[str, Any], name: str) -> Decimal:
    return Decimal(order[name]["shopMoney"]["amount"])


async def _raw_orders(resources: Resources, tenant: Tenant, *, refunds: bool) -> list[RawOrder]:
    """The recorded orders as RFM's independent computation takes them."""
    ours = {
        shopify_id: customer.id
        for shopify_id, customer in (await customers_by_shopify_id(resources, tenant)).items()
    }
    return [
        RawOrder(
            ours.get(order["customer"]["legacyResourceId"]) if order["customer"] else None,
            datetime.fromisoformat(order["createdAt"]),
            _shop_amount(order, "totalPriceSet"),
            _refunded_goods(order) if refunds else Decimal(0),
            order["cancelledAt"] is not None,
        )
        for order in _recorded_orders()
    ]


async def _refunded_amounts(resources: Resources, tenant: Tenant) -> dict[str, Decimal]:
    facts = await order_facts_by_shopify_id(resources, tenant)
    return {shopify_id: fact.refunded_amount for shopify_id, fact in facts.items()}


def _expected_refunded_amounts() -> dict[str, Decimal]:
    return {order["legacyResourceId"]: _refunded_goods(order) for order in _recorded_orders()}


async def test_a_backfilled_shops_order_facts_and_rfm_net_out_its_refunds(
    resources: Resources, installed: Tenant, download_http: httpx.AsyncClient
) -> None:
    orders = {order["legacyResourceId"]: order for order in _recorded_orders()}
    # The recording holds a partial refund (two refund lines, on two pages), a full one (every
    # line of the order), one without lines (shipping only) and a cancelled order's.
    partial, full = orders["5003"], orders["5013"]
    assert 0 < _refunded_goods(partial) < _shop_amount(partial, "subtotalPriceSet")
    assert _refunded_goods(full) == _shop_amount(full, "subtotalPriceSet")
    assert len(recorded_refunds()[partial["refunds"][0]["id"]]["pages"]) == 2

    with mocked_shopify(installed.shop_domain) as shopify:
        assert await backfill_job(resources, installed, download_http).run() is (
            BackfillStatus.COMPLETED
        )
    # Line items were read for the refunded orders only, the second page of the long one too.
    read = [refund_id for query in shopify.refunds_read for refund_id in query]
    assert sorted(read) == sorted(
        [refund["id"] for order in orders.values() for refund in order["refunds"]]
        + [partial["refunds"][0]["id"]]
    )

    assert await _refunded_amounts(resources, installed) == _expected_refunded_amounts()
    expected = expected_rfm(
        await _raw_orders(resources, installed, refunds=True), datetime.now(UTC)
    )
    stored = await stored_scores(resources, installed.merchant_id)
    assert {customer_id: stored[customer_id] for customer_id in expected} == expected
    # The refunds move monetary scores: without them the same shop scores otherwise.
    unrefunded = expected_rfm(
        await _raw_orders(resources, installed, refunds=False), datetime.now(UTC)
    )
    assert unrefunded != expected


def _refunds_create_payload(order: dict[str, Any], refund: dict[str, Any]) -> dict[str, Any]:
    """The refund as refunds/create delivers it (REST shape: numeric ids, snake case)."""
    return {
        "id": int(refund["legacyResourceId"]),
        "order_id": int(order["legacyResourceId"]),
        "refund_line_items": [
            {
                "quantity": 1,
                "subtotal": line["subtotalSet"]["shopMoney"]["amount"],
                "subtotal_set": {
                    "shop_money": {
                        "amount": line["subtotalSet"]["shopMoney"]["amount"],
                        "currency_code": line["subtotalSet"]["shopMoney"]["currencyCode"],
                    },
                    "presentment_money": {
                        "amount": line["subtotalSet"]["presentmentMoney"]["amount"],
                        "currency_code": line["subtotalSet"]["presentmentMoney"]["currencyCode"],
                    },
                },
            }
            for line in _refund_lines(refund["id"])
        ],
    }


async def test_a_resumed_or_repeated_backfill_and_the_refunds_webhook_net_a_refund_out_once(
    resources: Resources, installed: Tenant, download_http: httpx.AsyncClient
) -> None:
    # Batches of two lines, the orders file broken off after 5: lines 1-4 (5003's refund
    # among them) are committed, line 5 is not.
    with mocked_shopify(installed.shop_domain, break_after={"orders": 5}):
        with pytest.raises(ShopifyUnavailableError):
            await backfill_job(resources, installed, download_http, batch_lines=2).run()
        assert (await _refunded_amounts(resources, installed))["5003"] > 0
        assert await backfill_job(resources, installed, download_http, batch_lines=2).run() is (
            BackfillStatus.COMPLETED
        )
    expected = _expected_refunded_amounts()
    assert await _refunded_amounts(resources, installed) == expected
    scores = await stored_scores(resources, installed.merchant_id)

    # The merchant runs it again: every line and every refund is read and written again.
    async with tenant_unit_of_work(resources.sessions, installed.merchant_id) as session:
        await backfills.start_again(session, installed.merchant_id, now=datetime.now(UTC))
    with mocked_shopify(installed.shop_domain):
        assert await backfill_job(resources, installed, download_http).run() is (
            BackfillStatus.COMPLETED
        )
    assert await _refunded_amounts(resources, installed) == expected

    # Then Shopify delivers refunds/create of refunds the backfill recorded.
    for order in _recorded_orders():
        for refund in order["refunds"]:
            async with tenant_unit_of_work(resources.sessions, installed.merchant_id) as session:
                context = AnalyticsContext(session, installed.merchant_id, datetime.now(UTC))
                outcome = await after_refund(context, _refunds_create_payload(order, refund))
            assert outcome is not None
            assert outcome.startswith("refund recorded in order facts")
    assert await _refunded_amounts(resources, installed) == expected
    assert await stored_scores(resources, installed.merchant_id) == scores
