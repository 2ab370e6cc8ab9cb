"""Read entry points of the referrals subgraph."""

from __future__ import annotations

from typing import Annotated

import strawberry

from subgraphs.kit.permissions import require_customer_access
from subgraphs.referrals.loaders import ReferralsInfo
from subgraphs.referrals.types import ReferralLink


@strawberry.type
class Query:
    @strawberry.field(description="The viewer's referral link with this code, if any.")
    async def referral_link(
        self,
        info: ReferralsInfo,
        code: Annotated[str, strawberry.argument(description="The referral code, as in the link.")],
    ) -> ReferralLink | None:
        row = await info.context.loaders.referral_link_by_code.load(code.strip().upper())
        advocate_id = None if row is None else row.advocate_customer_id
        # Checked against the link's advocate: a customer reads only their own link.
        require_customer_access(info.context.viewer, advocate_id)
        return None if row is None else ReferralLink.from_row(row, info)
