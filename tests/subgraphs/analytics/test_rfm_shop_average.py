"""One customer rescored between full RFM passes (every order webhook) is scored against the
shop's average order value as the last full pass counted it, as every other customer was; the
next full pass moves everyone to the new average; a shop never fully scored is counted live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import update

from db.models import OrderFact
from db.session import tenant_unit_of_work
from subgraphs.analytics.rfm import service
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant, add_customer
from tests.subgraphs.analytics.rfm_shops import (
    MONETARY_MULTIPLES,
    at_least_score,
    fact,
    record,
    shop_of,
    stored_scores,
)

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


async def _monetary_of(resources: Resources, tenant: Tenant, customer_id: str) -> int:
    scores = await stored_scores(resources, tenant.merchant_id)
    return int(scores[customer_id][2])


async def _set_cancelled(
    resources: Resources, tenant: Tenant, shopify_order_id: str, at: datetime | None
) -> None:
    # A fact's cancellation is kept once known; the test turns it back directly.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await session.execute(
            update(OrderFact)
            .where(
                OrderFact.merchant_id == tenant.merchant_id,
                OrderFact.shopify_order_id == shopify_order_id,
            )
            .values(cancelled_at=at)
        )


async def _rescore(resources: Resources, tenant: Tenant, customer_id: str) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await service.recompute(session, tenant.merchant_id, now=NOW, customer_id=customer_id)


async def test_one_customer_is_scored_against_the_average_of_the_last_full_pass(
    resources: Resources, tenant: Tenant
) -> None:
    """Between nightly passes, a rescored customer's spend is compared with the shop's average
    order value the last full pass compared everyone's with (stored), not with one counted
    again over every order of the shop for each order; the next full pass moves everyone to
    the new average. A shop never fully scored yet is counted live."""
    await shop_of(resources, tenant, 12, NOW)  # 78 orders of $20
    spender = await add_customer(resources, tenant)
    big = await add_customer(resources, tenant)
    await record(resources, tenant, [fact(90_001, spender, NOW - timedelta(days=1), "30.00")])
    # Average $20.13: $30 is 1.49 of it (M3). With the $2,000 order below, $44.88: 0.67 (M2).
    before_big, after_big = Decimal(1590) / 79, Decimal(3590) / 80
    assert at_least_score(Decimal(30) / before_big, MONETARY_MULTIPLES) == 3
    assert at_least_score(Decimal(30) / after_big, MONETARY_MULTIPLES) == 2

    # Never fully scored: the live average, the big order included.
    await record(resources, tenant, [fact(90_002, big, NOW - timedelta(days=1), "2000.00")])
    await _rescore(resources, tenant, spender)
    assert await _monetary_of(resources, tenant, spender) == 2

    # A full pass while the big order is cancelled, then it stands again: a rescore keeps to
    # the pass's average.
    await _set_cancelled(resources, tenant, "90002", NOW)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await service.recompute(session, tenant.merchant_id, now=NOW)
    assert await _monetary_of(resources, tenant, spender) == 3
    await _set_cancelled(resources, tenant, "90002", None)
    await _rescore(resources, tenant, spender)
    assert await _monetary_of(resources, tenant, spender) == 3

    # The next full pass counts the big order: everyone, the spender too, at the new average.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await service.recompute(session, tenant.merchant_id, now=NOW)
    assert await _monetary_of(resources, tenant, spender) == 2
