"""DataLoaders of the referrals subgraph, built per request for one viewer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from strawberry import Info
from strawberry.dataloader import DataLoader

from db.models import ReferralLink
from db.session import tenant_unit_of_work
from subgraphs.kit.auth import Viewer
from subgraphs.kit.graphql.context import Context
from subgraphs.kit.resources import Resources
from subgraphs.referrals.repository import ReferralsRepository


@dataclass(frozen=True)
class ReferralsLoaders:
    referral_link_by_advocate: DataLoader[str, ReferralLink | None]
    referral_link_by_code: DataLoader[str, ReferralLink | None]


def build_referrals_loaders(resources: Resources, viewer: Viewer) -> ReferralsLoaders:
    merchant_id = viewer.merchant_id

    async def load_by_advocate(customer_ids: Sequence[str]) -> list[ReferralLink | None]:
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            links = await ReferralsRepository(session, merchant_id).links_by_advocates(customer_ids)
        by_advocate = {link.advocate_customer_id: link for link in links}
        return [by_advocate.get(customer_id) for customer_id in customer_ids]

    async def load_by_code(codes: Sequence[str]) -> list[ReferralLink | None]:
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            links = await ReferralsRepository(session, merchant_id).links_by_codes(codes)
        by_code = {link.code: link for link in links}
        return [by_code.get(code) for code in codes]

    return ReferralsLoaders(
        referral_link_by_advocate=DataLoader(load_fn=load_by_advocate),
        referral_link_by_code=DataLoader(load_fn=load_by_code),
    )


ReferralsInfo = Info[Context[ReferralsLoaders], None]
