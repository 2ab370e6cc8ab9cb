"""Sharing a referral link from the storefront."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.kit.graphql.mutations import MutationScope
from subgraphs.kit.permissions import Capability
from subgraphs.referrals.loaders import ReferralsInfo
from subgraphs.referrals.program.service import ShareChannel
from subgraphs.referrals.service import ReferralError, ReferralErrorCode
from subgraphs.referrals.shares.service import (
    ShareRequest,
    ShareResult,
    enqueue_share,
    share_link,
)
from subgraphs.referrals.shares.types import ReferralShare, ReferralShareInput, ReferralSharePayload
from subgraphs.referrals.types import ReferralLink
from subgraphs.referrals.user_errors import referral_mutation


@strawberry.mutation(
    description="The storefront's shopper (customer token) sends their referral link to "
    "someone by email, SMS or WhatsApp, in their language. Sent in the background with "
    "retries; a customer may share a limited number of times a day (SHARE_LIMIT_REACHED)."
)
async def referral_share(
    info: ReferralsInfo,
    input: Annotated[ReferralShareInput, strawberry.argument(description="What to send, to whom.")],
) -> ReferralSharePayload:
    shopper = info.context.viewer.customer_id
    resources = info.context.resources

    async def share(scope: MutationScope) -> ShareResult:
        if shopper is None:
            raise ReferralError(
                ReferralErrorCode.NOT_A_SHOPPER,
                "channel",
                "only a shopper (a customer token from the storefront) shares their link",
            )
        return await share_link(
            scope.session,
            scope.merchant_id,
            shopper,
            ShareRequest(
                ShareChannel(input.channel), input.to, input.locale, input.idempotency_key
            ),
            cipher=resources.cipher,
            link_url_template=resources.settings.storefront_url_template,
            shop_domain=scope.viewer.shop_domain,
            limit=resources.settings.referral_shares_per_day,
            now=scope.now,
        )

    async def respond(result: ShareResult) -> ReferralSharePayload:
        if result.created:
            await enqueue_share(resources.redis, info.context.viewer.merchant_id, result.share.id)
        return ReferralSharePayload(
            share=ReferralShare.from_row(result.share),
            referral_link=ReferralLink.from_row(result.link, info),
        )

    return await referral_mutation(
        info,
        ReferralSharePayload,
        share,
        respond,
        capability=Capability.WRITE_POINTS,
        for_customer=shopper,
    )


ReferralShareMutation = create_type("ReferralShareMutation", [referral_share])
