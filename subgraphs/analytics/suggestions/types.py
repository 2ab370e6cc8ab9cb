"""GraphQL types of campaign suggestions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from db.models import CampaignSuggestion as SuggestionRow
from db.models import SuggestionStatus
from subgraphs.analytics.suggestions import service
from subgraphs.analytics.user_errors import AnalyticsUserError
from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.node import NODE_ID_DESCRIPTION, global_id
from subgraphs.kit.graphql.user_errors import user_errors_field

CampaignSuggestionStatus = domain_enum(
    SuggestionStatus,
    name="CampaignSuggestionStatus",
    description="Where a campaign suggestion stands.",
    values={
        "OPEN": "Waiting for the merchant's decision.",
        "ACCEPTED": "Accepted: its campaign is created (`campaignId` once it is).",
        "DISMISSED": "Dismissed; the same movement is not suggested again that week.",
    },
)


@strawberry.type(
    description="A campaign analytics proposes from the week's RFM segment movements, with "
    "the evidence: e.g. 12 Champions moved to At-Risk → 2x points for At-Risk for 7 days."
)
class CampaignSuggestion:
    id: strawberry.ID = strawberry.field(description=NODE_ID_DESCRIPTION)
    status: CampaignSuggestionStatus = strawberry.field(  # type: ignore[valid-type]
        description="Open, accepted or dismissed."
    )
    headline: str = strawberry.field(description="The suggestion in one line, for a dashboard.")
    from_segment: str = strawberry.field(description="The segment the customers left.")
    to_segment: str = strawberry.field(description="The segment they moved to.")
    customers: int = strawberry.field(description="How many moved, over the last 7 days.")
    campaign_name: str = strawberry.field(description="The proposed campaign's name.")
    multiplier: Decimal = strawberry.field(description="The points multiplier it proposes.")
    segment: str = strawberry.field(description="The RFM segment the campaign is for.")
    days: int = strawberry.field(description="How long it runs, from its acceptance.")
    created_at: datetime = strawberry.field(description="When it was suggested.")
    decided_at: datetime | None = strawberry.field(description="When it was accepted or dismissed.")
    campaign_id: strawberry.ID | None = strawberry.field(
        description="The BonusCampaign made of it, once the worker has created it."
    )

    @classmethod
    def of(cls, row: SuggestionRow) -> CampaignSuggestion:
        evidence, proposal = row.evidence, row.proposal
        return cls(
            id=global_id("CampaignSuggestion", row.id),
            status=SuggestionStatus(row.status),
            headline=service.headline(row),
            from_segment=evidence["from_segment"],
            to_segment=evidence["to_segment"],
            customers=int(evidence["customers"]),
            campaign_name=proposal["name"],
            multiplier=Decimal(proposal["multiplier"]),
            segment=proposal["segment"],
            days=int(proposal["days"]),
            created_at=row.created_at,
            decided_at=row.decided_at,
            campaign_id=None
            if row.campaign_id is None
            else global_id("BonusCampaign", row.campaign_id),
        )


@strawberry.input(description="A campaign suggestion to decide.")
class CampaignSuggestionDecisionInput:
    id: strawberry.ID = strawberry.field(description="The suggestion's global ID.")


@strawberry.type(description="Result of campaignSuggestionAccept.")
class CampaignSuggestionAcceptPayload:
    campaign_suggestion: CampaignSuggestion | None = strawberry.field(
        default=None,
        description="The suggestion, accepted; its campaign follows within seconds (`campaignId`).",
    )
    user_errors: list[AnalyticsUserError] = user_errors_field()


@strawberry.type(description="Result of campaignSuggestionDismiss.")
class CampaignSuggestionDismissPayload:
    campaign_suggestion: CampaignSuggestion | None = strawberry.field(
        default=None, description="The suggestion, dismissed."
    )
    user_errors: list[AnalyticsUserError] = user_errors_field()


StatusArgument = Annotated[
    SuggestionStatus | None,
    strawberry.argument(description="Only suggestions in this status (default: all)."),
]
