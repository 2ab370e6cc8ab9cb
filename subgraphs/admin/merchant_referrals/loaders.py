"""DataLoaders of the merchant referrals domain, built per request for one viewer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from db.models import MerchantReferral
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.admin.merchant_referrals.repository import MerchantReferralsRepository
from subgraphs.kit.auth import Viewer
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.resources import Resources

# (every merchant's, status, only those the viewer's shop referred, page).
ReferralPageKey = tuple[bool, str | None, bool, PageRequest]


@dataclass(frozen=True)
class MerchantReferralLoaders:
    referrals_page: DataLoader[ReferralPageKey, Page[MerchantReferral]]


def build_merchant_referral_loaders(
    resources: Resources, viewer: Viewer
) -> MerchantReferralLoaders:
    async def load_pages(keys: Sequence[ReferralPageKey]) -> list[Page[MerchantReferral]]:
        pages: list[Page[MerchantReferral]] = []
        for every_merchant, status, advocate_only, page in keys:
            # Staff's list of every shop's referrals is no one tenant's: the resolver has
            # checked the role; the viewer's own list runs under row-level security.
            unit = (
                system_unit_of_work(resources.sessions)
                if every_merchant
                else tenant_unit_of_work(resources.sessions, viewer.merchant_id)
            )
            async with unit as session:
                repository = MerchantReferralsRepository(
                    session, None if every_merchant else viewer.merchant_id
                )
                pages.append(
                    await repository.referrals_page(
                        status=status, advocate_only=advocate_only, page=page
                    )
                )
        return pages

    return MerchantReferralLoaders(referrals_page=DataLoader(load_fn=load_pages))
