"""Long because an order's whole life (earn, explain, refund, cancel, the balance cap) is here.

Orders earn by the program's rules, explain themselves, and give back exactly what a refund or
cancellation takes — never more than the balance holds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from db.ids import new_id
from db.models import BonusCampaign
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from tests.conftest import SubgraphClient, Tenant, add_customer
from tests.ids import gid
from tests.subgraphs.points.ledger_helpers import ledger_state, set_customer_facts

TRANSACTION_FIELDS = """
  transaction {
    id kind points source orderId explanation { rule applied detail points multiplier }
  }
  customer { id pointsBalance totalPointsEarned }
  userErrors { field message code }
"""


def mutation(name: str, input_type: str) -> str:
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {TRANSACTION_FIELDS} }} }}"


EARN = mutation("pointsEarn", "PointsEarnInput")
REVERSE = mutation("pointsReverse", "PointsReverseInput")
ADJUST = mutation("pointsAdjust", "PointsAdjustInput")
SETTINGS = """
mutation($input: ProgramSettingsUpdateInput!) {
  programSettingsUpdate(input: $input) {
    programSettings {
      version pointsName earning {
        purchasePointsPerUnit goalSpend { threshold { amount currencyCode } points }
      }
    }
    userErrors { field message code }
  }
}
"""
CALCULATE = """
query($input: PointsCalculateInput!) {
  pointsCalculate(input: $input) {
    calculation { points multiplier currencyCode bonusPoints lines { lineId points }
                  explanation { rule applied detail points multiplier } }
    userErrors { field message code }
  }
}
"""
HISTORY = """
query($id: ID!) {
  customer(id: $id) {
    pointsTransactions(first: 10) {
      edges { node { kind points explanation { rule applied detail } } }
    }
  }
}
"""


def order(order_id: str, *amounts: str, currency: str = "USD", **extra: Any) -> dict[str, Any]:
    return {
        "id": order_id,
        "currencyCode": currency,
        "lines": [
            {"id": f"{order_id}-L{n}", "quantity": 1, "amount": amount}
            for n, amount in enumerate(amounts, start=1)
        ],
        **extra,
    }


async def configure(client: SubgraphClient, tenant: Tenant, **settings: Any) -> None:
    """A plain program unless a test asks otherwise: 10 points per USD, no dynamic bonus."""
    settings = {"firstPurchase": None, "rfmMultipliers": [], **settings}
    result = await client.execute(SETTINGS, {"input": settings}, tenant=tenant)
    assert result["data"]["programSettingsUpdate"]["userErrors"] == [], result


async def earn(
    client: SubgraphClient, tenant: Tenant, customer_id: str, order_input: dict[str, Any], key: str
) -> dict[str, Any]:
    result = await client.execute(
        EARN,
        {
            "input": {
                "customerId": gid("Customer", customer_id),
                "order": order_input,
                "idempotencyKey": key,
            }
        },
        tenant=tenant,
    )
    payload: dict[str, Any] = result["data"]["pointsEarn"]
    return payload


def rules(explanation: list[dict[str, Any]]) -> dict[str, bool]:
    return {step["rule"]: step["applied"] for step in explanation}


async def test_one_key_sent_twenty_times_at_once_earns_once(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    await configure(points_client, tenant)
    customer_id = await add_customer(resources, tenant)
    the_order = order("1001", "25.00")

    payloads = await asyncio.gather(
        *(earn(points_client, tenant, customer_id, the_order, "order:1001:earn") for _ in range(20))
    )

    assert {p["transaction"]["id"] for p in payloads} != {None}
    assert len({p["transaction"]["id"] for p in payloads}) == 1
    assert all(p["userErrors"] == [] for p in payloads)
    state = await ledger_state(resources, tenant, customer_id)
    assert (state.balance, state.rows) == (250, 1)
    assert state.consistent


async def test_an_order_earns_once_whatever_the_key(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    await configure(points_client, tenant)
    customer_id = await add_customer(resources, tenant)
    await earn(points_client, tenant, customer_id, order("1002", "10.00"), "orders/create:1002")

    second = await earn(
        points_client, tenant, customer_id, order("1002", "10.00"), "orders/paid:1002"
    )

    assert second["userErrors"][0]["code"] == "ORDER_ALREADY_EARNED"
    assert (await ledger_state(resources, tenant, customer_id)).balance == 100


async def test_a_refund_of_one_line_out_of_three_reverses_exactly_that_line(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    await configure(points_client, tenant)
    customer_id = await add_customer(resources, tenant)
    earned = await earn(
        points_client, tenant, customer_id, order("2001", "12.50", "30.00", "7.25"), "e:2001"
    )
    assert earned["transaction"]["points"] == 125 + 300 + 72

    result = await points_client.execute(
        REVERSE,
        {
            "input": {
                "orderId": "2001",
                "idempotencyKey": "refund:9001",
                "reason": "refund",
                "lines": [{"lineId": "2001-L2", "quantity": 1}],
            }
        },
        tenant=tenant,
    )

    payload = result["data"]["pointsReverse"]
    assert payload["userErrors"] == []
    assert payload["transaction"]["points"] == -300
    assert payload["customer"]["pointsBalance"] == str(125 + 72)
    steps = rules(payload["transaction"]["explanation"])
    assert steps["line:2001-L2"] is True
    assert "line:2001-L1" not in steps
    assert (await ledger_state(resources, tenant, customer_id)).consistent


async def test_partial_refunds_are_proportional_and_never_take_a_line_twice(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    await configure(points_client, tenant)
    customer_id = await add_customer(resources, tenant)
    await earn(points_client, tenant, customer_id, order("2101", "40.00"), "e:2101")  # 400 points

    async def refund(key: str, amount: str) -> int:
        result = await points_client.execute(
            REVERSE,
            {
                "input": {
                    "orderId": "2101",
                    "idempotencyKey": key,
                    "reason": "partial refund",
                    "lines": [{"lineId": "2101-L1", "amount": amount}],
                }
            },
            tenant=tenant,
        )
        payload = result["data"]["pointsReverse"]
        assert payload["userErrors"] == [], payload
        points: int = payload["transaction"]["points"]
        return points

    assert await refund("refund:a", "10.00") == -100
    assert await refund("refund:a", "10.00") == -100  # a retried webhook takes nothing more
    assert await refund("refund:b", "25.00") == -250
    assert await refund("refund:c", "25.00") == -50  # only 5.00 of the line was left
    state = await ledger_state(resources, tenant, customer_id)
    assert (state.balance, state.consistent) == (0, True)


async def test_a_cancellation_after_a_redemption_leaves_zero_and_says_why(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    await configure(points_client, tenant)
    customer_id = await add_customer(resources, tenant)
    await earn(points_client, tenant, customer_id, order("3001", "50.00"), "e:3001")  # 500
    reward = await points_client.execute(
        """mutation { rewardCreate(input: {kind: FIXED_AMOUNT, title: "$4.50 off",
             pointsCost: 450, value: "4.5", idempotencyKey: "reward:4.50"}) {
             reward { id } userErrors { code } } }""",
        tenant=tenant,
    )
    redeemed = await points_client.execute(
        """mutation($input: RewardRedeemInput!) { rewardRedeem(input: $input) {
             redemption { status } userErrors { code } } }""",
        {
            "input": {
                "customerId": gid("Customer", customer_id),
                "rewardId": reward["data"]["rewardCreate"]["reward"]["id"],
                "idempotencyKey": "redeem:1",
            }
        },
        tenant=tenant,
    )
    assert redeemed["data"]["rewardRedeem"]["redemption"]["status"] == "ISSUED"

    result = await points_client.execute(
        REVERSE,
        {"input": {"orderId": "3001", "idempotencyKey": "order:3001:cancel"}},
        tenant=tenant,
    )

    payload = result["data"]["pointsReverse"]
    assert payload["userErrors"] == []
    assert payload["transaction"]["points"] == -50
    assert payload["customer"]["pointsBalance"] == "0"
    clawback = next(s for s in payload["transaction"]["explanation"] if s["rule"] == "clawback")
    assert "owed 500" in clawback["detail"]
    assert "450 already spent" in clawback["detail"]
    state = await ledger_state(resources, tenant, customer_id)
    assert (state.balance, state.consistent) == (0, True)

    # Points earned later are not clawed back by a retried cancellation.
    await earn(points_client, tenant, customer_id, order("3002", "5.00"), "e:3002")
    again = await points_client.execute(
        REVERSE,
        {"input": {"orderId": "3001", "idempotencyKey": "order:3001:cancel"}},
        tenant=tenant,
    )
    assert again["data"]["pointsReverse"]["transaction"]["points"] == -50
    assert (await ledger_state(resources, tenant, customer_id)).balance == 50


async def test_reversing_an_order_that_never_earned_is_a_user_error(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    result = await points_client.execute(
        REVERSE, {"input": {"orderId": "nope", "idempotencyKey": "x"}}, tenant=tenant
    )
    assert result["data"]["pointsReverse"]["userErrors"][0]["code"] == "ORDER_NOT_EARNED"


async def add_campaign(resources: Resources, tenant: Tenant, **fields: Any) -> None:
    now = datetime.now(UTC)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        session.add(
            BonusCampaign(
                merchant_id=tenant.merchant_id,
                id=new_id(),
                starts_at=now - timedelta(days=1),
                ends_at=now + timedelta(days=1),
                **fields,
            )
        )


async def test_calculation_under_a_campaign_and_an_rfm_multiplier_names_every_rule(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    await configure(
        points_client,
        tenant,
        rfmMultipliers=[{"segment": "Champions", "multiplier": "1.5"}],
        earning={"goalSpend": {"threshold": "100", "points": 200}},
    )
    await add_campaign(
        resources, tenant, name="Double Weekend", kind="double_points", multiplier=Decimal(2)
    )
    await add_campaign(
        resources,
        tenant,
        name="EU only",
        kind="double_points",
        multiplier=Decimal(3),
        conditions={"regions": ["EU"]},
    )
    customer_id = await add_customer(resources, tenant)
    await set_customer_facts(
        resources, tenant, customer_id, rfm_segment="Champions", country_code="US"
    )
    the_order = order("4001", "60.00", "60.00")

    result = await points_client.execute(
        CALCULATE,
        {"input": {"customerId": gid("Customer", customer_id), "order": the_order}},
        tenant=tenant,
    )

    calculation = result["data"]["pointsCalculate"]["calculation"]
    # 120 USD x 10 points x 1.5 (Champions) x 2 (campaign) + 200 goal bonus.
    assert calculation["points"] == 3600 + 200
    assert Decimal(calculation["multiplier"]) == Decimal(3)
    assert calculation["bonusPoints"] == 200
    applied = rules(calculation["explanation"])
    assert applied == {
        "channel": True,
        "purchase": True,
        "rfm_multiplier": True,
        "first_purchase_multiplier": False,
        "campaign:Double Weekend": True,
        "campaign:EU only": False,
        "goal_spend": True,
    }
    eu = next(s for s in calculation["explanation"] if s["rule"] == "campaign:EU only")
    assert "US" in eu["detail"]

    earned = await earn(points_client, tenant, customer_id, the_order, "e:4001")
    assert earned["transaction"]["points"] == calculation["points"]
    history = await points_client.execute(
        HISTORY, {"id": gid("Customer", customer_id)}, tenant=tenant
    )
    stored = history["data"]["customer"]["pointsTransactions"]["edges"][0]["node"]["explanation"]
    assert stored == [
        {"rule": s["rule"], "applied": s["applied"], "detail": s["detail"]}
        for s in calculation["explanation"]
    ]


async def test_an_order_that_earns_nothing_says_why(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    await configure(points_client, tenant, channels=["ONLINE"])
    customer_id = await add_customer(resources, tenant)

    earned = await earn(
        points_client, tenant, customer_id, order("5001", "80.00", channel="POS"), "e:5001"
    )

    assert earned["transaction"]["points"] == 0
    assert (
        earned["transaction"]["explanation"][0]["detail"]
        == "pos orders do not earn in this program"
    )


async def test_presentment_currency_converts_and_unknown_currency_is_refused(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    await configure(points_client, tenant, currencyRates=[{"currencyCode": "EUR", "rate": "0.5"}])
    customer_id = await add_customer(resources, tenant)

    euros = await earn(
        points_client, tenant, customer_id, order("6001", "10.00", currency="EUR"), "e:6001"
    )
    yen = await earn(
        points_client, tenant, customer_id, order("6002", "10.00", currency="JPY"), "e:6002"
    )

    assert euros["transaction"]["points"] == 200  # 10 EUR = 20 USD
    assert yen["userErrors"][0]["code"] == "UNSUPPORTED_CURRENCY"
    assert yen["userErrors"][0]["field"] == ["input", "order", "currency"]


async def test_first_purchase_multiplier_applies_to_the_first_order_only(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    await configure(points_client, tenant, firstPurchase={"multiplier": "2", "withinHours": 24})
    customer_id = await add_customer(resources, tenant)

    first = await earn(points_client, tenant, customer_id, order("7001", "10.00"), "e:7001")
    second = await earn(points_client, tenant, customer_id, order("7002", "10.00"), "e:7002")

    assert (first["transaction"]["points"], second["transaction"]["points"]) == (200, 100)


async def test_invalid_settings_are_refused_and_change_nothing(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    result = await points_client.execute(
        SETTINGS, {"input": {"expiry": {"kind": "AFTER_EARNING"}}}, tenant=tenant
    )
    payload = result["data"]["programSettingsUpdate"]
    assert payload["programSettings"] is None
    assert payload["userErrors"][0]["code"] == "INVALID_SETTINGS"
    assert "days is required" in payload["userErrors"][0]["message"]

    stale = await points_client.execute(
        SETTINGS, {"input": {"pointsName": "Stars", "expectedVersion": 41}}, tenant=tenant
    )
    assert stale["data"]["programSettingsUpdate"]["userErrors"][0]["code"] == (
        "SETTINGS_VERSION_CONFLICT"
    )
    saved = await points_client.execute(SETTINGS, {"input": {"pointsName": "Stars"}}, tenant=tenant)
    assert saved["data"]["programSettingsUpdate"]["programSettings"]["pointsName"] == "Stars"
