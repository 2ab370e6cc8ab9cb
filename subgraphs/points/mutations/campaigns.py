"""Editing bonus campaigns. The calculation reads them on every earn, so a change applies to
the next order without any cache to retire."""

from __future__ import annotations

import strawberry

from subgraphs.kit.permissions import Capability, require
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.service import campaigns as campaign_service
from subgraphs.points.service.errors import PointsError
from subgraphs.points.types.campaigns import (
    BonusCampaign,
    CampaignCreateInput,
    CampaignCreatePayload,
    CampaignDeleteInput,
    CampaignDeletePayload,
    CampaignUpdateInput,
    CampaignUpdatePayload,
)
from subgraphs.points.types.errors import PointsUserError


@strawberry.type
class CampaignMutation:
    @strawberry.mutation(description="Create a bonus campaign; validated against its kind.")
    async def campaign_create(
        self, info: PointsInfo, input: CampaignCreateInput
    ) -> CampaignCreatePayload:
        context = info.context
        require(context.viewer, Capability.MANAGE_PROGRAM)
        try:
            async with context.unit_of_work() as session:
                row = await campaign_service.create_campaign(
                    session,
                    context.viewer.merchant_id,
                    input.to_draft(),
                    actor_id=context.viewer.user_id,
                )
        except PointsError as error:
            return CampaignCreatePayload(
                campaign=None, user_errors=[PointsUserError.from_error(error)]
            )
        return CampaignCreatePayload(campaign=BonusCampaign.from_row(row), user_errors=[])

    @strawberry.mutation(
        description="Change a campaign (active: false pauses it); validated as a whole."
    )
    async def campaign_update(
        self, info: PointsInfo, input: CampaignUpdateInput
    ) -> CampaignUpdatePayload:
        context = info.context
        require(context.viewer, Capability.MANAGE_PROGRAM)
        try:
            async with context.unit_of_work() as session:
                row = await campaign_service.update_campaign(
                    session,
                    context.viewer.merchant_id,
                    str(input.id),
                    input.to_changes(),
                    actor_id=context.viewer.user_id,
                )
        except PointsError as error:
            return CampaignUpdatePayload(
                campaign=None, user_errors=[PointsUserError.from_error(error)]
            )
        return CampaignUpdatePayload(campaign=BonusCampaign.from_row(row), user_errors=[])

    @strawberry.mutation(
        description="Delete a campaign for good (to stop it for a while, pause it instead). "
        "Points it already gave stay, and their explanations still name it."
    )
    async def campaign_delete(
        self, info: PointsInfo, input: CampaignDeleteInput
    ) -> CampaignDeletePayload:
        context = info.context
        require(context.viewer, Capability.MANAGE_PROGRAM)
        try:
            async with context.unit_of_work() as session:
                await campaign_service.delete_campaign(
                    session,
                    context.viewer.merchant_id,
                    str(input.id),
                    actor_id=context.viewer.user_id,
                )
        except PointsError as error:
            return CampaignDeletePayload(
                deleted_campaign_id=None, user_errors=[PointsUserError.from_error(error)]
            )
        return CampaignDeletePayload(deleted_campaign_id=input.id, user_errors=[])
