"""Long because each campaign kind, window and target is pinned by its own case.

Bonus campaigns: editing them through GraphQL, and what they change in the calculation
(points, the decision trace) and in rewards' cost, within their window, region and segments."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from db.models import AuditLog, Customer
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.points.campaigns.service import reward_cost_discount
from subgraphs.points.customers.service import register_customer
from subgraphs.points.ledger.service import EarnCommand, earn, preview_earn
from subgraphs.points.program.calculation import Calculation, EarnAction, Order, OrderLine
from subgraphs.points.program.service import Channel
from tests.conftest import SubgraphClient, Tenant
from tests.ids import gid, row_id
from tests.subgraphs.points.ledger_helpers import set_customer_facts

CAMPAIGN_FIELDS = """
id name kind multiplier bonusPoints discountPercent startsAt endsAt active
goalAmount { amount currencyCode } conditions { rfmSegments countries regions }
"""
CREATE = f"""
mutation($input: CampaignCreateInput!) {{ campaignCreate(input: $input) {{
  campaign {{ {CAMPAIGN_FIELDS} }} userErrors {{ field message code }}
}} }}
"""
UPDATE = f"""
mutation($input: CampaignUpdateInput!) {{ campaignUpdate(input: $input) {{
  campaign {{ {CAMPAIGN_FIELDS} }} userErrors {{ field message code }}
}} }}
"""
DELETE = """
mutation($input: CampaignDeleteInput!) { campaignDelete(input: $input) {
  deletedCampaignId userErrors { field message code }
} }
"""
CAMPAIGNS = """
query($first: Int, $after: String, $activeAt: DateTime) {
  campaigns(first: $first, after: $after, activeAt: $activeAt) {
    edges { node { id name } } pageInfo { hasNextPage endCursor }
  }
}
"""
NOW = datetime.now(UTC)
HOUR = timedelta(hours=1)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def campaign_input(name: str = "Black Friday", **overrides: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "DOUBLE_POINTS",
        "multiplier": "2",
        "startsAt": iso(NOW - HOUR),
        "endsAt": iso(NOW + HOUR),
        "idempotencyKey": f"test:campaign:{uuid.uuid4()}",
        **overrides,
    }


async def data(
    client: SubgraphClient, tenant: Tenant, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    body = await client.execute(query, variables, tenant=tenant)
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


async def create_campaign(client: SubgraphClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    result = await data(client, tenant, CREATE, {"input": campaign_input(**fields)})
    payload = result["campaignCreate"]
    assert payload["userErrors"] == []
    campaign: dict[str, Any] = payload["campaign"]
    return campaign


async def campaign_names(client: SubgraphClient, tenant: Tenant, **arguments: Any) -> list[str]:
    result = await data(client, tenant, CAMPAIGNS, arguments)
    return [edge["node"]["name"] for edge in result["campaigns"]["edges"]]


async def new_customer(resources: Resources, tenant: Tenant, country: str | None) -> str:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return await register_customer(
            session,
            tenant.merchant_id,
            resources.cipher,
            email=f"{uuid.uuid4().hex[:10]}@example.com",
            country_code=country,
        )


async def customer_row(resources: Resources, tenant: Tenant, customer_id: str) -> Customer:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        row = await session.scalar(
            select(Customer).where(
                Customer.merchant_id == tenant.merchant_id, Customer.id == customer_id
            )
        )
    assert row is not None
    return row


def order(order_id: str = "1001", amount: str = "20.00") -> Order:
    return Order(
        order_id=order_id,
        currency="USD",
        lines=(OrderLine("line-1", 1, Decimal(amount)),),
        channel=Channel.ONLINE,
        placed_at=NOW,
    )


async def preview(
    resources: Resources, tenant: Tenant, customer_id: str, *, at: datetime = NOW
) -> Calculation:
    customer = await customer_row(resources, tenant, customer_id)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return await preview_earn(
            session,
            tenant.merchant_id,
            customer=customer,
            action=EarnAction.PURCHASE,
            order=order(),
            at=at,
        )


def step(calculation: Calculation, rule: str) -> tuple[bool, str] | None:
    found = [s for s in calculation.trace if s.rule == rule]
    assert len(found) <= 1
    return (found[0].applied, found[0].detail) if found else None


async def test_campaigns_are_listed_latest_first_paged_and_filtered(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    await create_campaign(
        points_client, tenant, name="past", startsAt=iso(NOW - 3 * HOUR), endsAt=iso(NOW - 2 * HOUR)
    )
    await create_campaign(points_client, tenant, name="now")
    paused = await create_campaign(
        points_client, tenant, name="paused", active=False, startsAt=iso(NOW - HOUR / 2)
    )
    await create_campaign(
        points_client, tenant, name="next", startsAt=iso(NOW + HOUR), endsAt=iso(NOW + 2 * HOUR)
    )

    first = await data(points_client, tenant, CAMPAIGNS, {"first": 2})
    after = first["campaigns"]["pageInfo"]["endCursor"]
    second = await campaign_names(points_client, tenant, first=2, after=after)

    assert [e["node"]["name"] for e in first["campaigns"]["edges"]] == ["next", "paused"]
    assert first["campaigns"]["pageInfo"]["hasNextPage"] is True
    assert second == ["now", "past"]
    assert await campaign_names(points_client, tenant, activeAt=iso(NOW)) == ["now"]
    assert await campaign_names(points_client, tenant, activeAt=iso(NOW + 1.5 * HOUR)) == ["next"]
    assert paused["active"] is False


async def test_campaign_terms_come_back_as_saved(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    goal = await create_campaign(
        points_client,
        tenant,
        name="Spend 100",
        kind="GOAL_SPEND",
        multiplier=None,
        goalAmount="100",
        bonusPoints=200,
        conditions={
            "rfmSegments": ["Champions", "Champions"],
            "countries": ["CA", "CA"],
            "regions": ["EU"],
        },
    )

    assert goal["kind"] == "GOAL_SPEND"
    assert goal["multiplier"] is None
    assert goal["goalAmount"] == {"amount": "100.00", "currencyCode": "USD"}
    assert goal["bonusPoints"] == 200
    assert goal["conditions"] == {
        "rfmSegments": ["Champions"],
        "countries": ["CA"],
        "regions": ["EU"],
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"endsAt": iso(NOW - HOUR)}, ["input", "endsAt"]),
        ({"startsAt": "2026-01-01T00:00:00"}, ["input", "startsAt"]),
        ({"name": "  "}, ["input", "name"]),
        ({"multiplier": None}, ["input", "multiplier"]),
        ({"multiplier": "1"}, ["input", "multiplier"]),
        ({"multiplier": "10.01"}, ["input", "multiplier"]),
        ({"multiplier": "1.555"}, ["input", "multiplier"]),
        ({"kind": "GOAL_SPEND", "multiplier": None, "goalAmount": "50"}, ["input", "bonusPoints"]),
        (
            {"kind": "GOAL_SPEND", "multiplier": None, "goalAmount": "0", "bonusPoints": 5},
            ["input", "goalAmount"],
        ),
        ({"kind": "DISCOUNT", "discountPercent": "10"}, ["input", "multiplier"]),
        (
            {"kind": "DISCOUNT", "multiplier": None, "discountPercent": "100"},
            ["input", "discountPercent"],
        ),
        (
            {"kind": "DISCOUNT", "multiplier": None, "discountPercent": "0"},
            ["input", "discountPercent"],
        ),
        # discountPercent "NaN" never gets here: the Decimal scalar refuses it, BAD_USER_INPUT
        # (tests/subgraphs/kit/test_input_boundary.py).
        ({"conditions": {"rfmSegments": [""]}}, ["input", "conditions", "rfmSegments"]),
    ],
)
async def test_invalid_campaigns_are_user_errors_and_save_nothing(
    points_client: SubgraphClient, tenant: Tenant, overrides: dict[str, Any], field: list[str]
) -> None:
    result = await data(points_client, tenant, CREATE, {"input": campaign_input(**overrides)})

    payload = result["campaignCreate"]
    assert payload["campaign"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, "INVALID_CAMPAIGN")]
    assert await campaign_names(points_client, tenant) == []


@pytest.mark.parametrize(
    "conditions",
    [
        {"countries": ["UK"]},  # the United Kingdom is GB
        {"countries": ["EU"]},  # a region, not a country
        {"regions": ["NA"]},  # Namibia's code, not a region
        {"countries": ["ca"]},
    ],
)
async def test_areas_that_are_not_iso_countries_or_known_regions_are_bad_user_input(
    points_client: SubgraphClient, tenant: Tenant, conditions: dict[str, Any]
) -> None:
    result = await points_client.execute(
        CREATE, {"input": campaign_input(conditions=conditions)}, tenant=tenant
    )

    assert result["data"] is None
    assert [error["extensions"]["code"] for error in result["errors"]] == ["BAD_USER_INPUT"]
    assert await campaign_names(points_client, tenant) == []


async def test_names_are_unique_because_traces_name_campaigns(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    await create_campaign(points_client, tenant, name="Black Friday")
    other = await create_campaign(points_client, tenant, name="Cyber Monday")

    created = await data(points_client, tenant, CREATE, {"input": campaign_input("Black Friday")})
    renamed = await data(
        points_client, tenant, UPDATE, {"input": {"id": other["id"], "name": "Black Friday"}}
    )

    for payload in (created["campaignCreate"], renamed["campaignUpdate"]):
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
            (["input", "name"], "INVALID_CAMPAIGN")
        ]
    assert sorted(await campaign_names(points_client, tenant)) == ["Black Friday", "Cyber Monday"]


async def test_update_validates_the_merged_campaign(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    campaign = await create_campaign(points_client, tenant)

    doubled = await data(
        points_client, tenant, UPDATE, {"input": {"id": campaign["id"], "multiplier": "3"}}
    )
    ends_early = await data(
        points_client,
        tenant,
        UPDATE,
        {"input": {"id": campaign["id"], "endsAt": iso(NOW - 2 * HOUR)}},
    )
    missing_terms = await data(
        points_client, tenant, UPDATE, {"input": {"id": campaign["id"], "kind": "DISCOUNT"}}
    )
    discount = await data(
        points_client,
        tenant,
        UPDATE,
        {"input": {"id": campaign["id"], "kind": "DISCOUNT", "discountPercent": "20"}},
    )
    paused = await data(
        points_client, tenant, UPDATE, {"input": {"id": campaign["id"], "active": False}}
    )
    unknown = await data(
        points_client,
        tenant,
        UPDATE,
        {"input": {"id": gid("BonusCampaign", str(uuid.uuid4())), "active": False}},
    )

    assert doubled["campaignUpdate"]["campaign"]["multiplier"] == "3.00"
    assert [e["field"] for e in ends_early["campaignUpdate"]["userErrors"]] == [["input", "endsAt"]]
    assert [e["field"] for e in missing_terms["campaignUpdate"]["userErrors"]] == [
        ["input", "discountPercent"]
    ]
    saved = discount["campaignUpdate"]["campaign"]
    assert (saved["kind"], saved["multiplier"], saved["discountPercent"]) == (
        "DISCOUNT",
        None,
        "20.00",
    )
    assert paused["campaignUpdate"]["campaign"]["active"] is False
    assert paused["campaignUpdate"]["campaign"]["discountPercent"] == "20.00"
    assert unknown["campaignUpdate"]["userErrors"][0]["code"] == "CAMPAIGN_NOT_FOUND"


async def test_delete_removes_the_campaign_and_audits_what_it_was(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    campaign = await create_campaign(points_client, tenant)

    deleted = await data(points_client, tenant, DELETE, {"input": {"id": campaign["id"]}})
    again = await data(points_client, tenant, DELETE, {"input": {"id": campaign["id"]}})

    assert deleted["campaignDelete"] == {"deletedCampaignId": campaign["id"], "userErrors": []}
    # A retried delete (issue 10: deletes are safe to retry) answers the same id.
    assert again["campaignDelete"] == {"deletedCampaignId": campaign["id"], "userErrors": []}
    assert await campaign_names(points_client, tenant) == []
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        audits = list(
            await session.scalars(
                select(AuditLog.metadata_).where(
                    AuditLog.merchant_id == tenant.merchant_id,
                    AuditLog.action == "campaign_deleted",
                )
            )
        )
    assert [(a["campaign_id"], a["name"], a["multiplier"]) for a in audits] == [
        (row_id(campaign["id"]), "Black Friday", "2.00")
    ]


async def test_a_double_points_campaign_doubles_an_order_in_its_window_and_region(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    in_france = await new_customer(resources, tenant, "FR")
    in_canada = await new_customer(resources, tenant, "CA")
    baseline = await preview(resources, tenant, in_france)

    await create_campaign(
        points_client, tenant, name="Black Friday", conditions={"regions": ["EU"]}
    )

    doubled = await preview(resources, tenant, in_france)
    assert doubled.points == 2 * baseline.points > 0
    assert step(baseline, "campaign:Black Friday") is None
    assert step(doubled, "campaign:Black Friday") == (True, "x2.00 points")
    wrong_region = await preview(resources, tenant, in_canada)
    assert wrong_region.points == baseline.points
    assert step(wrong_region, "campaign:Black Friday") == (
        False,
        "for regions EU; customer is in CA",
    )
    # Outside the window the campaign is not even considered: `running` leaves it out.
    for at in (NOW - 2 * HOUR, NOW + 2 * HOUR):
        outside = await preview(resources, tenant, in_france, at=at)
        assert outside.points == baseline.points
        assert step(outside, "campaign:Black Friday") is None

    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        entry = await earn(
            session,
            tenant.merchant_id,
            EarnCommand(in_france, EarnAction.PURCHASE, "order:1001", order=order()),
            now=NOW,
        )
    assert entry.transaction.points == doubled.points
    assert {
        "rule": "campaign:Black Friday",
        "applied": True,
        "detail": "x2.00 points",
        "points": None,
        "multiplier": "2.00",
    } in entry.transaction.explanation["trace"]


async def test_a_goal_spend_campaign_rewards_its_segment_only(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await new_customer(resources, tenant, None)
    await create_campaign(
        points_client,
        tenant,
        name="Champions spend 15",
        kind="GOAL_SPEND",
        multiplier=None,
        goalAmount="15",
        bonusPoints=50,
        conditions={"rfmSegments": ["Champions"]},
    )

    outsider = await preview(resources, tenant, customer_id)
    await set_customer_facts(resources, tenant, customer_id, rfm_segment="Champions")
    champion = await preview(resources, tenant, customer_id)

    assert outsider.bonus_points == 0
    assert step(outsider, "campaign:Champions spend 15") == (
        False,
        "for segments Champions; customer is no segment yet",
    )
    assert champion.bonus_points == 50
    assert champion.goal_threshold == Decimal("15.00")
    assert step(champion, "campaign:Champions spend 15") == (True, "spent 20.00 >= 15.00 USD")


async def test_paused_and_deleted_campaigns_stop_applying(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await new_customer(resources, tenant, "FR")
    campaign = await create_campaign(points_client, tenant)
    running = await preview(resources, tenant, customer_id)

    await data(points_client, tenant, UPDATE, {"input": {"id": campaign["id"], "active": False}})
    paused = await preview(resources, tenant, customer_id)
    await data(points_client, tenant, UPDATE, {"input": {"id": campaign["id"], "active": True}})
    resumed = await preview(resources, tenant, customer_id)
    await data(points_client, tenant, DELETE, {"input": {"id": campaign["id"]}})
    deleted = await preview(resources, tenant, customer_id)

    assert running.points == resumed.points == 2 * paused.points == 2 * deleted.points
    assert step(paused, "campaign:Black Friday") is None
    assert step(deleted, "campaign:Black Friday") is None


async def test_reward_discount_is_the_best_running_campaign_for_the_customer(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    discount = {"kind": "DISCOUNT", "multiplier": None}
    await create_campaign(
        points_client,
        tenant,
        name="NA 15",
        discountPercent="15",
        conditions={"countries": ["US", "CA", "MX"]},
        **discount,
    )
    await create_campaign(
        points_client,
        tenant,
        name="EU 25",
        discountPercent="25",
        conditions={"regions": ["EU"]},
        **discount,
    )
    await create_campaign(points_client, tenant, name="All 10", discountPercent="10", **discount)
    await create_campaign(
        points_client,
        tenant,
        name="Later 50",
        discountPercent="50",
        startsAt=iso(NOW + HOUR),
        endsAt=iso(NOW + 2 * HOUR),
        **discount,
    )
    await create_campaign(points_client, tenant, name="Points", conditions={"regions": ["EU"]})
    customers = {
        country: await customer_row(
            resources, tenant, await new_customer(resources, tenant, country)
        )
        for country in ("FR", "US", "JP")
    }

    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        found = {
            country: await reward_cost_discount(session, tenant.merchant_id, NOW, customer)
            for country, customer in customers.items()
        }
        later = await reward_cost_discount(
            session, tenant.merchant_id, NOW + 1.5 * HOUR, customers["FR"]
        )
        long_after = await reward_cost_discount(
            session, tenant.merchant_id, NOW + 3 * HOUR, customers["FR"]
        )

    assert found == {
        "FR": (Decimal("25.00"), "EU 25"),
        "US": (Decimal("15.00"), "NA 15"),
        "JP": (Decimal("10.00"), "All 10"),
    }
    assert later == (Decimal("50.00"), "Later 50")
    assert long_after is None


async def test_other_merchants_cannot_see_change_or_feel_campaigns(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    campaign = await create_campaign(points_client, tenant)
    theirs = await new_customer(resources, other_tenant, "FR")
    before = await preview(resources, other_tenant, theirs)

    listed = await campaign_names(points_client, other_tenant)
    updated = await data(
        points_client, other_tenant, UPDATE, {"input": {"id": campaign["id"], "multiplier": "5"}}
    )
    deleted = await data(points_client, other_tenant, DELETE, {"input": {"id": campaign["id"]}})

    assert listed == []
    assert updated["campaignUpdate"]["userErrors"][0]["code"] == "CAMPAIGN_NOT_FOUND"
    assert deleted["campaignDelete"]["userErrors"][0]["code"] == "CAMPAIGN_NOT_FOUND"
    assert step(before, "campaign:Black Friday") is None
    mine = await data(points_client, tenant, CAMPAIGNS, {})
    assert [e["node"]["id"] for e in mine["campaigns"]["edges"]] == [campaign["id"]]
    customer = await new_customer(resources, tenant, "FR")
    assert step(await preview(resources, tenant, customer), "campaign:Black Friday") == (
        True,
        "x2.00 points",
    )


def test_a_stored_campaign_step_names_its_campaign_in_graphql() -> None:
    from subgraphs.points.ledger.types import DecisionStep

    # As the ledger stores trace steps (see the earn above), before and after campaignName.
    stored = {
        "rule": "campaign:Black Friday: EU",
        "applied": True,
        "detail": "x2.00 points",
        "points": None,
        "multiplier": "2.00",
    }
    campaign = DecisionStep.from_json(stored)
    others = [
        DecisionStep.from_json(stored | {"rule": rule})
        for rule in ("purchase", "rfm_multiplier", "line:L1", "clawback")
    ]

    assert (campaign.rule, campaign.campaign_name) == (
        "campaign:Black Friday: EU",
        "Black Friday: EU",
    )
    assert campaign.multiplier == Decimal("2.00")
    assert [step.campaign_name for step in others] == [None, None, None, None]
