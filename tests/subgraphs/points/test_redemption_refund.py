"""Spending points on a reward, and the points returned when its discount could not be created
(issue 16, mutation survivors of rewards/redemption.py): the customer gets back exactly what
they spent, as a credit that expires under the program's policy and says why in its trace;
live dashboards hear of the debit, the code and the return; settling again returns nothing
twice. Service level, real Postgres."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from purgatory import AsyncCircuitBreakerFactory
from sqlalchemy import select

from db.ids import new_id
from db.models import PointsTransaction, PointsTransactionKind, RewardKind
from db.session import tenant_unit_of_work
from subgraphs.kit.pubsub import ledger_channel
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.program.service import update_program_config
from subgraphs.points.rewards.redemption import (
    RedeemCommand,
    begin_redemption,
    not_created_error,
    redeem_reward,
    settle_refunded,
)
from subgraphs.points.rewards.service import RewardTerms, create_reward, delete_reward
from subgraphs.points.shopify import ShopifyConnector
from tests.conftest import Tenant, add_customer
from tests.subgraphs.points.ledger_helpers import ledger_state


async def test_a_reward_not_issued_gives_back_its_points_once_with_the_reason(
    resources: Resources, tenant: Tenant
) -> None:
    """Kills, in `refund_redemption`: the credit's `now` dropped (its expiry date cannot be
    computed), the redemption id or the trace step's rule or detail dropped from the credit's
    explanation; in `settle_refunded`: the event not published, or without the transaction."""
    now = datetime.now(UTC).replace(microsecond=0)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await update_program_config(
            WriteContext(session, tenant.merchant_id),
            {"expiry": {"kind": "after_earning", "days": 30}},
        )
        reward = await create_reward(
            WriteContext(session, tenant.merchant_id),
            RewardTerms(
                kind=RewardKind.FIXED_AMOUNT, title="$5 off", points_cost=150, value=Decimal(5)
            ),
            idempotency_key=f"reward:{new_id()}",
        )
    customer_id = await add_customer(resources, tenant, points=400)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        started = await begin_redemption(
            session,
            tenant.merchant_id,
            RedeemCommand(customer_id, reward.id, f"redeem:{new_id()}"),
            resources.cipher,
            now=now,
        )
    assert (await ledger_state(resources, tenant, customer_id)).balance == 250

    async with resources.pubsub.subscribe(ledger_channel(tenant.merchant_id)) as events:
        settled = await settle_refunded(
            resources, tenant.merchant_id, started.redemption.id, "Shopify answered 503", now=now
        )
        event = await asyncio.wait_for(anext(events), timeout=5)
    again = await settle_refunded(
        resources, tenant.merchant_id, started.redemption.id, "Shopify answered 503", now=now
    )

    assert settled.status == again.status == "refunded"
    assert event == {"customer_id": customer_id, "transaction_id": settled.refund_transaction_id}
    state = await ledger_state(resources, tenant, customer_id)
    assert (state.balance, state.consistent) == (400, True)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        [credit] = await session.scalars(
            select(PointsTransaction).where(
                PointsTransaction.merchant_id == tenant.merchant_id,
                PointsTransaction.customer_id == customer_id,
                PointsTransaction.kind == PointsTransactionKind.REFUND,
            )
        )
    assert (credit.id, credit.points, credit.source) == (
        settled.refund_transaction_id,
        150,
        "reward",
    )
    assert credit.expires_at == now + timedelta(days=30)
    assert credit.reason == "reward not issued: points returned"
    assert credit.explanation["reward_id"] == reward.id
    assert credit.explanation["redemption_id"] == started.redemption.id
    assert credit.explanation["trace"] == [
        {
            "rule": "redemption_refund",
            "applied": True,
            "detail": "discount not created: Shopify answered 503",
            "points": 150,
            "multiplier": None,
        }
    ]


def test_the_customer_is_told_their_points_came_back() -> None:
    error = not_created_error()

    assert (error.code, error.field, error.message) == (
        PointsErrorCode.DISCOUNT_NOT_CREATED,
        "rewardId",
        "the discount code could not be created; the points were returned",
    )


async def test_a_redemption_tells_live_dashboards_twice_and_a_replay_says_so(
    resources: Resources, tenant: Tenant
) -> None:
    """A sandbox redemption (no Shopify store connected): dashboards hear of the debit, then
    of the issued code; the same key again is a replay that spends nothing. Kills the events'
    customer, transaction or redemption dropped, `replayed=True` dropped, and the debit's
    redemption id or trace step changed."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        reward = await create_reward(
            WriteContext(session, tenant.merchant_id),
            RewardTerms(
                kind=RewardKind.FIXED_AMOUNT, title="$5 off", points_cost=120, value=Decimal(5)
            ),
            idempotency_key=f"reward:{new_id()}",
        )
    customer_id = await add_customer(resources, tenant, points=300)
    connector = ShopifyConnector(
        breakers=AsyncCircuitBreakerFactory(default_threshold=5, default_ttl=30),
        redis=resources.redis,
    )
    command = RedeemCommand(customer_id, reward.id, f"redeem:{new_id()}")

    async with resources.pubsub.subscribe(ledger_channel(tenant.merchant_id)) as events:
        outcome = await redeem_reward(resources, connector, tenant.merchant_id, command)
        debited = await asyncio.wait_for(anext(events), timeout=5)
        issued = await asyncio.wait_for(anext(events), timeout=5)
    replay = await redeem_reward(resources, connector, tenant.merchant_id, command)

    redemption = outcome.redemption
    assert (redemption.status, outcome.replayed, outcome.error) == ("issued", False, None)
    assert debited == {
        "customer_id": customer_id,
        "transaction_id": redemption.debit_transaction_id,
    }
    assert issued == {"customer_id": customer_id, "redemption_id": redemption.id}
    assert (replay.replayed, replay.redemption.id, replay.error) == (True, redemption.id, None)
    assert (await ledger_state(resources, tenant, customer_id)).balance == 300 - 120
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        debit = await session.get(
            PointsTransaction, (tenant.merchant_id, redemption.debit_transaction_id)
        )
    assert debit is not None
    assert (debit.points, debit.reason, debit.source) == (-120, "reward: $5 off", "reward")
    assert debit.explanation["reward_id"] == reward.id
    assert debit.explanation["redemption_id"] == redemption.id
    assert debit.explanation["trace"] == [
        {
            "rule": "reward",
            "applied": True,
            "detail": "redeemed '$5 off' for 120 points",
            "points": -120,
            "multiplier": None,
        }
    ]


