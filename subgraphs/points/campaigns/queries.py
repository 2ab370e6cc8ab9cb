"""Bonus campaigns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.kit.graphql.relay import Connection, paged, to_connection
from subgraphs.kit.pagination import PageRequest
from subgraphs.kit.permissions import Capability, require
from subgraphs.points.campaigns import service as campaign_service
from subgraphs.points.campaigns.types import BonusCampaign
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.user_errors import bad_user_input

ActiveAtArgument = Annotated[
    datetime | None,
    strawberry.argument(description="Only campaigns running at this moment (not paused)."),
]


@strawberry.field(description="The program's bonus campaigns, latest start first.")
@paged()
async def campaigns(
    info: PointsInfo,
    paging: PageRequest,
    active_at: ActiveAtArgument = None,
) -> Connection[BonusCampaign]:
    require(info.context.viewer, Capability.READ_PROGRAM)
    with bad_user_input():
        async with info.context.unit_of_work() as session:
            page = await campaign_service.campaigns_page(
                session, info.context.viewer.merchant_id, paging, active_at=active_at
            )
    return to_connection(
        page, position=campaign_service.campaign_position, node=BonusCampaign.from_row
    )


CampaignQuery = create_type("CampaignQuery", [campaigns])
