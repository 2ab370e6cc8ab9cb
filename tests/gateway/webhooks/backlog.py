"""Paid orders in a test merchant's inbox, and what the worker made of them: the deliveries
sent through the shim (or made a backlog of, oldest first), the ledger's state, the worker's
histograms, and a wait until deliveries are done."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import text

from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.program.service import update_program_config
from tests.conftest import Tenant
from tests.gateway.webhooks.shopify import deliver, inbox, order_payload


async def send(edge: httpx.AsyncClient, tenant: Tenant, topic: str, payload: Any) -> str:
    response = await deliver(edge, topic, payload, shop=tenant.shop_domain)
    assert response.status_code == 200, response.text
    return str(response.json()["deliveryId"])


async def paid_orders(edge: httpx.AsyncClient, tenant: Tenant, first: int, count: int) -> list[str]:
    async with asyncio.TaskGroup() as group:
        sent = [
            group.create_task(
                send(
                    edge,
                    tenant,
                    "orders/paid",
                    order_payload(
                        first + n,
                        lines=[((first + n) * 10, 1, "10.00")],
                        customer_id=9_100 + n % 4,
                        email=f"batch{n % 4}@example.com",
                    ),
                )
            )
            for n in range(count)
        ]
    return [task.result() for task in sent]


async def ledger_state(resources: Resources, tenant: Tenant) -> tuple[int, int, int, int]:
    """(earn rows, distinct orders earned, sum of balances, signed ledger sum = open lots)."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        row = (
            await session.execute(
                text(
                    "SELECT (SELECT count(*) FROM points_transactions WHERE kind = 'earn'),"
                    " (SELECT count(DISTINCT order_id) FROM points_transactions"
                    "  WHERE kind = 'earn'),"
                    " (SELECT coalesce(sum(points_balance), 0) FROM customers),"
                    " (SELECT coalesce(sum(points), 0) FROM points_transactions),"
                    " (SELECT coalesce(sum(remaining_points), 0) FROM points_transactions)"
                )
            )
        ).one()
    earns, orders, balances, ledger, lots = (int(value) for value in row)
    assert ledger == lots, (ledger, lots)
    return earns, orders, balances, ledger


async def flat_earning(resources: Resources, tenant: Tenant) -> None:
    """10 points per dollar and nothing else: no first-purchase bonus, and no RFM multiplier
    (the order facts make a frequent buyer a Champion part-way through, at a moment that
    depends on which batch runs first)."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await update_program_config(
            WriteContext(session, tenant.merchant_id),
            {"first_purchase": None, "rfm_multipliers": {}},
        )


def histogram(name: str) -> tuple[float, float]:
    """(observations, their sum) of one of the worker's histograms, so far in this process."""
    count = REGISTRY.get_sample_value(f"{name}_count") or 0.0
    total = REGISTRY.get_sample_value(f"{name}_sum") or 0.0
    return count, total


async def due(resources: Resources, delivery_id: str, seconds_from_now: float) -> None:
    """Set when a delivery is due: in the past orders a backlog, in the future is a retry
    waiting for its time."""
    async with system_unit_of_work(resources.sessions) as session:
        await session.execute(
            text(
                "UPDATE api_logs SET next_attempt_at = now() + make_interval(secs => :s)"
                " WHERE id = :id"
            ),
            {"id": delivery_id, "s": seconds_from_now},
        )


async def backlog(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant, first: int, count: int
) -> list[str]:
    """``count`` paid orders waiting for the worker, the first the oldest due."""
    sent = await paid_orders(edge, tenant, first, count)
    for age, delivery_id in enumerate(sent):
        await due(resources, delivery_id, -1000.0 + age)
    return sent


async def until_done(resources: Resources, tenant: Tenant, sent: list[str]) -> None:
    """Wait (a few seconds at most) until every one of ``sent`` is done."""
    for _ in range(200):
        rows = {row["id"]: row["status"] for row in await inbox(resources, tenant.merchant_id)}
        if {rows[delivery_id] for delivery_id in sent} == {"done"}:
            return
        await asyncio.sleep(0.05)
    left = sum(rows[delivery_id] != "done" for delivery_id in sent)
    raise AssertionError(f"{left} of {len(sent)} deliveries not done")
