"""Write entry points of the referrals subgraph."""

from __future__ import annotations

import strawberry

from subgraphs.kit.permissions import Capability, require_customer_access
from subgraphs.referrals import service
from subgraphs.referrals.loaders import ReferralsInfo
from subgraphs.referrals.types import (
    ReferralErrorCode,
    ReferralLink,
    ReferralLinkCreateInput,
    ReferralLinkCreatePayload,
    ReferralUserError,
)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Give a customer a referral link; returns theirs if it exists."
    )
    async def referral_link_create(
        self, info: ReferralsInfo, input: ReferralLinkCreateInput
    ) -> ReferralLinkCreatePayload:
        context = info.context
        # Customers ask for their own link from the storefront; staff create one for anyone.
        require_customer_access(context.viewer, str(input.customer_id), Capability.WRITE_POINTS)
        try:
            async with context.unit_of_work() as session:
                result = await service.create_referral_link(
                    session, context.viewer.merchant_id, str(input.customer_id)
                )
        except service.ReferralError as error:
            user_error = ReferralUserError(
                field=["input", error.field],
                message=error.message,
                code=ReferralErrorCode(error.code.value),
            )
            return ReferralLinkCreatePayload(referral_link=None, user_errors=[user_error])
        return ReferralLinkCreatePayload(
            referral_link=ReferralLink.from_row(result.link, info), user_errors=[]
        )
