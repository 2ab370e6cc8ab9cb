"""A redemption's money at its edges (issue 16): spending on a reward counts as the customer's
activity, and the request and the sweeper settling one pending redemption at once never both
win (the customer would keep the discount and get the points back). Service level, real
Postgres, the race made deterministic by holding one settlement's transaction open."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from db.ids import new_id
from db.models import RewardRedemption
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.points.rewards.discounts import IssuedDiscount
from subgraphs.points.rewards.redemption import (
    RedeemCommand,
    begin_redemption,
    mark_issued,
    refund_redemption,
)
from tests.conftest import Tenant, add_customer
from tests.subgraphs.points.ledger_helpers import customer_row, ledger_state
from tests.subgraphs.points.test_credit_back_and_expiry import waiting_for_locks
from tests.subgraphs.points.test_redemption import new_reward

# Later than any row the fixtures write (they use the clock).
NOW = datetime(2036, 1, 1, 12, tzinfo=UTC)


async def pending(resources: Resources, tenant: Tenant, customer_id: str) -> RewardRedemption:
    """Step 1 of a redemption of a 100-point reward: points spent, the discount not yet made."""
    reward_id = await new_reward(resources, tenant)
    command = RedeemCommand(customer_id=customer_id, reward_id=reward_id, idempotency_key=new_id())
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        started = await begin_redemption(
            session, tenant.merchant_id, command, resources.cipher, now=NOW
        )
    return started.redemption


async def test_spending_points_on_a_reward_counts_as_activity(
    resources: Resources, tenant: Tenant
) -> None:
    """Inactivity expiry reads the last activity: a customer who just redeemed is active.
    Kills the debit's `now` dropped (`ledger.redeem(..., now=None)`)."""
    customer_id = await add_customer(resources, tenant, points=300)

    await pending(resources, tenant, customer_id)

    after = await customer_row(resources, tenant, customer_id)
    assert (after.points_balance, after.last_activity_at) == (200, NOW)


async def test_a_refund_and_an_issue_racing_for_one_redemption_settle_it_once(
    resources: Resources, tenant: Tenant
) -> None:
    """The sweeper refunds a pending redemption while the request that made it reports the
    discount created. The first to lock it wins; the other finds it settled and leaves it.
    Kills the redemption read without its row lock (`for_update` dropped): both would see it
    pending, and the issue would then write over the refund (the table's check constraint
    stops that row, so the request would fail instead of answering)."""
    customer_id = await add_customer(resources, tenant, points=300)
    redemption = await pending(resources, tenant, customer_id)

    async def issue() -> RewardRedemption:
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            return await mark_issued(
                session, tenant.merchant_id, redemption.id, IssuedDiscount("gid://shopify/1")
            )

    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as sweeper:
        refunded, entry = await refund_redemption(
            sweeper, tenant.merchant_id, redemption.id, failure="lost", now=NOW
        )
        issuing = asyncio.ensure_future(issue())
        await waiting_for_locks(resources, 1)
    issued = await issuing

    assert entry is not None
    assert refunded.status == issued.status == "refunded"
    assert issued.shopify_discount_id is None
    state = await ledger_state(resources, tenant, customer_id)
    assert (state.balance, state.consistent) == (300, True)
