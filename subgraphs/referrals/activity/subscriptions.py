"""The merchant dashboard's live view of the referral program (``kit.graphql.subscriptions``:
one fresh read per event per merchant, shared by every dashboard of the shop in this
process)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.kit.graphql.subscriptions import live_snapshots
from subgraphs.kit.permissions import Capability, require
from subgraphs.referrals.activity.service import current_activity, referral_channel
from subgraphs.referrals.activity.types import ReferralActivity
from subgraphs.referrals.loaders import ReferralsInfo


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The referral program's day so far, then again after every click, "
        "referral attributed, completed, flagged, approved or rejected. Needs read_analytics."
    )
    async def referral_activity(
        self, info: ReferralsInfo
    ) -> AsyncGenerator[ReferralActivity, None]:
        merchant_id = require(info.context.viewer, Capability.READ_ANALYTICS).merchant_id

        async def current(session: AsyncSession) -> ReferralActivity:
            return ReferralActivity.of(await current_activity(session, merchant_id))

        snapshots = live_snapshots(
            info, channel=referral_channel(merchant_id), kind="referral_activity", read=current
        )
        async with aclosing(snapshots):  # unsubscribes at once when the client does
            async for activity in snapshots:
                yield activity
