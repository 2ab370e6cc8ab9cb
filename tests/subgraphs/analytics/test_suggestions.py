"""Campaign suggestions: Champions slipping to At-Risk over the week make a suggestion with its
evidence (once per movement and week); accepting it creates the campaign once, whatever the
retries; a decision is final; too small a movement suggests nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from db.ids import new_id
from db.models import BonusCampaign
from db.session import tenant_unit_of_work
from subgraphs.analytics.rfm import service as rfm
from subgraphs.analytics.suggestions import service
from subgraphs.kit.resources import Resources
from tests.conftest import StatementCounter, SubgraphClient, Tenant, add_customer
from tests.ids import gid
from tests.subgraphs.analytics.rfm_shops import fact, record
from worker.analytics.jobs import create_campaign_of_suggestion

SUGGESTIONS = """{ campaignSuggestions(first: 10) { edges { node {
  id status headline fromSegment toSegment customers campaignName multiplier segment days
  campaignId } } } }"""
ACCEPT = """mutation($id: ID!) { campaignSuggestionAccept(input: {id: $id}) {
  campaignSuggestion { id status campaignId } userErrors { code field message } } }"""
DISMISS = """mutation($id: ID!) { campaignSuggestionDismiss(input: {id: $id}) {
  campaignSuggestion { status } userErrors { code } } }"""


async def _slipping_champions(resources: Resources, tenant: Tenant, count: int) -> datetime:
    """``count`` customers who were Champions 90 days ago (eight recent $100 orders then)
    and are At-Risk now (nothing since), scored then and yesterday; the time now."""
    now = datetime.now(UTC)
    then = now - timedelta(days=90)
    buyers = [await add_customer(resources, tenant) for _ in range(count)]
    await record(
        resources,
        tenant,
        [
            fact(600_000 + index * 10 + k, buyer, then - timedelta(days=k), "100.00")
            for index, buyer in enumerate(buyers)
            for k in range(8)
        ],
    )
    for at in (then, now - timedelta(days=1)):
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            await rfm.recompute(session, tenant.merchant_id, now=at)
    return now


async def _suggest(resources: Resources, tenant: Tenant, now: datetime) -> int:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return len(await service.suggest(session, tenant.merchant_id, now=now))


async def _data(client: SubgraphClient, query: str, tenant: Tenant, **variables: Any) -> Any:
    body = await client.execute(query, variables, tenant=tenant)
    assert "errors" not in body, body
    return body["data"]


async def test_slipping_champions_make_a_suggestion_and_accepting_it_creates_one_campaign(
    resources: Resources, tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    now = await _slipping_champions(resources, tenant, 6)

    assert await _suggest(resources, tenant, now) == 1
    assert await _suggest(resources, tenant, now + timedelta(hours=1)) == 0  # same week

    (edge,) = (await _data(analytics_client, SUGGESTIONS, tenant))["campaignSuggestions"]["edges"]
    suggestion = edge["node"]
    assert suggestion["status"] == "OPEN"
    assert (suggestion["fromSegment"], suggestion["toSegment"], suggestion["customers"]) == (
        "Champions",
        "At-Risk",
        6,
    )
    assert suggestion["headline"] == (
        "6 Champions moved to At-Risk this week → 2x points for At-Risk for 7 days"
    )
    assert (Decimal(suggestion["multiplier"]), suggestion["segment"], suggestion["days"]) == (
        Decimal(2),
        "At-Risk",
        7,
    )

    for _ in range(2):  # a retried accept is the same decision
        accepted = (await _data(analytics_client, ACCEPT, tenant, id=suggestion["id"]))[
            "campaignSuggestionAccept"
        ]
        assert accepted["userErrors"] == []
        assert accepted["campaignSuggestion"]["status"] == "ACCEPTED"
    suggestion_id = suggestion["id"].rsplit("/", 1)[-1]
    # The worker's job, twice (a duplicate job, a sweep): one campaign.
    made = {
        await create_campaign_of_suggestion(resources.sessions, tenant.merchant_id, suggestion_id)
        for _ in range(2)
    }
    assert len(made) == 1
    (campaign_id,) = made
    assert campaign_id is not None
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        campaigns = list(await session.scalars(select(BonusCampaign)))
    assert [c.id for c in campaigns] == [campaign_id]
    (campaign,) = campaigns
    assert campaign.name == suggestion["campaignName"]
    assert (campaign.kind, campaign.multiplier) == ("double_points", Decimal(2))
    assert campaign.conditions["rfm_segments"] == ["At-Risk"]
    assert campaign.ends_at - campaign.starts_at == timedelta(days=7)
    listed = (await _data(analytics_client, SUGGESTIONS, tenant))["campaignSuggestions"]
    assert listed["edges"][0]["node"]["campaignId"] == gid("BonusCampaign", campaign_id)

    # Decided: dismissing now is refused, and nothing changes.
    refused = (await _data(analytics_client, DISMISS, tenant, id=suggestion["id"]))[
        "campaignSuggestionDismiss"
    ]
    assert [e["code"] for e in refused["userErrors"]] == ["SUGGESTION_DECIDED"]


async def test_a_dismissed_suggestion_creates_nothing(
    resources: Resources, tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    now = await _slipping_champions(resources, tenant, 5)
    await _suggest(resources, tenant, now)
    (edge,) = (await _data(analytics_client, SUGGESTIONS, tenant))["campaignSuggestions"]["edges"]

    dismissed = (await _data(analytics_client, DISMISS, tenant, id=edge["node"]["id"]))[
        "campaignSuggestionDismiss"
    ]

    assert dismissed == {"campaignSuggestion": {"status": "DISMISSED"}, "userErrors": []}
    suggestion_id = edge["node"]["id"].rsplit("/", 1)[-1]
    assert (
        await create_campaign_of_suggestion(resources.sessions, tenant.merchant_id, suggestion_id)
        is None
    )
    accepted = (await _data(analytics_client, ACCEPT, tenant, id=edge["node"]["id"]))[
        "campaignSuggestionAccept"
    ]
    assert [e["code"] for e in accepted["userErrors"]] == ["SUGGESTION_DECIDED"]
    unknown = (
        await _data(analytics_client, ACCEPT, tenant, id=gid("CampaignSuggestion", new_id()))
    )["campaignSuggestionAccept"]
    assert [e["code"] for e in unknown["userErrors"]] == ["SUGGESTION_NOT_FOUND"]


async def test_a_movement_of_a_few_customers_suggests_nothing(
    resources: Resources, tenant: Tenant
) -> None:
    now = await _slipping_champions(resources, tenant, service.MIN_CUSTOMERS - 1)
    assert await _suggest(resources, tenant, now) == 0


async def test_listing_suggestions_costs_the_same_statements_with_or_without_one(
    resources: Resources,
    tenant: Tenant,
    analytics_client: SubgraphClient,
    count_statements: StatementCounter,
) -> None:
    await _data(analytics_client, SUGGESTIONS, tenant)  # the viewer, resolved once
    before = count_statements.count
    empty = (await _data(analytics_client, SUGGESTIONS, tenant))["campaignSuggestions"]
    none_cost = count_statements.count - before

    now = await _slipping_champions(resources, tenant, 6)
    assert await _suggest(resources, tenant, now) == 1
    before = count_statements.count
    listed = (await _data(analytics_client, SUGGESTIONS, tenant))["campaignSuggestions"]
    one_cost = count_statements.count - before

    assert (len(empty["edges"]), len(listed["edges"])) == (0, 1)
    # Every field of a suggestion (its evidence, proposal, campaign) comes with the page.
    assert none_cost == one_cost == 1
