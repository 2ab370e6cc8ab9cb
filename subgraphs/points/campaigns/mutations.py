"""Editing bonus campaigns. The calculation reads them on every earn, so a change applies to
the next order without any cache to retire."""

from __future__ import annotations

import strawberry

from subgraphs.kit.graphql.mutations import run_mutation
from subgraphs.kit.permissions import Capability
from subgraphs.points.campaigns import service as campaign_service
from subgraphs.points.campaigns.types import (
    BonusCampaign,
    CampaignCreateInput,
    CampaignCreatePayload,
    CampaignDeleteInput,
    CampaignDeletePayload,
    CampaignUpdateInput,
    CampaignUpdatePayload,
)
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.user_errors import PointsUserError


@strawberry.type
class CampaignMutation:
    @strawberry.mutation(description="Create a bonus campaign; validated against its kind.")
    async def campaign_create(
        self, info: PointsInfo, input: CampaignCreateInput
    ) -> CampaignCreatePayload:
        return await run_mutation(
            info,
            capability=Capability.MANAGE_PROGRAM,
            perform=lambda scope: campaign_service.create_campaign(
                scope.session, scope.merchant_id, input.to_draft(), actor_id=scope.actor_id
            ),
            respond=lambda row: CampaignCreatePayload(campaign=BonusCampaign.from_row(row)),
            payload=CampaignCreatePayload,
            user_error=PointsUserError,
        )

    @strawberry.mutation(
        description="Change a campaign (active: false pauses it); validated as a whole."
    )
    async def campaign_update(
        self, info: PointsInfo, input: CampaignUpdateInput
    ) -> CampaignUpdatePayload:
        return await run_mutation(
            info,
            capability=Capability.MANAGE_PROGRAM,
            perform=lambda scope: campaign_service.update_campaign(
                scope.session,
                scope.merchant_id,
                str(input.id),
                input.to_changes(),
                actor_id=scope.actor_id,
            ),
            respond=lambda row: CampaignUpdatePayload(campaign=BonusCampaign.from_row(row)),
            payload=CampaignUpdatePayload,
            user_error=PointsUserError,
        )

    @strawberry.mutation(
        description="Delete a campaign for good (to stop it for a while, pause it instead). "
        "Points it already gave stay, and their explanations still name it."
    )
    async def campaign_delete(
        self, info: PointsInfo, input: CampaignDeleteInput
    ) -> CampaignDeletePayload:
        return await run_mutation(
            info,
            capability=Capability.MANAGE_PROGRAM,
            perform=lambda scope: campaign_service.delete_campaign(
                scope.session, scope.merchant_id, str(input.id), actor_id=scope.actor_id
            ),
            respond=lambda _: CampaignDeletePayload(deleted_campaign_id=input.id),
            payload=CampaignDeletePayload,
            user_error=PointsUserError,
        )
