"""VIP tiers and the preview of draft tiers."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.kit.permissions import Capability, require, require_catalog_read
from subgraphs.points.errors import PointsError
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.tiers import preview
from subgraphs.points.tiers.service import list_tiers
from subgraphs.points.tiers.types import VipTier, VipTierPreviewInput, VipTierPreviewPayload
from subgraphs.points.user_errors import PointsUserError


@strawberry.field(description="The program's VIP tiers, lowest rank first.")
async def vip_tiers(info: PointsInfo) -> list[VipTier]:
    require_catalog_read(info.context.viewer)
    async with info.context.unit_of_work() as session:
        rows = await list_tiers(session, info.context.viewer.merchant_id)
    for row in rows:
        info.context.loaders.vip_tier_by_id.prime(row.id, row)
    return [VipTier.from_row(row) for row in rows]


@strawberry.field(
    description="Simulate tiers (draft or current) over real customers before launching "
    "them: customers per tier and a sample. Writes nothing."
)
async def vip_tier_preview(
    info: PointsInfo,
    input: Annotated[
        VipTierPreviewInput,
        strawberry.argument(
            description="The tiers to simulate (the current ones by default) and over whom."
        ),
    ],
) -> VipTierPreviewPayload:
    context = info.context
    require(context.viewer, Capability.MANAGE_PROGRAM)
    try:
        async with context.unit_of_work() as session:
            found = await preview.preview_tiers(
                session,
                context.viewer.merchant_id,
                drafts=input.to_drafts(),
                customer_ids=input.to_customer_ids(),
                sample_size=input.sample_size,
            )
    except PointsError as error:
        return VipTierPreviewPayload(user_errors=[PointsUserError.from_error(error)])
    return VipTierPreviewPayload.from_preview(found)


TierQuery = create_type("TierQuery", [vip_tiers, vip_tier_preview])
