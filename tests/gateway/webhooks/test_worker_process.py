"""The real worker process: killed in the middle of a batch, restarted, and nothing is lost or
applied twice. And with Redis stopped, the shim still accepts; the worker catches up later."""

from __future__ import annotations

import asyncio
import signal
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import text

from cli.embedded import start_redis
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.kit.resources import Resources, open_resources
from subgraphs.kit.settings import Settings
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.program.service import update_program_config
from tests.conftest import Tenant
from tests.gateway.webhooks.conftest import serve_edge
from tests.gateway.webhooks.shopify import order_payload, signed
from tests.services import start_worker, stop_process, wait_while_running

BATCH = 1000
CUSTOMERS = 40


async def _status_counts(resources: Resources, merchant_id: str) -> dict[str, int]:
    async with system_unit_of_work(resources.sessions) as session:
        rows = await session.execute(
            text("SELECT status, count(*) FROM api_logs WHERE merchant_id = :m GROUP BY status"),
            {"m": merchant_id},
        )
        return {str(status): int(count) for status, count in rows}


async def _deliver(http: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    """As Shopify delivers: a delivery that got no answer (a connection dropped under load)
    is sent again, with the same webhook id, which the shim must take only once."""
    for attempt in range(3):
        try:
            return await http.post("/webhooks/shopify", content=body, headers=headers)
        except httpx.TransportError:
            if attempt == 2:
                raise
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


async def _orders_sent(http: httpx.AsyncClient, tenant: Tenant, count: int) -> dict[str, int]:
    """Send ``count`` paid orders; return order id -> the points each must earn."""
    expected: dict[str, int] = {}
    limit = asyncio.Semaphore(16)

    async def send(number: int) -> None:
        quantity, price = 1 + number % 3, Decimal(number % 17 + 1)
        order_id = 500_000 + number
        payload = order_payload(
            order_id,
            lines=[(order_id * 10, quantity, f"{price}.00")],
            customer_id=70_000 + number % CUSTOMERS,
            email=f"buyer{number % CUSTOMERS}@example.com",
        )
        expected[str(order_id)] = int(10 * quantity * price)
        delivery = signed("orders/paid", payload, shop=tenant.shop_domain)
        async with limit:
            response = await _deliver(http, delivery.body, delivery.headers)
        assert response.status_code == 200, response.text

    await asyncio.gather(*(send(number) for number in range(count)))
    return expected


async def _assert_applied_exactly_once(
    resources: Resources, tenant: Tenant, expected: dict[str, int]
) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        count, total, orders = (
            await session.execute(
                text(
                    "SELECT count(*), coalesce(sum(points), 0), count(DISTINCT order_id) "
                    "FROM points_transactions WHERE kind = 'earn'"
                )
            )
        ).one()
        balances, ledger = (
            await session.execute(
                text(
                    "SELECT (SELECT sum(points_balance) FROM customers), "
                    "(SELECT sum(points) FROM points_transactions)"
                )
            )
        ).one()
    assert (count, orders) == (len(expected), len(expected))
    assert total == sum(expected.values())
    assert balances == ledger == total


async def test_a_worker_killed_mid_batch_leaves_every_delivery_applied_exactly_once(
    edge_url: str, resources: Resources, settings: Settings, tenant: Tenant
) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        # Exactly 10 points a dollar: no first-purchase bonus, and no RFM multiplier (the
        # batch's earlier orders may make a customer a Champion before their later ones).
        await update_program_config(
            WriteContext(session, tenant.merchant_id),
            {"first_purchase": None, "rfm_multipliers": {}},
        )
    async with httpx.AsyncClient(base_url=edge_url, timeout=30) as http:
        expected = await _orders_sent(http, tenant, BATCH)
    assert await _status_counts(resources, tenant.merchant_id) == {"pending": BATCH}

    async def some_done() -> bool:
        return (await _status_counts(resources, tenant.merchant_id)).get("done", 0) >= 150

    worker = start_worker(settings)
    try:
        await wait_while_running(some_done, within=120, process=worker)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        stop_process(worker)
    at_kill = await _status_counts(resources, tenant.merchant_id)
    assert 0 < at_kill.get("done", 0) < BATCH, at_kill

    async def all_done() -> bool:
        return await _status_counts(resources, tenant.merchant_id) == {"done": BATCH}

    restarted = start_worker(settings)
    try:
        await wait_while_running(all_done, within=240, process=restarted)
    finally:
        stop_process(restarted)
    await _assert_applied_exactly_once(resources, tenant, expected)


async def test_with_redis_stopped_deliveries_are_accepted_and_processed_after_it_returns(
    resources: Resources, settings: Settings, tenant: Tenant, tmp_path: Path
) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        # Exactly 10 points a dollar: no first-purchase bonus, and no RFM multiplier (the
        # batch's earlier orders may make a customer a Champion before their later ones).
        await update_program_config(
            WriteContext(session, tenant.merchant_id),
            {"first_purchase": None, "rfm_multipliers": {}},
        )
    # A Redis of its own, so stopping it leaves the rest of the suite alone.
    redis = start_redis(tmp_path)
    isolated = settings.model_copy(update={"redis_url": redis.url})
    try:
        async with open_resources(isolated, live=False) as edge_resources:
            async for url in serve_edge(edge_resources):
                redis.stop()
                async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                    expected = await _orders_sent(http, tenant, 20)
        assert await _status_counts(resources, tenant.merchant_id) == {"pending": 20}

        redis = start_redis(tmp_path, port=redis.port)

        async def all_done() -> bool:
            return await _status_counts(resources, tenant.merchant_id) == {"done": 20}

        worker = start_worker(isolated, REDIS_URL=redis.url)
        try:
            await wait_while_running(all_done, within=120, process=worker)
        finally:
            stop_process(worker)
        await _assert_applied_exactly_once(resources, tenant, expected)
    finally:
        redis.stop()
