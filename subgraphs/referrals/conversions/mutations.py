"""Referral decisions: staff reviewing a held referral, a shopper claiming a code."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from db.models import ReferralReward
from subgraphs.kit.graphql.mutations import MutationScope
from subgraphs.kit.graphql.node import local_id
from subgraphs.kit.permissions import Capability
from subgraphs.referrals.activity.service import ActivityKind, announce
from subgraphs.referrals.conversions import service
from subgraphs.referrals.conversions.fraud import PartyFacts
from subgraphs.referrals.conversions.service import AttributionSource, Decision
from subgraphs.referrals.conversions.types import (
    Referral,
    ReferralClaimInput,
    ReferralClaimPayload,
    ReferralReviewInput,
    ReferralReviewPayload,
    ReferralRewardGrant,
)
from subgraphs.referrals.loaders import ReferralsInfo
from subgraphs.referrals.service import ReferralError, ReferralErrorCode
from subgraphs.referrals.user_errors import referral_mutation


@strawberry.mutation(
    description="Decide on a referral held for review: approving releases its rewards, "
    "rejecting cancels them. Audited."
)
async def referral_review(
    info: ReferralsInfo,
    input: Annotated[ReferralReviewInput, strawberry.argument(description="The decision.")],
) -> ReferralReviewPayload:
    referral_id = local_id(input.id, "Referral")
    decision = Decision(input.decision)

    async def respond(moved: list[ReferralReward]) -> ReferralReviewPayload:
        kind = (
            ActivityKind.REFERRAL_APPROVED
            if decision is Decision.APPROVE
            else ActivityKind.REFERRAL_REJECTED
        )
        await announce(
            info.context.resources.pubsub, info.context.viewer.merchant_id, kind, referral_id
        )
        return ReferralReviewPayload(rewards=[ReferralRewardGrant.from_row(row) for row in moved])

    return await referral_mutation(
        info,
        ReferralReviewPayload,
        lambda scope: service.review(scope.write, referral_id, decision),
        respond,
    )


@strawberry.mutation(
    description="The storefront's shopper (customer token) enters a friend's referral code: "
    "they become that advocate's referral, completed by their first qualifying order. A "
    "shopper is referred once; their own code is refused."
)
async def referral_claim(
    info: ReferralsInfo,
    input: Annotated[ReferralClaimInput, strawberry.argument(description="The code.")],
) -> ReferralClaimPayload:
    shopper = info.context.viewer.customer_id

    async def claim(scope: MutationScope) -> service.Attribution:
        if shopper is None:
            raise ReferralError(
                ReferralErrorCode.NOT_A_SHOPPER,
                "code",
                "only a shopper (a customer token from the storefront) claims a code",
            )
        return await service.attribute(
            scope.session,
            scope.merchant_id,
            input.code,
            friend_customer_id=shopper,
            # The storefront's request says nothing the router passes on about the device;
            # the advocate's pace is still scored.
            friend=PartyFacts(),
            advocate=PartyFacts(),
            source=AttributionSource.CLAIM,
            now=scope.now,
        )

    async def respond(attribution: service.Attribution) -> ReferralClaimPayload:
        if attribution.created:
            await announce(
                info.context.resources.pubsub,
                info.context.viewer.merchant_id,
                ActivityKind.REFERRAL_CREATED,
                attribution.referral.id,
            )
        return ReferralClaimPayload(referral=Referral.from_row(attribution.referral))

    return await referral_mutation(
        info,
        ReferralClaimPayload,
        claim,
        respond,
        capability=Capability.WRITE_POINTS,
        for_customer=shopper,
    )


ReferralDecisionMutation = create_type(
    "ReferralDecisionMutation", [referral_review, referral_claim]
)
