"""Write entry points of the referrals subgraph."""

from __future__ import annotations

from typing import Annotated

import strawberry

from subgraphs.kit.graphql.mutations import run_mutation
from subgraphs.kit.graphql.node import local_id
from subgraphs.kit.permissions import Capability
from subgraphs.referrals import service
from subgraphs.referrals.loaders import ReferralsInfo
from subgraphs.referrals.types import (
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
        self,
        info: ReferralsInfo,
        input: Annotated[
            ReferralLinkCreateInput, strawberry.argument(description="The advocate to give a link.")
        ],
    ) -> ReferralLinkCreatePayload:
        customer_id = local_id(input.customer_id, "Customer")
        # Customers ask for their own link from the storefront; staff create one for anyone.
        return await run_mutation(
            info,
            capability=Capability.WRITE_POINTS,
            for_customer=customer_id,
            perform=lambda scope: service.create_referral_link(
                scope.session, scope.merchant_id, customer_id
            ),
            respond=lambda result: ReferralLinkCreatePayload(
                referral_link=ReferralLink.from_row(result.link, info), user_errors=[]
            ),
            payload=ReferralLinkCreatePayload,
            user_error=ReferralUserError,
        )
