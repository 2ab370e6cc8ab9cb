"""RFM through the one endpoint: a customer whose orders make them a Champion (order facts
scored by analytics' nightly pass) earns with the Champions multiplier in pointsCalculate,
and a campaign for Champions applies to them — the trace names the segment — while the
federated Customer shows the scores analytics computed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from db.session import tenant_unit_of_work
from subgraphs.analytics.rfm.jobs import recompute_all
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.program.service import update_program_config
from tests.conftest import Tenant, add_customer

# The router client fixture and the GraphQL helper of the points program's e2e tests.
from tests.e2e.test_points_program import graphql, http  # noqa: F401
from tests.ids import gid
from tests.subgraphs.analytics.rfm_shops import fact, record

CALCULATE = """query($input: PointsCalculateInput!) { pointsCalculate(input: $input) {
  calculation { points explanation { rule applied detail } } userErrors { code } } }"""
CUSTOMER = """query($id: ID!) { customer(id: $id) {
  rfmSegment rfm { recency frequency monetary segment } } }"""


def _steps(body: dict[str, Any]) -> dict[str, tuple[bool, str]]:
    steps = body["pointsCalculate"]["calculation"]["explanation"]
    return {step["rule"]: (step["applied"], step["detail"]) for step in steps}


async def test_a_customer_who_becomes_a_champion_earns_as_one(
    http: httpx.AsyncClient,  # noqa: F811 - the fixture imported above
    resources: Resources,
    tenant: Tenant,
) -> None:
    now = datetime.now(UTC)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        # 10 points a dollar, Champions x1.5 (the program's default), no first-purchase bonus.
        await update_program_config(
            WriteContext(session, tenant.merchant_id), {"first_purchase": None}
        )
    created = await graphql(
        http,
        tenant,
        """mutation($input: CampaignCreateInput!) { campaignCreate(input: $input) {
             campaign { id } userErrors { code message } } }""",
        {
            "input": {
                "name": "Champions double",
                "kind": "DOUBLE_POINTS",
                "multiplier": "2",
                "startsAt": (now - timedelta(days=1)).isoformat(),
                "endsAt": (now + timedelta(days=7)).isoformat(),
                "idempotencyKey": "champions-double",
                "conditions": {"rfmSegments": ["Champions"]},
            }
        },
    )
    assert created["campaignCreate"]["userErrors"] == []
    champion = await add_customer(resources, tenant)
    others = [await add_customer(resources, tenant) for _ in range(10)]
    order = {
        "customerId": gid("Customer", champion),
        "order": {
            "id": "rfm-e2e-1",
            "currencyCode": "USD",
            "lines": [{"id": "a", "quantity": 1, "amount": "20.00"}],
        },
    }

    before = await graphql(http, tenant, CALCULATE, {"input": order})
    assert before["pointsCalculate"]["calculation"]["points"] == 200
    assert _steps(before)["rfm_multiplier"] == (False, "no RFM segment yet")
    assert _steps(before)["campaign:Champions double"][0] is False

    # Eight recent $100 orders against a shop of one-off $50 buyers: R5, F4 (7+), M5.
    await record(
        resources,
        tenant,
        [fact(9000 + k, champion, now - timedelta(days=2 * k + 1), "100.00") for k in range(8)]
        + [fact(9100 + n, c, now - timedelta(days=40), "50.00") for n, c in enumerate(others)],
    )
    await recompute_all(resources, now=now)

    seen = await graphql(http, tenant, CUSTOMER, {"id": gid("Customer", champion)})
    assert seen["customer"] == {
        "rfmSegment": "Champions",
        "rfm": {"recency": 5, "frequency": 4, "monetary": 5, "segment": "Champions"},
    }
    after = await graphql(http, tenant, CALCULATE, {"input": order})
    steps = _steps(after)
    assert steps["rfm_multiplier"] == (True, "Champions earn x1.5")
    assert steps["campaign:Champions double"] == (True, "x2.00 points for Champions")
    assert after["pointsCalculate"]["calculation"]["points"] == 200 * 3
