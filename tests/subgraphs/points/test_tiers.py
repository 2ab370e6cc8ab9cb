"""Long because tier moves are pinned for every trigger (earning, edits, deletes, the preview).

VIP tiers: editing them through GraphQL, customers moving between tiers when they earn and
when the tiers change, the preview over real customers, and tenant isolation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from db.ids import new_id
from db.models import AuditLog, Customer, VipTier
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.points.ledger.service import EarnCommand, earn
from subgraphs.points.program.calculation import EarnAction
from subgraphs.points.tiers.service import recalculate_all_tiers, recalculate_tiers
from tests.conftest import StatementCounter, SubgraphClient, Tenant, add_customer
from tests.ids import gid, gid_or_none, row_id
from tests.subgraphs.points.ledger_helpers import set_customer_facts

TIER_FIELDS = """
id rank names { locale value } name nameFr: name(locale: "fr") nameHe: name(locale: "he")
rules { minPointsEarned minRfmScore minTotalSpent { amount currencyCode } }
benefits { discountPercent freeShipping }
"""
CREATE = f"""
mutation($input: VipTierCreateInput!) {{ vipTierCreate(input: $input) {{
  vipTier {{ {TIER_FIELDS} }} reassignedCustomers userErrors {{ field message code }}
}} }}
"""
UPDATE = f"""
mutation($input: VipTierUpdateInput!) {{ vipTierUpdate(input: $input) {{
  vipTier {{ {TIER_FIELDS} }} reassignedCustomers userErrors {{ field message code }}
}} }}
"""
DELETE = """
mutation($input: VipTierDeleteInput!) { vipTierDelete(input: $input) {
  deletedVipTierId reassignedCustomers userErrors { field message code }
} }
"""
TIERS = f"{{ vipTiers {{ {TIER_FIELDS} }} }}"
PREVIEW = """
query($input: VipTierPreviewInput!) { vipTierPreview(input: $input) {
  distribution { tierId tierName tierNameFr: tierName(locale: "fr") rank customers }
  noTierCount customerCount
  sample { customerId tierId tierName }
  userErrors { field message code }
} }
"""
WRITES = {"INSERT", "UPDATE", "DELETE", "MERGE", "COPY"}
CUSTOMER_TIER = "query($id: ID!) { customer(id: $id) { vipTier { id name } } }"


def tier_input(name: str, rank: int, rules: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A tier's fields, as vipTierCreate takes them (with ``keyed``) and previews draft them."""
    return {"names": [{"locale": "en", "value": name}], "rank": rank, "rules": rules, **extra}


