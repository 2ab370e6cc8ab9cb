"""Demo data: one merchant and a few customers with some history. Safe to run again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import RewardKind
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.admin.merchants.service import install_merchant
from subgraphs.kit.events import ledger_changed
from subgraphs.kit.resources import open_resources
from subgraphs.kit.settings import Settings
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.customers.service import register_customer
from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.ledger import service as ledger
from subgraphs.points.program.calculation import EarnAction
from subgraphs.points.rewards import service as rewards
from subgraphs.points.rewards.service import RewardTerms
from subgraphs.points.tiers import service as tiers
from subgraphs.points.tiers.rules import TierRules
from subgraphs.referrals.service import create_referral_link

DEMO_CUSTOMERS = (
    ("ada@example.com", 1200),
    ("grace@example.com", 450),
    ("linus@example.com", 80),
    ("margaret@example.com", 2600),
    ("alan@example.com", 0),
)


DEMO_TIERS = (("Bronze", 1, 0), ("Silver", 2, 1000), ("Gold", 3, 2500))
DEMO_REWARDS = (
    RewardTerms(kind=RewardKind.FIXED_AMOUNT, title="$5 off", points_cost=500, value=Decimal(5)),
    RewardTerms(kind=RewardKind.FREE_SHIPPING, title="Free shipping", points_cost=1000),
    RewardTerms(kind=RewardKind.PERCENTAGE, title="15% off", points_cost=1500, value=Decimal(15)),
)


def tier_key(rank: int) -> str:
    """The demo tier's idempotency key: seeding again creates it once (ranks are unique)."""
    return f"seed:tier:{rank}"


def reward_key(terms: RewardTerms) -> str:
    return f"seed:reward:{terms.title}"


async def _seed_catalog(session: AsyncSession, merchant_id: str) -> None:
    """Tiers and rewards, once: a demo shop that has tiers already has its catalog."""
    if await tiers.list_tiers(session, merchant_id):
        return
    for name, rank, min_points in DEMO_TIERS:
        await tiers.create_tier(
            WriteContext(session, merchant_id),
            tiers.TierDraft(
                names=[("en", name)], rank=rank, rules=TierRules(min_points_earned=min_points)
            ),
            idempotency_key=tier_key(rank),
        )
    for terms in DEMO_REWARDS:
        await rewards.create_reward(
            WriteContext(session, merchant_id), terms, idempotency_key=reward_key(terms)
        )


@dataclass(frozen=True)
class SeedResult:
    merchant_id: str
    customer_ids: list[str]


async def seed_demo(settings: Settings, shop_domain: str) -> SeedResult:
    async with open_resources(settings) as resources:
        async with system_unit_of_work(resources.sessions) as session:
            merchant = await install_merchant(session, shop_domain)
        async with tenant_unit_of_work(resources.sessions, merchant.id) as session:
            await _seed_catalog(session, merchant.id)
        customer_ids: list[str] = []
        for email, welcome_points in DEMO_CUSTOMERS:
            async with tenant_unit_of_work(resources.sessions, merchant.id) as session:
                try:
                    customer_id = await register_customer(
                        session, merchant.id, resources.cipher, email=email
                    )
                except PointsError as error:
                    if error.code is not PointsErrorCode.EMAIL_TAKEN:
                        raise
                    continue
                now = datetime.now(UTC)
                await ledger.earn(
                    session,
                    merchant.id,
                    ledger.EarnCommand(customer_id, EarnAction.SIGNUP, f"seed:signup:{email}"),
                    now=now,
                )
                if welcome_points:
                    await ledger.adjust(
                        session,
                        merchant.id,
                        ledger.AdjustCommand(
                            customer_id=customer_id,
                            points=welcome_points,
                            reason="Balance imported from the previous loyalty app",
                            idempotency_key=f"seed:welcome:{email}",
                        ),
                        now=now,
                    )
                if welcome_points >= 1000:
                    # The most engaged customers already share a referral link.
                    await create_referral_link(session, merchant.id, customer_id)
            customer_ids.append(customer_id)
        if customer_ids:
            await ledger_changed(resources, merchant.id, reason="seed")
        return SeedResult(merchant_id=merchant.id, customer_ids=customer_ids)
