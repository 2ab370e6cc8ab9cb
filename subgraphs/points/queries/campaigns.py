"""Bonus campaigns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from graphql import GraphQLError

from subgraphs.kit.errors import BAD_USER_INPUT
from subgraphs.kit.graphql.relay import (
    AfterArgument,
    Connection,
    FirstArgument,
    page_request,
    to_connection,
)
from subgraphs.kit.permissions import Capability, require
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.service import campaigns as campaign_service
from subgraphs.points.service.errors import PointsError
from subgraphs.points.types.campaigns import BonusCampaign

ActiveAtArgument = Annotated[
    datetime | None,
    strawberry.argument(description="Only campaigns running at this moment (not paused)."),
]


@strawberry.type
class CampaignQuery:
    @strawberry.field(description="The program's bonus campaigns, latest start first.")
    async def campaigns(
        self,
        info: PointsInfo,
        first: FirstArgument = None,
        after: AfterArgument = None,
        active_at: ActiveAtArgument = None,
    ) -> Connection[BonusCampaign]:
        require(info.context.viewer, Capability.READ_PROGRAM)
        request = page_request(first, after)
        try:
            async with info.context.unit_of_work() as session:
                page = await campaign_service.campaigns_page(
                    session, info.context.viewer.merchant_id, request, active_at=active_at
                )
        except PointsError as error:
            raise GraphQLError(error.message, extensions={"code": BAD_USER_INPUT}) from None
        return to_connection(
            page, position=campaign_service.campaign_position, node=BonusCampaign.from_row
        )