def keyed(tier: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    """A vipTierCreate input: the tier under ``key`` (a fresh one by default)."""
    return {**tier, "idempotencyKey": key or f"test:tier:{new_id()}"}


async def data(
    client: SubgraphClient, tenant: Tenant, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    body = await client.execute(query, variables, tenant=tenant)
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


async def create_tier(
    client: SubgraphClient, tenant: Tenant, name: str, rank: int, rules: dict[str, Any]
) -> dict[str, Any]:
    result = await data(client, tenant, CREATE, {"input": keyed(tier_input(name, rank, rules))})
    payload: dict[str, Any] = result["vipTierCreate"]
    assert payload["userErrors"] == []
    return payload


async def tier_ids(resources: Resources, tenant: Tenant, *customer_ids: str) -> list[str | None]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        result = await session.execute(
            select(Customer.id, Customer.vip_tier_id).where(
                Customer.merchant_id == tenant.merchant_id, Customer.id.in_(customer_ids)
            )
        )
        rows = {customer_id: tier_id for customer_id, tier_id in result}
    return [gid_or_none("VipTier", rows[customer_id]) for customer_id in customer_ids]


async def audit_entries(resources: Resources, tenant: Tenant, action: str) -> list[dict[str, Any]]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.scalars(
            select(AuditLog.metadata_)
            .where(AuditLog.merchant_id == tenant.merchant_id, AuditLog.action == action)
            .order_by(AuditLog.id)
        )
        return list(rows)


async def test_tiers_are_listed_by_rank_with_localized_names(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    gold = tier_input(
        "Gold",
        2,
        {"minPointsEarned": 1000, "minTotalSpent": "500.00", "minRfmScore": "4.5"},
        benefits={"discountPercent": "10", "freeShipping": True},
    )
    gold["names"].append({"locale": "fr", "value": "Or"})
    created = await data(points_client, tenant, CREATE, {"input": keyed(gold)})
    await create_tier(points_client, tenant, "Silver", 1, {"minPointsEarned": 100})

    assert created["vipTierCreate"]["userErrors"] == []
    tiers = (await data(points_client, tenant, TIERS))["vipTiers"]
    assert [tier["name"] for tier in tiers] == ["Silver", "Gold"]
    gold_tier = tiers[1]
    assert gold_tier["id"] == created["vipTierCreate"]["vipTier"]["id"]
    assert gold_tier["names"] == [
        {"locale": "en", "value": "Gold"},
        {"locale": "fr", "value": "Or"},
    ]
    assert (gold_tier["nameFr"], gold_tier["nameHe"]) == ("Or", "Gold")  # he falls back to en
    assert gold_tier["rules"] == {
        "minPointsEarned": 1000,
        "minRfmScore": "4.5",
        "minTotalSpent": {"amount": "500.00", "currencyCode": "USD"},
    }
    assert gold_tier["benefits"] == {"discountPercent": "10", "freeShipping": True}
    assert tiers[0]["rules"]["minTotalSpent"] is None


@pytest.mark.parametrize(
    ("tier", "field", "code"),
    [
        (
            {"names": [{"locale": "fr", "value": "Or"}], "rank": 1, "rules": {}},
            ["input", "names"],
            "INVALID_TIER",
        ),
        (
            {"names": [{"locale": "de", "value": "Gold"}], "rank": 1, "rules": {}},
            ["input", "names"],
            "INVALID_TIER",
        ),
        (
            {
                "names": [{"locale": "en", "value": "Gold"}, {"locale": "en", "value": "G"}],
                "rank": 1,
                "rules": {},
            },
            ["input", "names"],
            "INVALID_TIER",
        ),
        (tier_input("  ", 1, {}), ["input", "names"], "INVALID_TIER"),
        (tier_input("Gold", -1, {}), ["input", "rank"], "INVALID_TIER"),
        (
            tier_input("Gold", 1, {"minPointsEarned": -1}),
            ["input", "rules", "minPointsEarned"],
            "INVALID_TIER",
        ),
        (
            tier_input("Gold", 1, {"minTotalSpent": "-0.01"}),
            ["input", "rules", "minTotalSpent"],
            "INVALID_TIER",
        ),
        (
            tier_input("Gold", 1, {"minTotalSpent": "10.001"}),
            ["input", "rules", "minTotalSpent"],
            "INVALID_TIER",
        ),
        # minRfmScore "NaN" never gets here: the Decimal scalar refuses it, BAD_USER_INPUT
        # (tests/subgraphs/kit/test_input_boundary.py).
        (
            tier_input("Gold", 1, {}, benefits={"discountPercent": "101"}),
            ["input", "benefits", "discountPercent"],
            "INVALID_TIER",
        ),
    ],
)
async def test_invalid_tiers_are_user_errors_and_save_nothing(
    points_client: SubgraphClient,
    tenant: Tenant,
    tier: dict[str, Any],
    field: list[str],
    code: str,
) -> None:
    result = await data(points_client, tenant, CREATE, {"input": keyed(tier)})

    payload = result["vipTierCreate"]
    assert payload["vipTier"] is None
    assert [(error["field"], error["code"]) for error in payload["userErrors"]] == [(field, code)]
    assert (await data(points_client, tenant, TIERS))["vipTiers"] == []


async def test_a_rank_holds_one_tier(points_client: SubgraphClient, tenant: Tenant) -> None:
    await create_tier(points_client, tenant, "Silver", 1, {"minPointsEarned": 100})
    gold = await create_tier(points_client, tenant, "Gold", 2, {"minPointsEarned": 1000})

    taken = await data(
        points_client,
        tenant,
        CREATE,
        {"input": keyed(tier_input("Bronze", 1, {"minPointsEarned": 1}))},
    )
    moved = await data(
        points_client, tenant, UPDATE, {"input": {"id": gold["vipTier"]["id"], "rank": 1}}
    )

    for payload in (taken["vipTierCreate"], moved["vipTierUpdate"]):
        assert payload["vipTier"] is None
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
            (["input", "rank"], "TIER_RANK_TAKEN")
        ]
    ranks = [(t["name"], t["rank"]) for t in (await data(points_client, tenant, TIERS))["vipTiers"]]
    assert ranks == [("Silver", 1), ("Gold", 2)]
    # Keeping its own rank is not a conflict.
    same = await data(
        points_client, tenant, UPDATE, {"input": {"id": gold["vipTier"]["id"], "rank": 2}}
    )
    assert same["vipTierUpdate"]["userErrors"] == []


async def test_earning_points_moves_a_customer_up(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    silver = await create_tier(points_client, tenant, "Silver", 1, {"minPointsEarned": 150})
    customer_id = await add_customer(resources, tenant, points=100)
    before = await data(points_client, tenant, CUSTOMER_TIER, {"id": gid("Customer", customer_id)})

    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await earn(
            session,
            tenant.merchant_id,
            EarnCommand(customer_id, EarnAction.SIGNUP, idempotency_key=f"signup:{customer_id}"),
            now=datetime.now(UTC),
        )

    after = await data(points_client, tenant, CUSTOMER_TIER, {"id": gid("Customer", customer_id)})
    assert before["customer"]["vipTier"] is None
    assert after["customer"]["vipTier"] == {"id": silver["vipTier"]["id"], "name": "Silver"}
    [audit] = await audit_entries(resources, tenant, "tier_assigned")
    assert (audit["customer_id"], gid("VipTier", audit["tier_id"])) == (
        customer_id,
        silver["vipTier"]["id"],
    )


async def test_editing_tiers_moves_every_customer(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    none, some, many = [await add_customer(resources, tenant, points=p) for p in (0, 150, 600)]

    silver = await create_tier(points_client, tenant, "Silver", 1, {"minPointsEarned": 100})
    silver_id = silver["vipTier"]["id"]
    assert silver["reassignedCustomers"] == "2"
    assert await tier_ids(resources, tenant, none, some, many) == [None, silver_id, silver_id]

    gold = await create_tier(points_client, tenant, "Gold", 2, {"minPointsEarned": 500})
    gold_id = gold["vipTier"]["id"]
    assert gold["reassignedCustomers"] == "1"
    assert await tier_ids(resources, tenant, none, some, many) == [None, silver_id, gold_id]

    renamed = await data(
        points_client,
        tenant,
        UPDATE,
        {"input": {"id": gold_id, "names": [{"locale": "en", "value": "Platinum"}]}},
    )
    assert renamed["vipTierUpdate"]["vipTier"]["name"] == "Platinum"
    assert renamed["vipTierUpdate"]["reassignedCustomers"] == "0"

    lowered = await data(
        points_client,
        tenant,
        UPDATE,
        {"input": {"id": gold_id, "rules": {"minPointsEarned": 100}}},
    )
    assert lowered["vipTierUpdate"]["reassignedCustomers"] == "1"
    assert await tier_ids(resources, tenant, none, some, many) == [None, gold_id, gold_id]

    deleted = await data(points_client, tenant, DELETE, {"input": {"id": gold_id}})
    assert deleted["vipTierDelete"] == {
        "deletedVipTierId": gold_id,
        "reassignedCustomers": "2",
        "userErrors": [],
    }
    assert await tier_ids(resources, tenant, none, some, many) == [None, silver_id, silver_id]

    moves = [
        (
            entry["customer_id"],
            gid_or_none("VipTier", entry["from_tier_id"]),
            gid_or_none("VipTier", entry["tier_id"]),
        )
        for entry in await audit_entries(resources, tenant, "tier_assigned")
    ]
    assert moves == [
        (some, None, silver_id),
        (many, None, silver_id),
        (many, silver_id, gold_id),
        (some, silver_id, gold_id),
        (some, gold_id, silver_id),
        (many, gold_id, silver_id),
    ]
    assert len(await audit_entries(resources, tenant, "tier_deleted")) == 1


async def test_unknown_tier_cannot_be_updated_or_deleted(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    nope = gid("VipTier", str(uuid.uuid4()))
    updated = await data(points_client, tenant, UPDATE, {"input": {"id": nope, "rank": 3}})
    deleted = await data(points_client, tenant, DELETE, {"input": {"id": nope}})

    assert updated["vipTierUpdate"]["userErrors"][0]["code"] == "TIER_NOT_FOUND"
    assert deleted["vipTierDelete"]["deletedVipTierId"] is None
    assert deleted["vipTierDelete"]["userErrors"][0]["code"] == "TIER_NOT_FOUND"


async def test_recalculation_streams_in_batches_and_reads_rfm_scores(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    champions = await create_tier(points_client, tenant, "Champions", 1, {"minRfmScore": "4"})
    customers = [await add_customer(resources, tenant) for _ in range(5)]
    # Analytics writes scores outside the ledger: nothing reassigns them until the sweep.
    for customer_id, score in zip(customers, (5, 3, 4, None, "4.5"), strict=True):
        await set_customer_facts(
            resources, tenant, customer_id, rfm_score=None if score is None else {"score": score}
        )
    assert await tier_ids(resources, tenant, *customers) == [None] * 5

    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        first = await recalculate_tiers(session, tenant.merchant_id, batch=2)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        second = await recalculate_tiers(session, tenant.merchant_id, batch=2)

    champion = champions["vipTier"]["id"]
    assert await tier_ids(resources, tenant, *customers) == [
        champion,
        None,
        champion,
        None,
        champion,
    ]
    assert (first.customers, first.reassigned) == (5, 3)
    assert (second.customers, second.reassigned) == (5, 0)


async def test_periodic_recalculation_covers_every_merchant_with_tiers(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    moved = {}
    for shop in (tenant, other_tenant):
        tier = await create_tier(points_client, shop, "Champions", 1, {"minRfmScore": "4"})
        customer_id = await add_customer(resources, shop)
        await set_customer_facts(resources, shop, customer_id, rfm_score={"score": 5})
        moved[shop.merchant_id] = (customer_id, tier["vipTier"]["id"])

    sweep = await recalculate_all_tiers(resources.sessions)

    assert sweep.failed == []
    for shop in (tenant, other_tenant):
        customer_id, tier_id = moved[shop.merchant_id]
        assert await tier_ids(resources, shop, customer_id) == [tier_id]
        assert sweep.recalculated[shop.merchant_id].reassigned == 1


async def snapshot(resources: Resources, tenant: Tenant) -> tuple[Any, ...]:
    """Everything a preview must leave alone, the audit log included."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        tiers = (
            await session.execute(
                select(VipTier.id, VipTier.name, VipTier.rank, VipTier.rules, VipTier.updated_at)
                .where(VipTier.merchant_id == tenant.merchant_id)
                .order_by(VipTier.id)
            )
        ).all()
        customers = (
            await session.execute(
                select(Customer.id, Customer.vip_tier_id)
                .where(Customer.merchant_id == tenant.merchant_id)
                .order_by(Customer.id)
            )
        ).all()
        audits = await session.scalar(
            select(func.count()).where(AuditLog.merchant_id == tenant.merchant_id)
        )
    return tiers, customers, audits


async def test_preview_of_draft_tiers_counts_real_customers_and_writes_nothing(
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    count_statements: StatementCounter,
) -> None:
    customers = [await add_customer(resources, tenant, points=p) for p in (0, 150, 600)]
    await create_tier(points_client, tenant, "Silver", 1, {"minPointsEarned": 100})
    before = await snapshot(resources, tenant)
    bronze = tier_input("Bronze", 0, {})
    bronze["names"].append({"locale": "fr", "value": "Bronze FR"})
    drafts = [tier_input("Gold", 2, {"minPointsEarned": 500}), bronze]

    seen = len(count_statements.statements)
    result = await data(
        points_client, tenant, PREVIEW, {"input": {"tiers": drafts, "sampleSize": 2}}
    )
    during = count_statements.statements[seen:]

    preview = result["vipTierPreview"]
    assert preview["userErrors"] == []
    assert preview["distribution"] == [
        {
            "tierId": None,
            "tierName": "Bronze",
            "tierNameFr": "Bronze FR",
            "rank": 0,
            "customers": "2",
        },
        {"tierId": None, "tierName": "Gold", "tierNameFr": "Gold", "rank": 2, "customers": "1"},
    ]
    assert (preview["noTierCount"], preview["customerCount"]) == ("0", "3")
    assert preview["sample"] == [
        {"customerId": gid("Customer", customers[0]), "tierId": None, "tierName": "Bronze"},
        {"customerId": gid("Customer", customers[1]), "tierId": None, "tierName": "Bronze"},
    ]
    # A query writes nothing: no statement but reads, and no row changed (audit log included).
    assert during
    assert [s for s in during if s.lstrip().split()[0].upper() in WRITES] == []
    assert await snapshot(resources, tenant) == before
    assert await audit_entries(resources, tenant, "preview_simulated") == []


async def test_preview_of_current_tiers_for_chosen_customers(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    none, _, many = [await add_customer(resources, tenant, points=p) for p in (0, 150, 600)]
    silver = await create_tier(points_client, tenant, "Silver", 1, {"minPointsEarned": 100})

    result = await data(
        points_client,
        tenant,
        PREVIEW,
        {"input": {"customerIds": [gid("Customer", many), gid("Customer", none)]}},
    )

    preview = result["vipTierPreview"]
    silver_id = silver["vipTier"]["id"]
    assert preview["distribution"] == [
        {
            "tierId": silver_id,
            "tierName": "Silver",
            "tierNameFr": "Silver",
            "rank": 1,
            "customers": "1",
        }
    ]
    assert (preview["noTierCount"], preview["customerCount"]) == ("1", "2")
    assert preview["sample"] == [
        {"customerId": gid("Customer", many), "tierId": silver_id, "tierName": "Silver"},
        {"customerId": gid("Customer", none), "tierId": None, "tierName": None},
    ]


@pytest.mark.parametrize(
    ("preview_input", "field", "code"),
    [
        (
            {"customerIds": [gid("Customer", str(uuid.uuid4()))]},
            ["input", "customerIds"],
            "CUSTOMER_NOT_FOUND",
        ),
        ({"sampleSize": 101}, ["input", "sampleSize"], "INVALID_PREVIEW"),
        (
            {"tiers": [tier_input("A", 1, {}), tier_input("B", 1, {})]},
            ["input", "tiers", "1", "rank"],
            "INVALID_TIER",
        ),
        (
            {"tiers": [tier_input("A", 1, {"minPointsEarned": -5})]},
            ["input", "tiers", "0", "rules", "minPointsEarned"],
            "INVALID_TIER",
        ),
    ],
)
async def test_invalid_previews_are_user_errors(
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    preview_input: dict[str, Any],
    field: list[str],
    code: str,
) -> None:
    await add_customer(resources, tenant)

    result = await data(points_client, tenant, PREVIEW, {"input": preview_input})

    preview = result["vipTierPreview"]
    assert [(e["field"], e["code"]) for e in preview["userErrors"]] == [(field, code)]
    assert preview["distribution"] == []
    assert await audit_entries(resources, tenant, "preview_simulated") == []


async def test_other_merchants_cannot_see_or_change_tiers(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant, points=200)
    silver = await create_tier(points_client, tenant, "Silver", 1, {"minPointsEarned": 100})
    silver_id = silver["vipTier"]["id"]

    listed = await data(points_client, other_tenant, TIERS)
    updated = await data(
        points_client,
        other_tenant,
        UPDATE,
        {"input": {"id": silver_id, "rules": {"minPointsEarned": 0}}},
    )
    deleted = await data(points_client, other_tenant, DELETE, {"input": {"id": silver_id}})
    previewed = await data(
        points_client,
        other_tenant,
        PREVIEW,
        {"input": {"customerIds": [gid("Customer", customer_id)]}},
    )

    assert listed["vipTiers"] == []
    assert updated["vipTierUpdate"]["userErrors"][0]["code"] == "TIER_NOT_FOUND"
    assert deleted["vipTierDelete"]["userErrors"][0]["code"] == "TIER_NOT_FOUND"
    assert previewed["vipTierPreview"]["userErrors"][0]["code"] == "CUSTOMER_NOT_FOUND"
    mine = (await data(points_client, tenant, TIERS))["vipTiers"]
    assert [(t["id"], t["rules"]["minPointsEarned"]) for t in mine] == [(silver_id, 100)]
    assert await tier_ids(resources, tenant, customer_id) == [silver_id]


async def test_customers_search_by_tier_takes_the_tiers_global_id(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    await add_customer(resources, tenant, points=0)
    member = await add_customer(resources, tenant, points=600)
    silver = (await create_tier(points_client, tenant, "Silver", 1, {"minPointsEarned": 500}))[
        "vipTier"
    ]["id"]
    search = "query($q: String!) { customers(query: $q) { nodes { id } } }"

    found = await data(points_client, tenant, search, {"q": f"tier:{silver}"})
    bare = await points_client.execute(search, {"q": f"tier:{row_id(silver)}"}, tenant=tenant)

    assert found["customers"]["nodes"] == [{"id": gid("Customer", member)}]
    [error] = bare["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "is not a LoyalNest ID" in error["message"]
