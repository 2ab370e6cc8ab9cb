"""Reading campaign suggestions."""

from __future__ import annotations

import strawberry
from strawberry.tools import create_type

from subgraphs.analytics.loaders import AnalyticsInfo
from subgraphs.analytics.suggestions import service
from subgraphs.analytics.suggestions.types import CampaignSuggestion, StatusArgument
from subgraphs.kit.graphql.relay import Connection, paged, to_connection
from subgraphs.kit.pagination import PageRequest
from subgraphs.kit.permissions import Capability, require


@strawberry.field(description="Campaigns analytics suggests from segment movements, newest first.")
@paged()
async def campaign_suggestions(
    info: AnalyticsInfo, paging: PageRequest, status: StatusArgument = None
) -> Connection[CampaignSuggestion]:
    merchant_id = require(info.context.viewer, Capability.READ_ANALYTICS).merchant_id
    async with info.context.unit_of_work() as session:
        page = await service.suggestions_page(session, merchant_id, paging, status)
    return to_connection(page, position=lambda row: (row.id,), node=CampaignSuggestion.of)


SuggestionQuery = create_type("SuggestionQuery", [campaign_suggestions])
