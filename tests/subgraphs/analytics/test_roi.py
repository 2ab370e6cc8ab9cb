"""Long because each figure is computed here from the scenario, independently of the database.

Is the program paying: `programReturn` and `pointsLiability` on a shop whose every order
and ledger row the test made, checked against the figures the definitions give for those
rows (computed here from the scenario, not read back from the database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from db.encryption_contexts import REWARD_REDEMPTIONS_CODE
from db.models import RewardKind
from db.session import tenant_unit_of_work
from subgraphs.analytics.orders.repository import OrderFactsRepository
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.expiry.service import expire_customer
from subgraphs.points.ledger import service as ledger
from subgraphs.points.program.calculation import EarnAction
from subgraphs.points.program.service import update_program_config
from subgraphs.points.rewards.redemption import RedeemCommand, redeem_reward
from subgraphs.points.rewards.service import RewardTerms, create_reward
from subgraphs.points.shopify import ShopifyConnector
from subgraphs.points.tiers.rules import TierRules
from subgraphs.points.tiers.service import TierDraft, create_tier
from subgraphs.referrals.conversions import service as conversions
from subgraphs.referrals.conversions.fraud import PartyFacts
from subgraphs.referrals.service import create_referral_link
from tests.conftest import StatementCounter, SubgraphClient, Tenant, add_customer
from tests.subgraphs.analytics.ledger_history import happened_at, purchase
from tests.subgraphs.analytics.rfm_shops import fact, record

START = datetime(2026, 10, 1, tzinfo=UTC)
END = START + timedelta(days=30)
CENT = Decimal("0.01")
RATIO = Decimal("0.0001")

RETURN = """query($start: DateTime!, $end: DateTime!) {
  programReturn(range: {start: $start, end: $end}) {
    orders revenue { amount currencyCode } influencedOrders revenueInfluenced { amount }
    influencedShare referralOrders referralRevenue { amount } referralContribution
    vip { orders customers revenue { amount } averageOrderValue { amount } ordersPerCustomer }
    nonVip { orders customers revenue { amount } averageOrderValue { amount } ordersPerCustomer }
    points { issued reversed redeemed expired } redemptionRate breakage
  }
}"""

LIABILITY = """{ pointsLiability {
  outstandingPoints valuePerPoint { amount currencyCode } valueBasis
  liability { amount } breakage expectedLiability { amount }
  lifetime { issued redeemed expired }
} }"""


@dataclass
class Placed:
    """One order of the scenario, and what the definitions say of it."""

    at: datetime
    customer: str | None
    total: Decimal
    refunded: Decimal = Decimal(0)
    cancelled: bool = False
    vip: bool = False
    engaged_before: bool = False  # the customer earned or spent points before it
    program_code: bool = False  # it used a code the program issued
    referred_friend: bool = False
    codes: tuple[str, ...] = ()

    @property
    def net(self) -> Decimal:
        return self.total - self.refunded


@dataclass
class Scenario:
    orders: list[Placed] = field(default_factory=list)
    # Points moved in the range: (when, points).
    issues: list[tuple[datetime, int]] = field(default_factory=list)
    redemptions: list[tuple[datetime, int]] = field(default_factory=list)
    expiries: list[tuple[datetime, int]] = field(default_factory=list)

    @property
    def issued(self) -> int:
        return sum(points for _, points in self.issues)

    @property
    def redeemed(self) -> int:
        return sum(points for _, points in self.redemptions)

    @property
    def expired(self) -> int:
        return sum(points for _, points in self.expiries)


async def roi_shop(resources: Resources, tenant: Tenant) -> Scenario:
    """Customers who engage, or not, before and inside [START, END)."""
    merchant = tenant.merchant_id
    connector = ShopifyConnector.for_process(resources)
    engaged, vip, lapsing, newcomer, cancelled_buyer, advocate, friend, welcomed = [
        await add_customer(resources, tenant) for _ in range(8)
    ]
    async with tenant_unit_of_work(resources.sessions, merchant) as session:
        # Plain earning (10 points a dollar), and points that expire 30 days after earning.
        await update_program_config(
            WriteContext(session, merchant),
            {
                "first_purchase": None,
                "rfm_multipliers": {},
                "expiry": {"kind": "after_earning", "days": 30},
            },
        )
        reward = await create_reward(
            WriteContext(session, merchant),
            RewardTerms(
                kind=RewardKind.FIXED_AMOUNT, title="$5 off", points_cost=50, value=Decimal("5")
            ),
            idempotency_key="roi:reward",
        )

    async def earn(customer: str, dollars: str, at: datetime) -> None:
        async with tenant_unit_of_work(resources.sessions, merchant) as session:
            await ledger.earn(session, merchant, purchase(customer, dollars, at), now=at)
        await happened_at(resources, merchant, at)

    async def redeem(customer: str, key: str, at: datetime) -> str:
        spent = await redeem_reward(
            resources, connector, merchant, RedeemCommand(customer, reward.id, key), now=at
        )
        await happened_at(resources, merchant, at)
        return resources.cipher.decrypt(
            spent.redemption.code_encrypted, context=REWARD_REDEMPTIONS_CODE
        )

    # Before the range: earning, points that will expire inside it, a staff gift (not the
    # member's doing), and a code the engaged member gets for 50 points and gives a guest.
    await earn(lapsing, "10", START - timedelta(days=20))
    await earn(engaged, "5", START - timedelta(days=10))
    code = await redeem(engaged, "roi:redeem:1", START - timedelta(days=5))
    # The signup bonus every account gets (200 points) is not the member engaging.
    welcome = START - timedelta(days=4)
    async with tenant_unit_of_work(resources.sessions, merchant) as session:
        await ledger.earn(
            session,
            merchant,
            ledger.EarnCommand(welcomed, EarnAction.SIGNUP, "roi:signup"),
            now=welcome,
        )
    await happened_at(resources, merchant, welcome)
    gifted = START - timedelta(days=3)
    async with tenant_unit_of_work(resources.sessions, merchant) as session:
        await ledger.adjust(
            session,
            merchant,
            ledger.AdjustCommand(vip, 500, "welcome gift", "roi:gift"),
            now=gifted,
        )
    await happened_at(resources, merchant, gifted)
    async with tenant_unit_of_work(resources.sessions, merchant) as session:
        # VIP from 300 points earned: only the gifted customer.
        await create_tier(
            WriteContext(session, merchant),
            TierDraft(names=[("en", "Gold")], rank=1, rules=TierRules(min_points_earned=300)),
            idempotency_key="roi:tier",
        )
        # The friend was referred and completed their referral before the range.
        link = await create_referral_link(session, merchant, advocate)
        await conversions.attribute(
            session,
            merchant,
            link.link.code,
            friend_customer_id=friend,
            friend=PartyFacts(),
            advocate=PartyFacts(),
            source=conversions.AttributionSource.CLAIM,
            now=START - timedelta(days=2),
        )
        completion = await conversions.complete(
            session,
            merchant,
            friend,
            conversions.QualifyingOrder("friend-first", Decimal("30"), START - timedelta(days=1)),
            now=START - timedelta(days=1),
        )
        assert completion is conversions.Completion.COMPLETED

    # Inside the range: a newcomer earns 200 and spends 50; the lapsing member's 100 expire.
    scenario = Scenario(
        issues=[(START + timedelta(days=2), 200)],
        redemptions=[(START + timedelta(days=3), 50)],
        expiries=[(START + timedelta(days=15), 100)],
    )
    await earn(newcomer, "20", START + timedelta(days=2))
    await redeem(newcomer, "roi:redeem:2", START + timedelta(days=3))
    expired_at = START + timedelta(days=15)
    async with tenant_unit_of_work(resources.sessions, merchant) as session:
        assert await expire_customer(session, merchant, lapsing, now=expired_at) is not None
    await happened_at(resources, merchant, expired_at)

    day = timedelta(days=1)
    scenario.orders = [
        Placed(START + day, engaged, Decimal(100), Decimal(20), engaged_before=True),
        Placed(START + 3 * day, None, Decimal(40), program_code=True, codes=(code.lower(),)),
        Placed(START + 4 * day, cancelled_buyer, Decimal(70), cancelled=True),
        Placed(START + 5 * day, vip, Decimal(60), vip=True),  # a gift is not engagement
        Placed(START + 6 * day, friend, Decimal(30), referred_friend=True),
        # The order the newcomer earned on does not count as engaged; their next one does.
        Placed(START + 2 * day, newcomer, Decimal(20)),
        Placed(START + 8 * day, newcomer, Decimal(25), engaged_before=True),
        Placed(START + 9 * day, welcomed, Decimal(45)),  # only the signup bonus before it
        # Outside the range.
        Placed(START - timedelta(seconds=1), engaged, Decimal(300), engaged_before=True),
        Placed(END, engaged, Decimal(999), engaged_before=True),
    ]
    await record(
        resources,
        tenant,
        [
            fact(
                9_000 + n,
                placed.customer,
                placed.at,
                str(placed.total),
                cancelled_at=placed.at if placed.cancelled else None,
                discount_codes=placed.codes,
            )
            for n, placed in enumerate(scenario.orders)
        ],
    )
    async with tenant_unit_of_work(resources.sessions, merchant) as session:
        facts = OrderFactsRepository(session, merchant)
        for n, placed in enumerate(scenario.orders):
            if placed.refunded:
                await facts.add_refund(str(9_000 + n), "refund-1", placed.refunded)
    return scenario


def _share(part: Decimal, whole: Decimal) -> str | None:
    return str((part / whole).quantize(RATIO)) if whole else None


def _expected_return(scenario: Scenario) -> dict[str, Any]:
    counted = [p for p in scenario.orders if START <= p.at < END and not p.cancelled]
    influenced = [p for p in counted if p.engaged_before or p.program_code or p.referred_friend]
    referred = [p for p in counted if p.referred_friend]

    def group(orders: list[Placed]) -> dict[str, Any]:
        revenue = sum((p.net for p in orders), Decimal(0))
        customers = {p.customer for p in orders}
        return {
            "orders": str(len(orders)),
            "customers": str(len(customers)),
            "revenue": {"amount": str(revenue)},
            "averageOrderValue": {"amount": str((revenue / len(orders)).quantize(CENT))},
            "ordersPerCustomer": str((Decimal(len(orders)) / len(customers)).quantize(RATIO)),
        }

    revenue = sum((p.net for p in counted), Decimal(0))
    influenced_revenue = sum((p.net for p in influenced), Decimal(0))
    referral_revenue = sum((p.net for p in referred), Decimal(0))
    return {
        "orders": str(len(counted)),
        "revenue": {"amount": str(revenue), "currencyCode": "USD"},
        "influencedOrders": str(len(influenced)),
        "revenueInfluenced": {"amount": str(influenced_revenue)},
        "influencedShare": _share(influenced_revenue, revenue),
        "referralOrders": str(len(referred)),
        "referralRevenue": {"amount": str(referral_revenue)},
        "referralContribution": _share(referral_revenue, revenue),
        "vip": group([p for p in counted if p.vip]),
        "nonVip": group([p for p in counted if not p.vip and p.customer is not None]),
        "points": {
            "issued": str(scenario.issued),
            "reversed": "0",
            "redeemed": str(scenario.redeemed),
            "expired": str(scenario.expired),
        },
        "redemptionRate": _share(Decimal(scenario.redeemed), Decimal(scenario.issued)),
        "breakage": _share(Decimal(scenario.expired), Decimal(scenario.issued)),
    }


def _money_amounts(value: Any) -> Any:
    """The response with every amount normalised (\"80.00\" and \"80\" are the same money)."""
    if isinstance(value, dict):
        return {
            key: str(Decimal(item).normalize()) if key == "amount" else _money_amounts(item)
            for key, item in value.items()
        }
    return value


async def _data(client: SubgraphClient, query: str, tenant: Tenant, **variables: Any) -> Any:
    body = await client.execute(query, variables, tenant=tenant)
    assert "errors" not in body, body
    return body["data"]


async def test_the_return_of_a_range_counts_what_the_program_influenced(
    resources: Resources, tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    scenario = await roi_shop(resources, tenant)

    got = await _data(
        analytics_client, RETURN, tenant, start=START.isoformat(), end=END.isoformat()
    )

    assert _money_amounts(got["programReturn"]) == _money_amounts(_expected_return(scenario))
    # A range in another offset is the same instants.
    local = START.astimezone(datetime.fromisoformat("2026-10-01T00:00:00-04:00").tzinfo)
    again = await _data(
        analytics_client,
        RETURN,
        tenant,
        start=local.isoformat(),
        end=END.isoformat(),
    )
    assert again == got


async def test_the_liability_values_held_points_at_what_rewards_gave_per_point(
    resources: Resources, tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    await roi_shop(resources, tenant)

    owed = (await _data(analytics_client, LIABILITY, tenant))["pointsLiability"]

    # Held: the gift's 500, the newcomer's 150 left and the signup bonus; the rest was spent
    # or expired.
    held = 500 + 150 + 200
    issued = 50 + 100 + 500 + 200 + 200  # earned, the gift and the signup bonus
    # Two $5 codes for 50 points each: 10 cents a point.
    per_point = Decimal(10) / Decimal(100)
    breakage = (Decimal(100) / issued).quantize(RATIO)
    liability = (per_point * held).quantize(CENT)
    assert owed["outstandingPoints"] == str(held)
    assert Decimal(owed["valuePerPoint"]["amount"]) == per_point
    assert owed["valuePerPoint"]["currencyCode"] == "USD"
    assert owed["valueBasis"] == "REDEMPTIONS"
    assert Decimal(owed["liability"]["amount"]) == liability
    assert owed["breakage"] == str(breakage)
    assert Decimal(owed["expectedLiability"]["amount"]) == (liability * (1 - breakage)).quantize(
        CENT
    )
    assert owed["lifetime"] == {"issued": str(issued), "redeemed": "100", "expired": "100"}


async def test_without_redemptions_a_point_is_worth_the_most_the_catalog_gives(
    resources: Resources, tenant: Tenant, other_tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    await add_customer(resources, tenant, points=1_000)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        for cost, value in ((500, "4"), (300, "3"), (100, "0.50")):
            await create_reward(
                WriteContext(session, tenant.merchant_id),
                RewardTerms(
                    kind=RewardKind.FIXED_AMOUNT,
                    title=f"${value} off",
                    points_cost=cost,
                    value=Decimal(value),
                ),
                idempotency_key=f"roi:catalog:{cost}",
            )

    owed = (await _data(analytics_client, LIABILITY, tenant))["pointsLiability"]
    assert owed["valueBasis"] == "CATALOG"
    assert Decimal(owed["valuePerPoint"]["amount"]) == Decimal("0.01")  # $3 for 300
    assert Decimal(owed["liability"]["amount"]) == Decimal("10.00")

    # A shop with neither says so rather than guessing.
    nothing = (await _data(analytics_client, LIABILITY, other_tenant))["pointsLiability"]
    assert nothing["valueBasis"] == "NONE"
    assert nothing["valuePerPoint"] is None
    assert nothing["liability"] is None
    assert nothing["outstandingPoints"] == "0"
    assert nothing["breakage"] is None


async def test_a_bad_range_is_refused_with_its_reason(
    tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    for start, end, reason in (
        (END, START, "end must be after start"),
        (START, START + timedelta(days=800), "at most 731 days"),
        (START.replace(tzinfo=None), END, "time zone offset"),
    ):
        body = await analytics_client.execute(
            RETURN, {"start": start.isoformat(), "end": end.isoformat()}, tenant=tenant
        )
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", body
        assert reason in error["message"]


async def test_the_return_costs_the_same_statements_for_a_busy_shop_as_for_an_empty_one(
    resources: Resources,
    tenant: Tenant,
    other_tenant: Tenant,
    analytics_client: SubgraphClient,
    count_statements: StatementCounter,
) -> None:
    await roi_shop(resources, tenant)
    costs = []
    for shop in (tenant, other_tenant):
        before = count_statements.count
        await _data(analytics_client, RETURN, shop, start=START.isoformat(), end=END.isoformat())
        await _data(analytics_client, LIABILITY, shop)
        costs.append(count_statements.count - before)
    assert costs[0] == costs[1], costs


async def test_a_range_without_orders_shows_money_to_the_cent(
    other_tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    """A dashboard prints the amount it gets: nothing sold reads 0.00, like any amount."""
    got = (
        await _data(
            analytics_client, RETURN, other_tenant, start=START.isoformat(), end=END.isoformat()
        )
    )["programReturn"]
    assert got["revenue"] == {"amount": "0.00", "currencyCode": "USD"}
    assert got["revenueInfluenced"] == {"amount": "0.00"}
    assert got["influencedShare"] is None
