"""rateLimitStatus reports the shop's last Shopify throttle reading, and only its own."""

from __future__ import annotations

from datetime import UTC, datetime

from subgraphs.kit.integrations.shopify_admin import ThrottleStatus
from subgraphs.kit.integrations.shopify_rate_limits import RateLimitMonitor
from subgraphs.kit.resources import Resources
from tests.conftest import SubgraphClient, Tenant

STATUS = "{ rateLimitStatus { usedPercent currentlyAvailable maximumAvailable nearLimit } }"


async def test_reports_the_last_reading_of_the_viewers_shop(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    before = await points_client.execute(STATUS, tenant=tenant)
    assert before["data"]["rateLimitStatus"] is None

    reading = ThrottleStatus(
        maximum_available=2000.0,
        currently_available=60.0,
        restore_rate=100.0,
        observed_at=datetime.now(UTC),
    )
    await RateLimitMonitor(resources.redis).record(tenant.merchant_id, reading)

    mine = await points_client.execute(STATUS, tenant=tenant)
    theirs = await points_client.execute(STATUS, tenant=other_tenant)
    assert mine["data"]["rateLimitStatus"] == {
        "usedPercent": 97.0,
        "currentlyAvailable": 60.0,
        "maximumAvailable": 2000.0,
        "nearLimit": True,
    }
    assert theirs["data"]["rateLimitStatus"] is None
