"""``loyalnest seed --customers N --orders M``: the generated shop is the same for the same
seed, holds what was asked for, and keeps every ledger invariant the product relies on —
each balance is its ledger's sum and its open lots' sum, lifetime points, spend and order
counts match the ledger, tiers are assigned by the tier rules — and reads through the API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select, text

from cli.generated_shop import GeneratedShop, ShopNotEmpty, ShopShape, generate_shop
from cli.seed import DEMO_TIERS
from db.encryption_contexts import CUSTOMERS_EMAIL
from db.models import Customer, VipTier
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.settings import Settings
from tests.conftest import SubgraphClient, Tenant

SHAPE = ShopShape(customers=300, orders=1500, seed=7, as_of=datetime(2026, 11, 1, tzinfo=UTC))

# Per customer: what their ledger says next to what the customer row says.
LEDGER_VS_CUSTOMER = text(
    """
    SELECT c.id, c.points_balance, c.total_points_earned, c.orders_count,
           coalesce(sum(t.points), 0) AS ledger_sum,
           coalesce(sum(t.remaining_points), 0) AS open_lots,
           coalesce(sum(t.points) FILTER (WHERE t.kind = 'earn'), 0) AS earned,
           count(t.order_id) FILTER (WHERE t.kind = 'earn') AS orders
    FROM customers c LEFT JOIN points_transactions t
      ON t.merchant_id = c.merchant_id AND t.customer_id = c.id
    WHERE c.merchant_id = :merchant_id
    GROUP BY c.id, c.points_balance, c.total_points_earned, c.orders_count
    """
)


async def generated(settings: Settings, shape: ShopShape = SHAPE) -> GeneratedShop:
    return await generate_shop(settings, f"gen-{uuid.uuid4().hex[:10]}.myshopify.com", shape)


async def customers_of(resources: Resources, merchant_id: str) -> list[tuple[Any, ...]]:
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        rows = (await session.scalars(select(Customer).order_by(Customer.id))).all()
        return [
            (
                row.id,
                resources.cipher.decrypt(row.email_encrypted, context=CUSTOMERS_EMAIL),
                row.points_balance,
                row.total_spent,
                row.created_at,
            )
            for row in rows
        ]


async def test_the_shop_holds_what_was_asked_and_keeps_the_ledger_invariants(
    settings: Settings, resources: Resources
) -> None:
    shop = await generated(settings)

    assert (shop.customers, shop.orders) == (SHAPE.customers, SHAPE.orders)
    assert shop.redemptions > 0
    assert shop.referral_links > 0
    assert shop.transactions == SHAPE.customers + SHAPE.orders + shop.redemptions
    async with tenant_unit_of_work(resources.sessions, shop.merchant_id) as session:
        rows = (await session.execute(LEDGER_VS_CUSTOMER, {"merchant_id": shop.merchant_id})).all()
        tiers = (
            await session.execute(
                select(Customer.total_points_earned, VipTier.rank).join(
                    VipTier,
                    (VipTier.merchant_id == Customer.merchant_id)
                    & (VipTier.id == Customer.vip_tier_id),
                )
            )
        ).all()
        spent = await session.scalar(select(func.sum(Customer.total_spent)))
    assert len(rows) == SHAPE.customers
    for row in rows:
        assert row.points_balance == row.ledger_sum == row.open_lots >= 0, row
        assert row.total_points_earned == row.earned, row
        assert row.orders_count == row.orders, row
    assert sum(row.orders for row in rows) == SHAPE.orders
    # Skewed like a real shop: some never order, a few order a lot.
    assert any(row.orders == 0 for row in rows)
    assert max(row.orders for row in rows) >= 5 * SHAPE.orders / SHAPE.customers
    # Every customer is in the highest demo tier their lifetime points reach.
    assert len(tiers) == SHAPE.customers
    for earned, rank in tiers:
        assert rank == max(r for _, r, minimum in DEMO_TIERS if earned >= minimum)
    assert len({rank for _, rank in tiers}) == len(DEMO_TIERS)
    assert spent is not None
    assert 30 < spent / SHAPE.orders < 90  # order values around $55


async def test_the_same_seed_makes_the_same_shop(settings: Settings, resources: Resources) -> None:
    shape = ShopShape(customers=40, orders=120, seed=3, as_of=SHAPE.as_of)
    first = await generated(settings, shape)
    again = await generated(settings, shape)
    other = await generated(
        settings, ShopShape(customers=40, orders=120, seed=4, as_of=SHAPE.as_of)
    )

    assert await customers_of(resources, first.merchant_id) == await customers_of(
        resources, again.merchant_id
    )
    assert await customers_of(resources, first.merchant_id) != await customers_of(
        resources, other.merchant_id
    )


async def test_a_shop_with_customers_is_left_alone(settings: Settings, tenant: Tenant) -> None:
    shape = ShopShape(customers=5, orders=5)
    await generate_shop(settings, tenant.shop_domain, shape)

    with pytest.raises(ShopNotEmpty):
        await generate_shop(settings, tenant.shop_domain, shape)


async def test_the_generated_shop_reads_through_the_api(
    settings: Settings, points_client: SubgraphClient, tenant: Tenant
) -> None:
    await generate_shop(settings, tenant.shop_domain, ShopShape(customers=60, orders=400, seed=5))

    body = await points_client.execute(
        """{ customers(first: 3, sortKey: POINTS_BALANCE, reverse: true) { nodes {
               pointsBalance ordersCount pointsTransactions(first: 100) { nodes { points } }
        } } }""",
        tenant=tenant,
    )

    assert "errors" not in body, body
    top = body["data"]["customers"]["nodes"]
    balances = [int(node["pointsBalance"]) for node in top]
    assert balances == sorted(balances, reverse=True)
    assert balances[0] > 0
    for node in top:
        history = node["pointsTransactions"]["nodes"]
        assert sum(int(entry["points"]) for entry in history) == int(node["pointsBalance"])
