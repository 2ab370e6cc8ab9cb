"""An award reads the program's settings, campaigns and tiers from a per-merchant cache, checked
against the program version its lock statement reads (migration 0025's triggers bump it): two
statements per award, and every change of those inputs reaches the next award, whoever wrote
it, also after a transaction that changed them rolled back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from db.ids import new_id
from db.models import BonusCampaign, VipTier
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.ledger.service import EarnCommand, earn
from subgraphs.points.orders.service import EventResult, OrderTrigger, Outcome, award_order
from subgraphs.points.orders.shopify_payloads import ShopifyOrderPayload, parse
from subgraphs.points.program.calculation import EarnAction, Order, OrderLine
from subgraphs.points.program.service import Channel, update_program_config
from tests.conftest import StatementCounter, Tenant, add_customer


class RolledBack(Exception):
    pass


async def earn_order(session: AsyncSession, tenant: Tenant, customer_id: str) -> int:
    """Points a $50.00 online order earns the customer now, in ``session``'s transaction."""
    order_id = uuid.uuid4().hex
    order = Order(
        order_id=order_id,
        currency="USD",
        lines=(OrderLine(f"{order_id}-1", 1, Decimal("50.00")),),
        channel=Channel.ONLINE,
        placed_at=datetime.now(UTC),
    )
    command = EarnCommand(customer_id, EarnAction.PURCHASE, f"order:{order_id}:earn", order)
    entry = await earn(session, tenant.merchant_id, command, now=datetime.now(UTC))
    return entry.transaction.points


async def award(resources: Resources, tenant: Tenant, customer_id: str) -> int:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return await earn_order(session, tenant, customer_id)


def double_points(tenant: Tenant) -> BonusCampaign:
    now = datetime.now(UTC)
    return BonusCampaign(
        merchant_id=tenant.merchant_id,
        id=new_id(),
        name=f"double {uuid.uuid4().hex[:6]}",
        kind="double_points",
        multiplier=Decimal(2),
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=1),
    )


async def test_an_award_is_two_statements_once_its_inputs_are_cached(
    resources: Resources, tenant: Tenant, count_statements: StatementCounter
) -> None:
    customer_id = await add_customer(resources, tenant)
    await award(resources, tenant, customer_id)
    before = count_statements.count

    await award(resources, tenant, customer_id)

    # The lock (with the idempotency lookup and the program version) and the record.
    assert count_statements.count - before == 2


async def test_a_new_campaign_reaches_the_next_award(resources: Resources, tenant: Tenant) -> None:
    customer_id = await add_customer(resources, tenant)
    await award(resources, tenant, customer_id)  # the first order may earn a first-order bonus
    plain = await award(resources, tenant, customer_id)

    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        session.add(double_points(tenant))

    assert await award(resources, tenant, customer_id) == 2 * plain


def unreachable_tier(tenant: Tenant, rank: int) -> VipTier:
    return VipTier(
        merchant_id=tenant.merchant_id,
        id=new_id(),
        name={"en": f"Unreachable {rank}"},
        rank=rank,
        rules={"min_points_earned": 10**9},
    )


async def test_inputs_read_in_a_rolled_back_transaction_are_not_used_after_it(
    resources: Resources, tenant: Tenant
) -> None:
    # The merchant has a program version already: the rolled-back change bumps that one.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        session.add(unreachable_tier(tenant, 1))
    customer_id = await add_customer(resources, tenant)
    await award(resources, tenant, customer_id)
    plain = await award(resources, tenant, customer_id)

    async def campaign_and_award_rolled_back() -> None:
        """A campaign and an award that reads it (and caches the inputs with it)."""
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            session.add(double_points(tenant))
            await session.flush()
            assert await earn_order(session, tenant, customer_id) == 2 * plain
            raise RolledBack

    with pytest.raises(RolledBack):
        await campaign_and_award_rolled_back()
    # Another change commits: the version moves on, never back to the rolled-back one's.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        session.add(unreachable_tier(tenant, 2))

    assert await award(resources, tenant, customer_id) == plain


def _unpaid_order(order_id: int) -> ShopifyOrderPayload:
    return parse(
        ShopifyOrderPayload,
        {
            "id": order_id,
            "email": None,
            "currency": "USD",
            "created_at": datetime.now(UTC).isoformat(),
            "financial_status": "pending",
            "customer": {"id": 8_801, "email": "gate@example.com"},
            "line_items": [{"id": order_id * 10, "quantity": 1, "price": "20.00"}],
        },
    )


async def _award_created(
    session: AsyncSession, resources: Resources, tenant: Tenant, order_id: int
) -> EventResult:
    """orders/create of an unpaid order, in ``session``'s transaction."""
    return await award_order(
        session,
        tenant.merchant_id,
        resources.cipher,
        _unpaid_order(order_id),
        trigger=OrderTrigger.CREATED,
        now=datetime.now(UTC),
    )


async def test_an_orders_award_check_uses_the_version_the_last_lock_read_until_settings_change(
    resources: Resources, tenant: Tenant, count_statements: StatementCounter
) -> None:
    """Whether an order is awarded on its topic is asked before the customer is locked: in a
    transaction that has locked a customer (a worker batch), from the version that lock read,
    without a statement; after the settings change in the same transaction, afresh."""
    customer_id = await add_customer(resources, tenant)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await earn_order(session, tenant, customer_id)  # its lock reads the version
        count_statements.statements.clear()
        unpaid = await _award_created(session, resources, tenant, 88_001)
        assert unpaid.outcome is Outcome.NOT_APPLICABLE  # awarded when paid, by default
        assert not [s for s in count_statements.statements if "program_versions" in s]

        await update_program_config(
            WriteContext(session, tenant.merchant_id), {"award_on": "order_created"}
        )
        created = await _award_created(session, resources, tenant, 88_002)
    assert created.outcome is Outcome.APPLIED, created.detail