async def test_a_replay_after_the_reward_was_deleted_returns_the_redemption(
    resources: Resources, tenant: Tenant
) -> None:
    """The merchant deleted the reward after a customer redeemed it; the customer's retry is a
    replay of that redemption, not "reward not found", and a new redemption of it is refused
    with that text. Kills `include_deleted=True` dropped and the refusal's text changed."""
    now = datetime.now(UTC)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        reward = await create_reward(
            WriteContext(session, tenant.merchant_id),
            RewardTerms(
                kind=RewardKind.FIXED_AMOUNT, title="$5 off", points_cost=100, value=Decimal(5)
            ),
            idempotency_key=f"reward:{new_id()}",
        )
    customer_id = await add_customer(resources, tenant, points=300)
    command = RedeemCommand(customer_id, reward.id, f"redeem:{new_id()}")
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        first = await begin_redemption(
            session, tenant.merchant_id, command, resources.cipher, now=now
        )
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await delete_reward(WriteContext(session, tenant.merchant_id, now=now), reward.id)

    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        replay = await begin_redemption(
            session, tenant.merchant_id, command, resources.cipher, now=now
        )
    with pytest.raises(PointsError) as refused:
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            await begin_redemption(
                session,
                tenant.merchant_id,
                RedeemCommand(customer_id, reward.id, f"redeem:{new_id()}"),
                resources.cipher,
                now=now,
            )

    assert (replay.redemption.id, replay.to_issue) == (first.redemption.id, None)
    assert (refused.value.code, refused.value.field, refused.value.message) == (
        PointsErrorCode.REWARD_NOT_FOUND,
        "rewardId",
        "reward not found",
    )
    assert (await ledger_state(resources, tenant, customer_id)).balance == 200


async def test_two_rewards_not_issued_to_one_customer_each_give_back_their_points(
    resources: Resources, tenant: Tenant
) -> None:
    """Each refund is keyed by its own redemption: two failed redemptions of one customer are
    two credits, not one credit replayed. Kills `refund_redemption`'s key built from None
    (`x_refund_redemption__mutmut_29`): the second refund replayed the first and the
    customer lost 150 points."""
    now = datetime.now(UTC).replace(microsecond=0)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        reward = await create_reward(
            WriteContext(session, tenant.merchant_id),
            RewardTerms(
                kind=RewardKind.FIXED_AMOUNT, title="$5 off", points_cost=150, value=Decimal(5)
            ),
            idempotency_key=f"reward:{new_id()}",
        )
    customer_id = await add_customer(resources, tenant, points=400)
    started = []
    for _ in range(2):
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            started.append(
                await begin_redemption(
                    session,
                    tenant.merchant_id,
                    RedeemCommand(customer_id, reward.id, f"redeem:{new_id()}"),
                    resources.cipher,
                    now=now,
                )
            )
    assert (await ledger_state(resources, tenant, customer_id)).balance == 100

    refunds = [
        await settle_refunded(
            resources, tenant.merchant_id, begun.redemption.id, "Shopify answered 503", now=now
        )
        for begun in started
    ]

    assert len({refund.refund_transaction_id for refund in refunds}) == 2
    state = await ledger_state(resources, tenant, customer_id)
    assert (state.balance, state.consistent) == (400, True)
