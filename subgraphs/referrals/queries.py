"""Read entry points of the referrals subgraph."""

from __future__ import annotations

import strawberry

from subgraphs.referrals.loaders import ReferralsInfo
from subgraphs.referrals.types import ReferralLink


@strawberry.type
class Query:
    @strawberry.field(description="The viewer's referral link with this code, if any.")
    async def referral_link(self, info: ReferralsInfo, code: str) -> ReferralLink | None:
        row = await info.context.loaders.referral_link_by_code.load(code.strip().upper())
        return None if row is None else ReferralLink.from_row(row, info)
