"""DataLoaders of the referrals subgraph, built per request for one viewer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import Info
from strawberry.dataloader import DataLoader

from db.models import Referral, ReferralLink, ReferralReward
from subgraphs.kit.auth import Viewer
from subgraphs.kit.graphql.context import Context
from subgraphs.kit.graphql.loaders import (
    by_id_loader,
    in_key_order,
    per_owner_loader,
    repository_by_id_loader,
    tenant_loader,
)
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.resources import Resources
from subgraphs.referrals.conversions import reads as conversions
from subgraphs.referrals.repository import ReferralsRepository


@dataclass(frozen=True)
class ReferralsLoaders:
    referral_link_by_advocate: DataLoader[str, ReferralLink | None]
    referral_link_by_code: DataLoader[str, ReferralLink | None]
    rewards_by_referral: DataLoader[str, list[ReferralReward]]
    referrals_page_by_advocate: DataLoader[tuple[str, PageRequest], Page[Referral]]
    referral_link_by_id: DataLoader[str, ReferralLink | None]
    referral_by_id: DataLoader[str, Referral | None]


def build_referrals_loaders(resources: Resources, viewer: Viewer) -> ReferralsLoaders:
    merchant_id = viewer.merchant_id

    async def load_by_advocate(
        session: AsyncSession, customer_ids: Sequence[str]
    ) -> list[ReferralLink | None]:
        links = await ReferralsRepository(session, merchant_id).links_by_advocates(customer_ids)
        return in_key_order(links, customer_ids, key=lambda link: link.advocate_customer_id)

    async def load_by_code(
        session: AsyncSession, codes: Sequence[str]
    ) -> list[ReferralLink | None]:
        links = await ReferralsRepository(session, merchant_id).links_by_codes(codes)
        return in_key_order(links, codes, key=lambda link: link.code)

    async def load_rewards(
        session: AsyncSession, referral_ids: Sequence[str]
    ) -> list[list[ReferralReward]]:
        rewards = await conversions.rewards_of(session, merchant_id, referral_ids)
        grouped: dict[str, list[ReferralReward]] = {referral_id: [] for referral_id in referral_ids}
        for reward in rewards:
            grouped[reward.referral_id].append(reward)
        return [grouped[referral_id] for referral_id in referral_ids]

    return ReferralsLoaders(
        referral_link_by_advocate=tenant_loader(resources, merchant_id, load_by_advocate),
        referral_link_by_code=tenant_loader(resources, merchant_id, load_by_code),
        rewards_by_referral=tenant_loader(resources, merchant_id, load_rewards),
        referrals_page_by_advocate=per_owner_loader(
            resources,
            merchant_id,
            lambda session, ids, request: conversions.referral_pages(
                session, merchant_id, ids, request
            ),
        ),
        referral_link_by_id=repository_by_id_loader(resources, merchant_id, ReferralsRepository),
        referral_by_id=by_id_loader(
            resources,
            merchant_id,
            lambda session, ids: conversions.referrals_by_ids(session, merchant_id, ids),
        ),
    )


ReferralsInfo = Info[Context[ReferralsLoaders], None]
