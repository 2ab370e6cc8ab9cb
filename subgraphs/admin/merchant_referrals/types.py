"""GraphQL types of the merchant referrals domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from db.models import MerchantReferral as MerchantReferralRow
from subgraphs.admin.loaders import AdminInfo
from subgraphs.admin.merchant_referrals import service
from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.fields import from_attributes
from subgraphs.kit.graphql.relay import Connection, paged, to_connection
from subgraphs.kit.pagination import Page, PageRequest, time_ordered_page, time_ordered_position

MerchantReferralStatus = domain_enum(
    service.MerchantReferralStatus,
    name="MerchantReferralStatus",
    description="Where a merchant referral stands.",
    values={
        "PENDING": "Recorded, not completed yet.",
        "COMPLETED": "The referred shop installed LoyalNest; both shops are credited.",
        "EXPIRED": "Never completed; nobody is credited.",
    },
)

StatusArgument = Annotated[
    MerchantReferralStatus | None,  # type: ignore[valid-type]
    strawberry.argument(description="Only merchant referrals in this status."),
]


@strawberry.type(
    description="One shop referred to LoyalNest by another, with each side's reward: months "
    "of LoyalNest credit, an entitlement recorded here."
)
class MerchantReferral:
    advocate_shop_domain: str = strawberry.field(description="The shop whose code was used.")
    referred_shop_domain: str = strawberry.field(
        description="The shop that installed LoyalNest with the code."
    )
    status: MerchantReferralStatus = strawberry.field(description="Where it stands.")  # type: ignore[valid-type]
    advocate_reward_months: int = strawberry.field(
        description="Months of credit for the advocate shop (at most 12)."
    )
    referred_reward_months: int = strawberry.field(
        description="Months of credit for the referred shop (at most 12)."
    )
    created_at: datetime = strawberry.field(description="When the referral was recorded.")
    completed_at: datetime | None = strawberry.field(
        description="When the referred shop's first install completed it."
    )

    @classmethod
    def from_row(cls, row: MerchantReferralRow) -> MerchantReferral:
        return from_attributes(cls, row, status=MerchantReferralStatus(row.status))


def referral_connection(page: Page[MerchantReferralRow]) -> Connection[MerchantReferral]:
    return to_connection(page, position=time_ordered_position, node=MerchantReferral.from_row)


@strawberry.type(
    description="The viewer's shop in the merchant referral program: its code and link to "
    "share, and the shops it referred."
)
class MerchantReferralProgram:
    merchant_id: strawberry.Private[str]
    code: str = strawberry.field(
        description="The shop's merchant referral code; a shop installing LoyalNest for the "
        "first time with it completes a merchant referral."
    )
    url: str = strawberry.field(
        description="The install entry carrying the code (`ref`). Shopify must sign the "
        "install request it sends the merchant here with (the code may stay outside the "
        "signature); the shop's first install then completes the referral."
    )

    @strawberry.field(description="The shops that installed with this shop's code, newest first.")
    @paged(time_ordered_page)
    async def referred_shops(
        self, info: AdminInfo, status: StatusArgument = None, *, paging: PageRequest
    ) -> Connection[MerchantReferral]:
        page = await info.context.loaders.merchant_referrals.referrals_page.load(
            (False, None if status is None else status.value, True, paging)
        )
        return referral_connection(page)
