"""Balances and lifetime sums past 2^31 (and 2^32): stored in bigint, served as UnsignedInt64."""

from __future__ import annotations

from sqlalchemy import text

from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from tests.conftest import SubgraphClient, Tenant, add_customer
from tests.ids import gid
from tests.subgraphs.points.ledger_helpers import ledger_state

LOT = 1_000_000  # MAX_POINTS_PER_TRANSACTION: every credit and debit stays within the cap
CREDITS = 5_000
SPENT = 500
BALANCE = (CREDITS - SPENT) * LOT  # 4,500,000,000 > 2^32 > 2^31 - 1
EARNED = CREDITS * LOT

CUSTOMER = """
query($id: ID!) {
  customer(id: $id) {
    pointsBalance totalPointsEarned
    expiringPoints(withinDays: 30) { points }
  }
}
"""
ADJUST = """
mutation($input: PointsAdjustInput!) {
  pointsAdjust(input: $input) { userErrors { code } customer { pointsBalance } }
}
"""


def decimal_string(value: object) -> int:
    """The wire form of UnsignedInt64: a decimal string, never a JSON number."""
    assert isinstance(value, str), value
    assert value.isascii(), value
    assert value.isdigit(), value
    return int(value)


async def big_ledger(resources: Resources, tenant: Tenant, customer_id: str) -> None:
    """CREDITS lots of LOT points (SPENT of them used up by as many redemptions) in a few set
    statements, keeping balance = signed sum of the ledger = open lots."""
    params = {"merchant": tenant.merchant_id, "customer": customer_id}
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await session.execute(
            text(
                "INSERT INTO points_transactions (merchant_id, id, customer_id, kind, points,"
                " reason, idempotency_key, remaining_points, expires_at)"
                " SELECT :merchant, 'big-credit-' || n, :customer, 'adjust',"
                " CAST(:lot AS bigint), 'bulk', 'big-credit:' || n,"
                " CASE WHEN n <= CAST(:spent AS int) THEN 0 ELSE CAST(:lot AS bigint) END,"
                " now() + interval '10 days'"
                " FROM generate_series(1, CAST(:credits AS int)) AS n"
            ),
            {**params, "lot": LOT, "spent": SPENT, "credits": CREDITS},
        )
        await session.execute(
            text(
                "INSERT INTO points_transactions (merchant_id, id, customer_id, kind, points,"
                " reason, idempotency_key)"
                " SELECT :merchant, 'big-debit-' || n, :customer, 'redeem',"
                " -CAST(:lot AS bigint), 'bulk',"
                " 'big-debit:' || n FROM generate_series(1, CAST(:spent AS int)) AS n"
            ),
            {**params, "lot": LOT, "spent": SPENT},
        )
        await session.execute(
            text(
                "UPDATE customers SET points_balance = :balance, total_points_earned = :earned"
                " WHERE merchant_id = :merchant AND id = :customer"
            ),
            {**params, "balance": BALANCE, "earned": EARNED},
        )


async def test_a_balance_and_lifetime_earnings_past_32_bits_reach_the_client_exactly(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)
    await big_ledger(resources, tenant, customer_id)
    state = await ledger_state(resources, tenant, customer_id)
    assert state.consistent
    assert state.balance == BALANCE > 2**32

    result = await points_client.execute(
        CUSTOMER, {"id": gid("Customer", customer_id)}, tenant=tenant
    )

    assert "errors" not in result, result
    customer = result["data"]["customer"]
    assert decimal_string(customer["pointsBalance"]) == BALANCE
    assert customer["pointsBalance"] == "4500000000"
    assert decimal_string(customer["totalPointsEarned"]) == EARNED
    [expiring] = customer["expiringPoints"]
    assert decimal_string(expiring["points"]) == BALANCE


async def test_the_write_path_adds_to_a_balance_past_32_bits(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)
    await big_ledger(resources, tenant, customer_id)

    result = await points_client.execute(
        ADJUST,
        {
            "input": {
                "customerId": gid("Customer", customer_id),
                "points": LOT,
                "reason": "goodwill",
                "idempotencyKey": "wide:1",
            }
        },
        tenant=tenant,
    )

    payload = result["data"]["pointsAdjust"]
    assert payload["userErrors"] == []
    assert decimal_string(payload["customer"]["pointsBalance"]) == BALANCE + LOT
    state = await ledger_state(resources, tenant, customer_id)
    assert state.consistent
    assert state.balance == BALANCE + LOT
