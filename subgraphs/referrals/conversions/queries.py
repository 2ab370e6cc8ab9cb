"""Reading referrals."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from db.models import ReferralStatus
from subgraphs.kit.graphql.relay import Connection, paged, to_connection
from subgraphs.kit.pagination import PageRequest, time_ordered_page, time_ordered_position
from subgraphs.kit.permissions import Capability, require
from subgraphs.referrals.conversions import reads
from subgraphs.referrals.conversions.types import Referral, ReferralStatusEnum
from subgraphs.referrals.loaders import ReferralsInfo

StatusArgument = Annotated[
    ReferralStatusEnum | None,  # type: ignore[valid-type]
    strawberry.argument(description="Only referrals in this status."),
]


@strawberry.field(description="The shop's referrals, newest first.")
@paged(time_ordered_page)
async def referrals(
    info: ReferralsInfo, status: StatusArgument = None, *, paging: PageRequest
) -> Connection[Referral]:
    require(info.context.viewer, Capability.READ_CUSTOMERS)
    async with info.context.unit_of_work() as session:
        page = await reads.referrals_page(
            session,
            info.context.viewer.merchant_id,
            paging,
            status=None if status is None else ReferralStatus(status),
        )
    return to_connection(page, position=time_ordered_position, node=Referral.from_row)


ReferralQuery = create_type("ReferralQuery", [referrals])
