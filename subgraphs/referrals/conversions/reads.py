"""What the API reads of referrals: pages of them (the shop's, one advocate's), their rewards,
by id, how many wait for review, and an advocate's progress to the next tier."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Referral, ReferralReward, ReferralStatus
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.referrals.conversions.repository import (
    ConversionRepository,
    ReferralRewardRepository,
)
from subgraphs.referrals.program.service import referral_program


async def referrals_page(
    session: AsyncSession,
    merchant_id: str,
    request: PageRequest,
    *,
    status: ReferralStatus | None = None,
) -> Page[Referral]:
    return await ConversionRepository(session, merchant_id).referrals_page(request, status=status)


async def rewards_of(
    session: AsyncSession, merchant_id: str, referral_ids: Sequence[str]
) -> list[ReferralReward]:
    return await ReferralRewardRepository(session, merchant_id).of_referrals(referral_ids)


async def referrals_by_ids(
    session: AsyncSession, merchant_id: str, referral_ids: Sequence[str]
) -> list[Referral]:
    return await ConversionRepository(session, merchant_id).get_by_ids(referral_ids)


async def held_referrals(
    session: AsyncSession, merchant_id: str, *, since: datetime | None = None
) -> int:
    """How many referrals wait for review (held since ``since``, when given)."""
    return await ReferralRewardRepository(session, merchant_id).held_referrals_since(since)


async def referral_pages(
    session: AsyncSession, merchant_id: str, advocate_ids: list[str], request: PageRequest
) -> dict[str, Page[Referral]]:
    return await ConversionRepository(session, merchant_id).referral_pages(advocate_ids, request)


@dataclass(frozen=True, slots=True)
class Progress:
    """Where an advocate stands: completed referrals, and the next tier's threshold."""

    completed: int
    next_tier_from: int | None
    next_tier_points: int | None


async def progress(session: AsyncSession, merchant_id: str, advocate_id: str) -> Progress:
    program, _ = await referral_program(session, merchant_id)
    completed = await ConversionRepository(session, merchant_id).completed_count(advocate_id)
    ahead = sorted(
        (tier for tier in program.tiers if tier.from_count > completed),
        key=lambda tier: tier.from_count,
    )
    if not ahead:
        return Progress(completed, None, None)
    return Progress(completed, ahead[0].from_count, ahead[0].points)
