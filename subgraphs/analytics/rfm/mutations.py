"""Editing the RFM thresholds."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.analytics.loaders import AnalyticsInfo
from subgraphs.analytics.rfm.service import define_segment, delete_segment, update_rfm_thresholds
from subgraphs.analytics.rfm.types import (
    RfmSegment,
    RfmSegmentCreateInput,
    RfmSegmentCreatePayload,
    RfmSegmentDeleteInput,
    RfmSegmentDeletePayload,
    RfmThresholdSettings,
    RfmThresholdsSettings,
    RfmThresholdsUpdateInput,
    RfmThresholdsUpdatePayload,
)
from subgraphs.analytics.user_errors import analytics_mutation
from subgraphs.kit.graphql.mutations import MutationScope
from subgraphs.kit.graphql.node import local_id


@strawberry.mutation(
    description="Change the shop's RFM thresholds, validated as a whole; with "
    "expectedVersion, refused (VERSION_CONFLICT) if they changed since. Scores follow at the "
    "next recompute (nightly, or a customer's next order)."
)
async def rfm_thresholds_update(
    info: AnalyticsInfo,
    input: Annotated[
        RfmThresholdsUpdateInput,
        strawberry.argument(description="The changes, and optionally the version they are on."),
    ],
) -> RfmThresholdsUpdatePayload:
    async def perform(scope: MutationScope) -> RfmThresholdsSettings:
        thresholds, version = await update_rfm_thresholds(
            scope.write,
            input.to_changes(),
            preset=input.preset,
            expected_version=input.expected_version,
        )
        return RfmThresholdsSettings(
            thresholds=RfmThresholdSettings.of(thresholds), version=version
        )

    return await analytics_mutation(
        info,
        RfmThresholdsUpdatePayload,
        perform,
        lambda saved: RfmThresholdsUpdatePayload(rfm_thresholds=saved),
    )


@strawberry.mutation(
    description="Add a merchant-defined RFM segment, checked before the built-in ones by "
    "priority. The same segment sent again is a replay; customers join it at their next "
    "recompute (nightly, or their next order)."
)
async def rfm_segment_create(
    info: AnalyticsInfo,
    input: Annotated[RfmSegmentCreateInput, strawberry.argument(description="The segment.")],
) -> RfmSegmentCreatePayload:
    async def perform(scope: MutationScope) -> RfmSegment:
        segment_id, rule = await define_segment(scope.session, scope.merchant_id, input.to_rule())
        return RfmSegment.of(segment_id, rule)

    return await analytics_mutation(
        info,
        RfmSegmentCreatePayload,
        perform,
        lambda segment: RfmSegmentCreatePayload(rfm_segment=segment),
    )


@strawberry.mutation(
    description="Remove a merchant-defined RFM segment (idempotent); its customers leave it "
    "at their next recompute."
)
async def rfm_segment_delete(
    info: AnalyticsInfo,
    input: Annotated[RfmSegmentDeleteInput, strawberry.argument(description="Which one.")],
) -> RfmSegmentDeletePayload:
    segment_id = local_id(input.id, "RfmSegment")

    async def perform(scope: MutationScope) -> bool:
        return await delete_segment(scope.session, scope.merchant_id, segment_id)

    return await analytics_mutation(
        info,
        RfmSegmentDeletePayload,
        perform,
        lambda deleted: RfmSegmentDeletePayload(
            deleted_rfm_segment_id=input.id if deleted else None
        ),
    )


RfmMutation = create_type(
    "RfmMutation", [rfm_thresholds_update, rfm_segment_create, rfm_segment_delete]
)
