"""Read entry points of the merchant referrals domain."""

from __future__ import annotations

import strawberry

from subgraphs.admin.loaders import AdminInfo
from subgraphs.admin.merchant_referrals import service
from subgraphs.admin.merchant_referrals.types import (
    MerchantReferral,
    MerchantReferralProgram,
    StatusArgument,
    referral_connection,
)
from subgraphs.kit.auth import ViewerKind
from subgraphs.kit.graphql.relay import Connection, paged
from subgraphs.kit.pagination import PageRequest, time_ordered_page
from subgraphs.kit.permissions import Capability, capabilities_of, require


@strawberry.type
class Query:
    @strawberry.field(
        description="The viewer's shop's merchant referral code and link, and the shops it "
        "referred. Needs the read_program capability."
    )
    def merchant_referral(self, info: AdminInfo) -> MerchantReferralProgram:
        viewer = require(info.context.viewer, Capability.READ_PROGRAM)
        return MerchantReferralProgram(
            merchant_id=viewer.merchant_id,
            code=service.referral_code_of(viewer.merchant_id),
            url=service.install_url(info.context.resources.settings.app_url, viewer.merchant_id),
        )

    @strawberry.field(
        description="Merchant referrals, newest first: for LoyalNest staff with the admin:full "
        "role, every shop's; for anyone else with read_program, those the viewer's shop is "
        "party to (as advocate or as the referred shop)."
    )
    @paged(time_ordered_page)
    async def merchant_referrals(
        self, info: AdminInfo, status: StatusArgument = None, *, paging: PageRequest
    ) -> Connection[MerchantReferral]:
        viewer = require(info.context.viewer, Capability.READ_PROGRAM)
        every_merchant = (
            viewer.kind is ViewerKind.STAFF
            and Capability.MANAGE_MERCHANT in capabilities_of(viewer)
        )
        page = await info.context.loaders.merchant_referrals.referrals_page.load(
            (every_merchant, None if status is None else status.value, False, paging)
        )
        return referral_connection(page)
