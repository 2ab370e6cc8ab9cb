"""Editing bonus campaigns. The calculation reads them on every earn, so a change applies to
the next order without any cache to retire."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.kit.graphql.node import local_id
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
from subgraphs.points.user_errors import points_mutation


@strawberry.mutation(
    description="Create a bonus campaign, validated against its kind, once per "
    "idempotencyKey: a retry returns the same campaign."
)
async def campaign_create(
    info: PointsInfo,
    input: Annotated[
        CampaignCreateInput,
        strawberry.argument(
            description="The new campaign's name, kind, terms, window and conditions."
        ),
    ],
) -> CampaignCreatePayload:
    return await points_mutation(
        info,
        CampaignCreatePayload,
        lambda scope: campaign_service.create_campaign(
            scope.write, input.to_draft(), idempotency_key=input.idempotency_key
        ),
        lambda row: CampaignCreatePayload(campaign=BonusCampaign.from_row(row)),
    )


@strawberry.mutation(
    description="Change a campaign (active: false pauses it); validated as a whole."
)
async def campaign_update(
    info: PointsInfo,
    input: Annotated[
        CampaignUpdateInput,
        strawberry.argument(description="The campaign and the changes to make."),
    ],
) -> CampaignUpdatePayload:
    return await points_mutation(
        info,
        CampaignUpdatePayload,
        lambda scope: campaign_service.update_campaign(
            scope.write,
            local_id(input.id, "BonusCampaign"),
            input.to_changes(),
            expected_version=input.expected_version,
        ),
        lambda row: CampaignUpdatePayload(campaign=BonusCampaign.from_row(row)),
    )


@strawberry.mutation(
    description="Delete a campaign for good (to stop it for a while, pause it instead). "
    "Points it already gave stay, and their explanations still name it. Safe to retry: "
    "deleting it again answers the same deletedCampaignId."
)
async def campaign_delete(
    info: PointsInfo,
    input: Annotated[
        CampaignDeleteInput, strawberry.argument(description="The campaign to delete.")
    ],
) -> CampaignDeletePayload:
    return await points_mutation(
        info,
        CampaignDeletePayload,
        lambda scope: campaign_service.delete_campaign(
            scope.write, local_id(input.id, "BonusCampaign")
        ),
        lambda _: CampaignDeletePayload(deleted_campaign_id=input.id),
    )


CampaignMutation = create_type(
    "CampaignMutation", [campaign_create, campaign_update, campaign_delete]
)
