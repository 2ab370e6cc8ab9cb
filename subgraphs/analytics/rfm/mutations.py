"""Editing the RFM thresholds."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.analytics.loaders import AnalyticsInfo
from subgraphs.analytics.rfm.service import update_rfm_thresholds
from subgraphs.analytics.rfm.types import (
    RfmThresholdSettings,
    RfmThresholdsSettings,
    RfmThresholdsUpdateInput,
    RfmThresholdsUpdatePayload,
)
from subgraphs.analytics.user_errors import analytics_mutation
from subgraphs.kit.graphql.mutations import MutationScope


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
            scope.session,
            scope.merchant_id,
            input.to_changes(),
            preset=input.preset,
            expected_version=input.expected_version,
            actor_id=scope.actor_id,
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


RfmMutation = create_type("RfmMutation", [rfm_thresholds_update])
