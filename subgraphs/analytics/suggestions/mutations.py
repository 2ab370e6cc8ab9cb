"""Deciding a campaign suggestion: accepting asks the worker to create its campaign."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from db.models import CampaignSuggestion as SuggestionRow
from subgraphs.analytics.loaders import AnalyticsInfo
from subgraphs.analytics.suggestions import service
from subgraphs.analytics.suggestions.types import (
    CampaignSuggestion,
    CampaignSuggestionAcceptPayload,
    CampaignSuggestionDecisionInput,
    CampaignSuggestionDismissPayload,
)
from subgraphs.analytics.user_errors import analytics_mutation
from subgraphs.kit.graphql.node import local_id

Decision = Annotated[
    CampaignSuggestionDecisionInput, strawberry.argument(description="The suggestion.")
]


@strawberry.mutation(
    description="Accept a campaign suggestion: its campaign is created in the points program, "
    "once, within seconds (a retry changes nothing)."
)
async def campaign_suggestion_accept(
    info: AnalyticsInfo, input: Decision
) -> CampaignSuggestionAcceptPayload:
    async def respond(row: SuggestionRow) -> CampaignSuggestionAcceptPayload:
        if row.campaign_id is None:
            # After the commit, so the job finds the decision; lost, the sweeper asks again.
            await service.enqueue_campaign_creation(
                info.context.resources.redis, row.merchant_id, row.id
            )
        return CampaignSuggestionAcceptPayload(campaign_suggestion=CampaignSuggestion.of(row))

    return await analytics_mutation(
        info,
        CampaignSuggestionAcceptPayload,
        lambda scope: service.accept(scope.write, local_id(input.id, "CampaignSuggestion")),
        respond,
    )


@strawberry.mutation(description="Dismiss a campaign suggestion; nothing is created.")
async def campaign_suggestion_dismiss(
    info: AnalyticsInfo, input: Decision
) -> CampaignSuggestionDismissPayload:
    return await analytics_mutation(
        info,
        CampaignSuggestionDismissPayload,
        lambda scope: service.dismiss(scope.write, local_id(input.id, "CampaignSuggestion")),
        lambda row: CampaignSuggestionDismissPayload(
            campaign_suggestion=CampaignSuggestion.of(row)
        ),
    )


SuggestionMutation = create_type(
    "SuggestionMutation", [campaign_suggestion_accept, campaign_suggestion_dismiss]
)
