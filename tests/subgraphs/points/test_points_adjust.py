"""pointsAdjust: the ledger changes once per idempotency key, and balance = sum of ledger."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select

from db.models import Customer, PointsTransaction
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from tests.conftest import SubgraphClient, Tenant, add_customer
from tests.ids import gid

EARN = """
mutation Earn($input: PointsAdjustInput!) {
  pointsAdjust(input: $input) {
    transaction { id kind points reason }
    customer { id pointsBalance }
    userErrors { field message code }
  }
}
"""


def earn_input(
    customer_id: str, points: int, key: str, reason: str = "order #1001"
) -> dict[str, object]:
    return {
        "input": {
            "customerId": gid("Customer", customer_id),
            "points": points,
            "reason": reason,
            "idempotencyKey": key,
        }
    }


async def ledger_state(
    resources: Resources, tenant: Tenant, customer_id: str
) -> tuple[int, int, int]:
    """(balance, signed sum of ledger, number of ledger rows), read straight from Postgres."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        balance = await session.scalar(
            select(Customer.points_balance).where(
                Customer.merchant_id == tenant.merchant_id, Customer.id == customer_id
            )
        )
        total, rows = (
            await session.execute(
                select(func.coalesce(func.sum(PointsTransaction.points), 0), func.count()).where(
                    PointsTransaction.merchant_id == tenant.merchant_id,
                    PointsTransaction.customer_id == customer_id,
                )
            )
        ).one()
    assert balance is not None
    return balance, int(total), int(rows)


async def test_earn_credits_the_ledger_and_the_balance(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)

    result = await points_client.execute(
        EARN, earn_input(customer_id, 150, "order-1"), tenant=tenant
    )

    payload = result["data"]["pointsAdjust"]
    assert payload["userErrors"] == []
    assert payload["transaction"]["kind"] == "ADJUST"
    assert payload["transaction"]["points"] == 150
    assert payload["customer"] == {"id": gid("Customer", customer_id), "pointsBalance": "150"}
    assert await ledger_state(resources, tenant, customer_id) == (150, 150, 1)


async def test_same_idempotency_key_changes_the_ledger_once(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)

    first = await points_client.execute(EARN, earn_input(customer_id, 40, "order-7"), tenant=tenant)
    again = await points_client.execute(EARN, earn_input(customer_id, 40, "order-7"), tenant=tenant)

    assert again["data"]["pointsAdjust"]["userErrors"] == []
    assert (
        again["data"]["pointsAdjust"]["transaction"]["id"]
        == first["data"]["pointsAdjust"]["transaction"]["id"]
    )
    assert again["data"]["pointsAdjust"]["customer"]["pointsBalance"] == "40"
    assert await ledger_state(resources, tenant, customer_id) == (40, 40, 1)


async def test_concurrent_retries_with_one_key_change_the_ledger_once(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)

    results = await asyncio.gather(
        *(
            points_client.execute(
                EARN, earn_input(customer_id, 25, "webhook-order-9"), tenant=tenant
            )
            for _ in range(8)
        )
    )

    transaction_ids = {r["data"]["pointsAdjust"]["transaction"]["id"] for r in results}
    assert len(transaction_ids) == 1
    assert all(r["data"]["pointsAdjust"]["userErrors"] == [] for r in results)
    assert await ledger_state(resources, tenant, customer_id) == (25, 25, 1)


async def test_concurrent_distinct_awards_all_land(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)

    await asyncio.gather(
        *(
            points_client.execute(EARN, earn_input(customer_id, n, f"order-{n}"), tenant=tenant)
            for n in range(1, 11)
        )
    )

    assert await ledger_state(resources, tenant, customer_id) == (55, 55, 10)


async def test_reusing_a_key_for_a_different_award_is_refused(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)
    await points_client.execute(EARN, earn_input(customer_id, 10, "order-3"), tenant=tenant)

    result = await points_client.execute(
        EARN, earn_input(customer_id, 99, "order-3"), tenant=tenant
    )

    payload = result["data"]["pointsAdjust"]
    assert payload["transaction"] is None
    assert payload["userErrors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert payload["userErrors"][0]["field"] == ["input", "idempotencyKey"]
    assert await ledger_state(resources, tenant, customer_id) == (10, 10, 1)


async def test_invalid_input_is_a_user_error_and_writes_nothing(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)
    cases = [
        (earn_input(customer_id, 0, "k1"), "INVALID_POINTS", "points"),
        (earn_input(customer_id, -5, "k2"), "INSUFFICIENT_POINTS", "points"),
        (earn_input(customer_id, 2_000_000, "k3"), "INVALID_POINTS", "points"),
        (earn_input(customer_id, 5, "k4", reason="  "), "INVALID_REASON", "reason"),
        (earn_input(customer_id, 5, ""), "INVALID_IDEMPOTENCY_KEY", "idempotencyKey"),
        (earn_input(str(uuid.uuid4()), 5, "k5"), "CUSTOMER_NOT_FOUND", "customerId"),
    ]
    for variables, code, field in cases:
        result = await points_client.execute(EARN, variables, tenant=tenant)
        errors = result["data"]["pointsAdjust"]["userErrors"]
        assert [(e["code"], e["field"]) for e in errors] == [(code, ["input", field])], variables

    assert await ledger_state(resources, tenant, customer_id) == (0, 0, 0)


async def test_a_customer_of_another_merchant_cannot_be_credited(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    victim = await add_customer(resources, other_tenant)

    result = await points_client.execute(EARN, earn_input(victim, 500, "steal-1"), tenant=tenant)

    assert result["data"]["pointsAdjust"]["userErrors"][0]["code"] == "CUSTOMER_NOT_FOUND"
    assert await ledger_state(resources, other_tenant, victim) == (0, 0, 0)


async def test_without_a_token_nothing_is_written(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)

    result = await points_client.execute(EARN, earn_input(customer_id, 5, "anon-1"))

    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await ledger_state(resources, tenant, customer_id) == (0, 0, 0)
