"""The staff view: LoyalNest staff with admin:analytics compare shops — each shop's numbers
as its own dashboard reads them, unknown domains reported, every shop's read in its own
audit trail — and nobody else may."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from db.session import tenant_unit_of_work
from subgraphs.kit.api_keys import create_api_key
from subgraphs.kit.permissions import Capability
from subgraphs.kit.resources import Resources
from tests.conftest import StatementCounter, SubgraphClient, Tenant, add_customer, new_tenant
from tests.subgraphs.admin.test_admin_permissions import staff_headers

COMPARE = """query($domains: [String!]!) {
  shopComparison(shopDomains: $domains) {
    unknownShopDomains
    shops {
      shopDomain installed
      loyaltyMetrics {
        membersCount pointsIssued pointsRedeemed rewardsRedeemed
        segmentCounts { segment customerCount }
      }
      churnModel { status reason sampleSize auc }
    }
  }
}"""

OWN_DASHBOARD = """{
  rfmSegmentCounts { segment customerCount }
  churnModel { status reason sampleSize auc }
}"""


async def _audited(resources: Resources, shop: Tenant) -> list[tuple[str, str | None, Any]]:
    async with tenant_unit_of_work(resources.sessions, shop.merchant_id) as session:
        rows = await session.execute(
            text(
                "SELECT action, actor_id, metadata FROM audit_logs"
                " WHERE action = 'staff_shops_compared'"
            )
        )
        return [(str(action), actor, metadata) for action, actor, metadata in rows]


async def test_staff_compare_shops_as_each_reads_itself_and_each_shop_records_it(
    resources: Resources,
    tenant: Tenant,
    other_tenant: Tenant,
    analytics_client: SubgraphClient,
) -> None:
    await add_customer(resources, tenant, points=100)
    await add_customer(resources, tenant, points=50)
    await add_customer(resources, other_tenant, points=30)
    # The analyst acts on a third shop, which is not compared.
    home = await new_tenant(resources)
    domains = [
        f"  {tenant.shop_domain.upper()} ",
        other_tenant.shop_domain,
        "nobody-here.myshopify.com",
        tenant.shop_domain,
    ]

    body = await analytics_client.execute(
        COMPARE, {"domains": domains}, headers=staff_headers(resources, home, "admin:analytics")
    )

    assert "errors" not in body, body
    comparison = body["data"]["shopComparison"]
    assert comparison["unknownShopDomains"] == ["nobody-here.myshopify.com"]
    shops = comparison["shops"]
    assert [shop["shopDomain"] for shop in shops] == [tenant.shop_domain, other_tenant.shop_domain]
    for shop, (members, issued) in zip(shops, ((2, 150), (1, 30)), strict=True):
        assert shop["installed"] is True
        metrics = shop["loyaltyMetrics"]
        assert (metrics["membersCount"], metrics["pointsIssued"]) == (str(members), str(issued))
        assert (metrics["pointsRedeemed"], metrics["rewardsRedeemed"]) == ("0", "0")
    for shop, owner in zip(shops, (tenant, other_tenant), strict=True):
        own = await analytics_client.execute(OWN_DASHBOARD, tenant=owner)
        assert "errors" not in own, own
        assert shop["loyaltyMetrics"]["segmentCounts"] == own["data"]["rfmSegmentCounts"]
        assert shop["churnModel"] == own["data"]["churnModel"]

    # Each compared shop has the read in its own trail, by the analyst, naming no other shop.
    for shop in (tenant, other_tenant):
        assert await _audited(resources, shop) == [
            ("staff_shops_compared", "staff:s-1", {"field": "shopComparison", "shops": 2})
        ]
    assert await _audited(resources, home) == []


async def test_nobody_but_analytics_staff_with_mfa_may_compare_shops(
    resources: Resources,
    tenant: Tenant,
    other_tenant: Tenant,
    analytics_client: SubgraphClient,
) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        key = await create_api_key(
            session, tenant.merchant_id, label="BI tool", scopes=[Capability.READ_ANALYTICS]
        )
    refused = {
        "merchant": tenant.headers,
        "API key": {"authorization": f"Bearer {key.key}"},
        "support staff": staff_headers(resources, tenant, "admin:support"),
        "staff without MFA": staff_headers(resources, tenant, "admin:analytics", mfa=False),
    }
    for who, headers in refused.items():
        body = await analytics_client.execute(
            COMPARE, {"domains": [tenant.shop_domain, other_tenant.shop_domain]}, headers=headers
        )
        assert body["data"] is None, who
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN", (who, body)
        if who == "staff without MFA":
            assert "multi-factor" in error["message"]
    for shop in (tenant, other_tenant):
        assert await _audited(resources, shop) == []


@pytest.mark.parametrize("count", [0, 11])
async def test_one_to_ten_shops_or_a_coded_refusal(
    resources: Resources, tenant: Tenant, analytics_client: SubgraphClient, count: int
) -> None:
    domains = [f"shop-{n}.myshopify.com" for n in range(count)]
    body = await analytics_client.execute(
        COMPARE, {"domains": domains}, headers=staff_headers(resources, tenant, "admin:analytics")
    )
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    assert "give 1 to 10 shop domains" in error["message"]


async def test_unknown_and_odd_domains_are_reported_not_failed(
    resources: Resources, tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    odd = ["", "x" * 5000, "not a domain", "shop'; drop table merchants; --"]
    body = await analytics_client.execute(
        COMPARE, {"domains": odd}, headers=staff_headers(resources, tenant, "admin:full")
    )
    assert "errors" not in body, body
    assert body["data"]["shopComparison"] == {"unknownShopDomains": odd, "shops": []}


async def test_each_shop_costs_the_same_statements(
    resources: Resources,
    tenant: Tenant,
    other_tenant: Tenant,
    analytics_client: SubgraphClient,
    count_statements: StatementCounter,
) -> None:
    headers = staff_headers(resources, tenant, "admin:analytics")
    await analytics_client.execute(COMPARE, {"domains": [tenant.shop_domain]}, headers=headers)
    costs = []
    for domains in ([tenant.shop_domain], [tenant.shop_domain, other_tenant.shop_domain]):
        before = count_statements.count
        body = await analytics_client.execute(COMPARE, {"domains": domains}, headers=headers)
        assert "errors" not in body, body
        costs.append(count_statements.count - before)
    one_shop, two_shops = costs
    per_shop = two_shops - one_shop
    # The lookup's transaction once, then each shop alike (its domain, its reads, its entry).
    assert one_shop == per_shop + 1, costs
