"""Bonus campaigns as GraphQL: the campaigns and their editing inputs."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from db.models import BonusCampaign as BonusCampaignRow
from db.models import CampaignKind as CampaignKindValue
from subgraphs.kit.graphql.codes import CountryCode
from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.fields import (
    create_key_field,
    expected_version_field,
    from_attributes,
    version_field,
)
from subgraphs.kit.graphql.node import NODE_ID_DESCRIPTION, global_id, local_id
from subgraphs.kit.graphql.user_errors import user_errors_field
from subgraphs.kit.permissions import Capability, require
from subgraphs.points.campaigns.rules import CampaignChanges, CampaignDraft
from subgraphs.points.errors import MAX_CREATE_KEY_LENGTH
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.money import Money, shop_money
from subgraphs.points.user_errors import PointsUserError

CampaignKind = domain_enum(
    CampaignKindValue,
    name="CampaignKind",
    description="What a campaign does.",
    values={
        "DOUBLE_POINTS": "Multiplies the points orders earn by `multiplier`.",
        "GOAL_SPEND": "Gives `bonusPoints` for an order whose subtotal reaches `goalAmount`.",
        "DISCOUNT": "Takes `discountPercent` off rewards' points cost.",
    },
)


@strawberry.enum(
    description="A group of countries a campaign can target by one name (not a country: "
    "regions have no ISO 3166-1 code)."
)
class Region(enum.Enum):
    EU = strawberry.enum_value(
        "EU", description="The European Union: its 27 member states' shipping countries."
    )


_REGION_CODES = frozenset(str(region.value) for region in Region)


def _area(countries: list[CountryCode] | None, regions: list[Region] | None) -> list[str] | None:
    """Countries and regions as campaigns store them: one list of codes."""
    if countries is None and regions is None:
        return None
    return [country.value for country in countries or []] + [
        str(region.value) for region in regions or []
    ]


@strawberry.type(description="Who a campaign is for; every condition set must hold.")
class CampaignConditions:
    rfm_segments: list[str] = strawberry.field(
        description="Only customers in these RFM segments; empty: every segment."
    )
    countries: list[CountryCode] = strawberry.field(
        description="Only orders shipped to these countries (or to the regions); with regions "
        "empty too: anywhere."
    )
    regions: list[Region] = strawberry.field(
        description="Only orders shipped to these regions (or to the countries); with countries "
        "empty too: anywhere."
    )


@strawberry.federation.type(
    keys=["id"],
    description="A time-boxed promotion: more points, a spend bonus or cheaper rewards.",
)
class BonusCampaign:
    id: strawberry.ID = strawberry.field(description=NODE_ID_DESCRIPTION)
    name: str = strawberry.field(
        description="Unique; points explanations name the campaign as campaign:<name>."
    )
    kind: CampaignKind = strawberry.field(description="What the campaign does.")  # type: ignore[valid-type]
    multiplier: Decimal | None = strawberry.field(
        description="Points multiplier of a DOUBLE_POINTS campaign."
    )
    bonus_points: int | None = strawberry.field(
        description="Bonus of a GOAL_SPEND campaign, for an order reaching goalAmount."
    )
    discount_percent: Decimal | None = strawberry.field(
        description="Percent off rewards' points cost, for a DISCOUNT campaign."
    )
    starts_at: datetime = strawberry.field(description="When it starts applying.")
    ends_at: datetime = strawberry.field(description="When it stops applying (exclusive).")
    conditions: CampaignConditions = strawberry.field(description="Who it is for.")
    active: bool = strawberry.field(description="False while paused.")
    created_at: datetime = strawberry.field(description="When it was created.")
    version: int = version_field("campaign")
    goal: strawberry.Private[Decimal | None]

    @classmethod
    def from_row(cls, row: BonusCampaignRow) -> BonusCampaign:
        conditions = row.conditions or {}
        kind = CampaignKindValue(row.kind)
        return from_attributes(
            cls,
            row,
            id=global_id("BonusCampaign", row.id),
            kind=kind,
            multiplier=row.multiplier if kind is CampaignKindValue.DOUBLE_POINTS else None,
            conditions=CampaignConditions(
                rfm_segments=list(conditions.get("rfm_segments") or []),
                countries=[
                    CountryCode(code)
                    for code in conditions.get("regions") or []
                    if code not in _REGION_CODES
                ],
                regions=[
                    Region(code)
                    for code in conditions.get("regions") or []
                    if code in _REGION_CODES
                ],
            ),
            goal=row.goal_amount,
        )

    @classmethod
    async def resolve_reference(cls, info: PointsInfo, id: strawberry.ID) -> BonusCampaign | None:
        """A refetch by global ID: readable as ``campaigns`` is (READ_PROGRAM)."""
        require(info.context.viewer, Capability.READ_PROGRAM)
        row = await info.context.loaders.campaign_by_id.load(local_id(id, "BonusCampaign"))
        return None if row is None else cls.from_row(row)

    @strawberry.field(description="Order subtotal a GOAL_SPEND campaign rewards, shop currency.")
    async def goal_amount(self, info: PointsInfo) -> Money | None:
        return None if self.goal is None else await shop_money(info, self.goal)


@strawberry.input(description="Who a campaign is for; omit a list to not restrict by it.")
class CampaignConditionsInput:
    rfm_segments: list[str] | None = strawberry.field(
        default=None, description="RFM segment names, e.g. Champions."
    )
    countries: list[CountryCode] | None = strawberry.field(
        default=None,
        description="Shipping countries, e.g. GB, CA. With regions, the area of the campaign: "
        "given together they replace it as one, omitted together they keep it.",
    )
    regions: list[Region] | None = strawberry.field(
        default=None, description="Regions, e.g. EU; see countries."
    )


# What campaign inputs pass on to the service as they are (conditions are unpacked).
_CAMPAIGN_FIELDS = (
    "name",
    "kind",
    "starts_at",
    "ends_at",
    "multiplier",
    "goal_amount",
    "bonus_points",
    "discount_percent",
    "active",
)


def _campaign_fields(campaign: CampaignCreateInput | CampaignUpdateInput) -> dict[str, Any]:
    return {name: getattr(campaign, name) for name in _CAMPAIGN_FIELDS}


@strawberry.input(description="A new campaign. Give the terms of its kind only.")
class CampaignCreateInput:
    name: str = strawberry.field(description="Unique name, 1 to 100 characters.")
    kind: CampaignKind = strawberry.field(description="What the campaign does.")  # type: ignore[valid-type]
    starts_at: datetime = strawberry.field(description="Start, with a UTC offset.")
    ends_at: datetime = strawberry.field(description="End (exclusive), after the start.")
    idempotency_key: str = create_key_field("campaign", MAX_CREATE_KEY_LENGTH)
    multiplier: Decimal | None = strawberry.field(
        default=None, description="DOUBLE_POINTS: above 1 and at most 10."
    )
    goal_amount: Decimal | None = strawberry.field(
        default=None, description="GOAL_SPEND: order subtotal to reach, in the shop currency."
    )
    bonus_points: int | None = strawberry.field(
        default=None, description="GOAL_SPEND: points for reaching it."
    )
    discount_percent: Decimal | None = strawberry.field(
        default=None, description="DISCOUNT: percent off rewards, above 0 and below 100."
    )
    conditions: CampaignConditionsInput | None = strawberry.field(
        default=None, description="Who it is for; everyone by default."
    )
    active: bool = strawberry.field(default=True, description="False to create it paused.")

    def to_draft(self) -> CampaignDraft:
        conditions = self.conditions or CampaignConditionsInput()
        return CampaignDraft(
            **_campaign_fields(self),
            rfm_segments=conditions.rfm_segments or [],
            regions=_area(conditions.countries, conditions.regions) or [],
        )


@strawberry.input(
    description="Changes to a campaign: omitted fields keep their value; a new kind drops the "
    "old kind's terms."
)
class CampaignUpdateInput:
    id: strawberry.ID = strawberry.field(description="The campaign to change.")
    expected_version: int | None = expected_version_field("campaign")
    name: str | None = strawberry.field(default=None, description="New unique name.")
    kind: CampaignKind | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="New kind; give its terms too."
    )
    starts_at: datetime | None = strawberry.field(default=None, description="New start.")
    ends_at: datetime | None = strawberry.field(default=None, description="New end.")
    multiplier: Decimal | None = strawberry.field(default=None, description="DOUBLE_POINTS.")
    goal_amount: Decimal | None = strawberry.field(default=None, description="GOAL_SPEND.")
    bonus_points: int | None = strawberry.field(default=None, description="GOAL_SPEND.")
    discount_percent: Decimal | None = strawberry.field(default=None, description="DISCOUNT.")
    conditions: CampaignConditionsInput | None = strawberry.field(
        default=None, description="Lists given replace the current ones."
    )
    active: bool | None = strawberry.field(default=None, description="False pauses it.")

    def to_changes(self) -> CampaignChanges:
        conditions = self.conditions or CampaignConditionsInput()
        return CampaignChanges(
            **_campaign_fields(self),
            rfm_segments=conditions.rfm_segments,
            regions=_area(conditions.countries, conditions.regions),
        )


@strawberry.input(description="The campaign to delete.")
class CampaignDeleteInput:
    id: strawberry.ID = strawberry.field(description="The campaign to delete.")


@strawberry.type(description="The result of campaignCreate.")
class CampaignCreatePayload:
    campaign: BonusCampaign | None = strawberry.field(
        default=None,
        description="The new campaign (the original one when the key was already used).",
    )
    user_errors: list[PointsUserError] = user_errors_field()


@strawberry.type(description="The result of campaignUpdate.")
class CampaignUpdatePayload:
    campaign: BonusCampaign | None = strawberry.field(
        default=None, description="The campaign as changed."
    )
    user_errors: list[PointsUserError] = user_errors_field()


@strawberry.type(description="The result of campaignDelete.")
class CampaignDeletePayload:
    deleted_campaign_id: strawberry.ID | None = strawberry.field(
        default=None, description="The deleted campaign's id."
    )
    user_errors: list[PointsUserError] = user_errors_field()
