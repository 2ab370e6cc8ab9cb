"""The Shopify backfill at install, from a recorded bulk export served through respx: the
shop's customers are enrolled (encrypted and blind-indexed like any other) and two years of
orders become order facts, then RFM gives every customer with orders a segment. A run broken
off midway continues where it stopped without writing a line twice; throttled calls are
waited out; an uninstalled shop's run stops; the merchant sees it all and can run it again."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from db.encryption_contexts import CUSTOMERS_EMAIL
from db.models import BackfillStatus, BackfillStep
from db.session import tenant_unit_of_work
from subgraphs.admin.merchants.service import record_uninstall
from subgraphs.analytics.orders import service as order_facts
from subgraphs.kit.integrations.shopify_admin import ShopifyUnavailableError
from subgraphs.kit.resources import Resources
from subgraphs.points.customers.service import email_index
from tests.conftest import Tenant, add_customer
from tests.worker.shopify_backfill.runs import backfill_job as _job
from tests.worker.shopify_backfill.runs import backfill_state as _state
from tests.worker.shopify_backfill.runs import customers_by_shopify_id as _customers
from tests.worker.shopify_backfill.runs import order_facts_by_shopify_id as _orders
from tests.worker.shopify_backfill.shopify_bulk import mocked_shopify, recorded_lines


async def test_the_backfill_fills_customers_and_orders_and_rfm_segments_them(
    resources: Resources, installed: Tenant, download_http: httpx.AsyncClient
) -> None:
    # Dan bought as a guest before: known by email only, his account is linked, not doubled.
    guest_dan = await add_customer(resources, installed, email="dan.dyer@example.com")
    with mocked_shopify(installed.shop_domain) as shopify:
        status = await _job(resources, installed, download_http).run()
    assert status is BackfillStatus.COMPLETED
    assert shopify.started == ["customers", "orders"]

    customers = await _customers(resources, installed)
    # 1003 has a phone and no email: nothing to enrol them by.
    assert set(customers) == {"1001", "1002", "1004", "1005"}
    assert customers["1004"].id == guest_dan
    ann = customers["1001"]
    assert "ann" not in ann.email_encrypted.lower()
    assert (
        resources.cipher.decrypt(ann.email_encrypted, context=CUSTOMERS_EMAIL)
        == "ann.archer@example.com"
    )
    assert ann.email_blind_index == email_index("ann.archer@example.com", resources.cipher)
    assert (ann.country_code, customers["1002"].locale, customers["1005"].locale) == (
        "US",
        "fr",
        "he",
    )
    # No signup points for customers who signed up before the program.
    assert all(customer.points_balance == 0 for customer in customers.values())

    orders = await _orders(resources, installed)
    assert len(orders) == 15
    guest = [fact for fact in orders.values() if fact.customer_id is None]
    assert len(guest) == 1
    euro = orders["5012"]
    assert (euro.customer_id, euro.channel, euro.region) == (guest_dan, "pos", "ES")
    assert (euro.total, euro.presentment_currency, euro.presentment_total) == (
        Decimal("65.00"),
        "EUR",
        Decimal("58.50"),
    )
    assert orders["5007"].discount_codes == ["LOYAL-10"]
    assert orders["5009"].cancelled_at is not None
    assert orders["5014"].paid_at is None  # Eve's order is still pending

    assert {shopify_id: row.rfm_segment for shopify_id, row in customers.items()} == {
        "1001": "Champions",
        "1002": "Inactive",
        "1004": "At-Risk",
        "1005": "New",
    }
    state = await _state(resources, installed)
    assert (state.status, state.step) == (BackfillStatus.COMPLETED, BackfillStep.SCORING)
    assert (state.customers_imported, state.orders_imported) == (4, 15)
    assert state.finished_at is not None
    assert state.error is None


async def test_a_run_broken_off_midway_continues_where_it_stopped_without_doubles(
    resources: Resources, installed: Tenant, download_http: httpx.AsyncClient
) -> None:
    # Batches of two lines: the orders file drops after 7 lines, so lines 1-6 are committed
    # (three batches) and line 7 is in a batch that never committed.
    with mocked_shopify(installed.shop_domain, break_after={"orders": 7}) as shopify:
        job = _job(resources, installed, download_http, batch_lines=2)
        with pytest.raises(ShopifyUnavailableError):
            await job.run()
        broken = await _state(resources, installed)
        assert (broken.status, broken.step) == (BackfillStatus.RUNNING, BackfillStep.ORDERS)
        assert (broken.lines_processed, broken.orders_imported) == (6, 6)
        assert len(await _orders(resources, installed)) == 6

        # The next job (the sweeper's) reads the recorded operation's file from line 7.
        assert await _job(resources, installed, download_http, batch_lines=2).run() == (
            BackfillStatus.COMPLETED
        )
    assert shopify.started == ["customers", "orders"]  # no operation was started again
    assert shopify.downloads == {"customers": 1, "orders": 2}
    state = await _state(resources, installed)
    assert (state.customers_imported, state.orders_imported) == (4, 15)
    assert len(await _orders(resources, installed)) == 15
    assert len(await _customers(resources, installed)) == 4


async def test_throttled_admin_api_calls_are_waited_out_and_retried(
    resources: Resources, installed: Tenant, download_http: httpx.AsyncClient
) -> None:
    with mocked_shopify(installed.shop_domain, throttle_first=True) as shopify:
        status = await _job(resources, installed, download_http).run()
        graphql_calls = [
            call for call in shopify.router.calls if call.request.url.path.endswith("graphql.json")
        ]
        # The 429 and the THROTTLED answer were both retried, then the call went through.
        assert [call.response.status_code for call in graphql_calls[:3]] == [429, 200, 200]
        assert "THROTTLED" in graphql_calls[1].response.text
        assert "bulkOperation" in graphql_calls[2].response.text
    assert status is BackfillStatus.COMPLETED
    assert shopify.started == ["customers", "orders"]
    assert (await _state(resources, installed)).orders_imported == 15


async def test_an_uninstalled_shops_backfill_stops(
    resources: Resources, installed: Tenant, download_http: httpx.AsyncClient
) -> None:
    async def uninstall_while_waiting(_seconds: float) -> None:
        async with tenant_unit_of_work(resources.sessions, installed.merchant_id) as session:
            await record_uninstall(session, installed.merchant_id, now=datetime.now(UTC))

    with mocked_shopify(installed.shop_domain) as shopify:
        status = await _job(
            resources, installed, download_http, sleep=uninstall_while_waiting
        ).run()
        assert status is BackfillStatus.STOPPED
        # Another job for it (the sweeper's) finds it stopped and does nothing.
        assert await _job(resources, installed, download_http).run() is None
    # It stopped at the next batch of the customers file: nothing written, no orders asked.
    assert shopify.started == ["customers"]
    state = await _state(resources, installed)
    assert state.status == BackfillStatus.STOPPED
    assert state.error == "the shop uninstalled LoyalNest"
    assert await _customers(resources, installed) == {}


async def test_a_bulk_operation_shopify_fails_fails_the_run_with_its_reason(
    resources: Resources, installed: Tenant, download_http: httpx.AsyncClient
) -> None:
    with mocked_shopify(installed.shop_domain) as shopify:
        shopify.fail_with = "ACCESS_DENIED"
        assert await _job(resources, installed, download_http).run() is BackfillStatus.FAILED
    state = await _state(resources, installed)
    assert state.status == BackfillStatus.FAILED
    assert state.error == "Shopify's bulk operation ended FAILED (ACCESS_DENIED)"
    assert state.finished_at is not None


async def test_a_bulk_query_left_running_by_a_crashed_start_is_taken_over(
    resources: Resources, installed: Tenant, download_http: httpx.AsyncClient
) -> None:
    with mocked_shopify(installed.shop_domain, left_running="customers") as shopify:
        assert await _job(resources, installed, download_http).run() is (BackfillStatus.COMPLETED)
    # Shopify refused a second customers query; the running one was read, not restarted.
    assert shopify.started == ["customers", "orders"]
    assert (await _state(resources, installed)).customers_imported == 4


_FACT_COLUMNS = (
    "created_at", "paid_at", "cancelled_at", "currency", "subtotal", "total",
    "presentment_currency", "presentment_subtotal", "presentment_total", "channel", "region",
    "discount_codes", "refunded_amount",
)  # fmt: skip


async def test_a_backfilled_order_fact_is_the_one_its_webhook_would_have_written(
    resources: Resources, installed: Tenant, other_tenant: Tenant, download_http: httpx.AsyncClient
) -> None:
    with mocked_shopify(installed.shop_domain):
        await _job(resources, installed, download_http).run()
    backfilled = (await _orders(resources, installed))["5012"]
    # The same order as orders/paid delivers it (REST shape), through the webhook's recording.
    line = json.loads(recorded_lines("orders")[11])
    webhook_payload = {
        "id": 5012,
        "currency": "USD",
        "presentment_currency": "EUR",
        "created_at": line["createdAt"],
        "processed_at": line["processedAt"],
        "cancelled_at": None,
        "financial_status": "paid",
        "source_name": "pos",
        "subtotal_price": "60.00",
        "total_price": "65.00",
        "subtotal_price_set": {
            "shop_money": {"amount": "60.00", "currency_code": "USD"},
            "presentment_money": {"amount": "54.00", "currency_code": "EUR"},
        },
        "total_price_set": {
            "shop_money": {"amount": "65.00", "currency_code": "USD"},
            "presentment_money": {"amount": "58.50", "currency_code": "EUR"},
        },
        "discount_codes": [],
        "customer": {"id": 1004, "default_address": {"country_code": "ES"}},
        "shipping_address": {"country_code": "ES"},
        "billing_address": {"country_code": "ES"},
    }
    async with tenant_unit_of_work(resources.sessions, other_tenant.merchant_id) as session:
        await order_facts.record_order_payload(session, other_tenant.merchant_id, webhook_payload)
    from_webhook = (await _orders(resources, other_tenant))["5012"]
    assert {name: getattr(backfilled, name) for name in _FACT_COLUMNS} == {
        name: getattr(from_webhook, name) for name in _FACT_COLUMNS
    }
