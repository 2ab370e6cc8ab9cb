"""The demo catalog is created under deterministic idempotency keys, so seeding again (even past
the "already has tiers" guard, e.g. after a seed that failed half-way) creates nothing twice."""

from __future__ import annotations

from sqlalchemy import func, select

from cli import seed
from db.models import Reward, VipTier
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.rewards import service as rewards
from subgraphs.points.tiers import service as tiers
from subgraphs.points.tiers.rules import TierRules
from tests.conftest import Tenant


async def _counts(resources: Resources, tenant: Tenant) -> tuple[int, int]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        tier_count = await session.scalar(
            select(func.count()).where(VipTier.merchant_id == tenant.merchant_id)
        )
        reward_count = await session.scalar(
            select(func.count()).where(Reward.merchant_id == tenant.merchant_id)
        )
    return int(tier_count or 0), int(reward_count or 0)


async def test_seeding_the_catalog_again_creates_nothing(
    resources: Resources, tenant: Tenant
) -> None:
    for _ in range(2):
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            await seed._seed_catalog(session, tenant.merchant_id)
    # Past the guard: the same creates under the same keys replay.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        name, rank, min_points = seed.DEMO_TIERS[0]
        await tiers.create_tier(
            WriteContext(session, tenant.merchant_id),
            tiers.TierDraft(
                names=[("en", name)], rank=rank, rules=TierRules(min_points_earned=min_points)
            ),
            idempotency_key=seed.tier_key(rank),
        )
        terms = seed.DEMO_REWARDS[0]
        await rewards.create_reward(
            WriteContext(session, tenant.merchant_id), terms, idempotency_key=seed.reward_key(terms)
        )

    assert await _counts(resources, tenant) == (len(seed.DEMO_TIERS), len(seed.DEMO_REWARDS))
