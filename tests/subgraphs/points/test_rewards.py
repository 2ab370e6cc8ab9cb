"""The rewards catalog: terms validated field by field, updates merged then re-validated, soft
deletes, what the catalog lists, and a reward's value in the shopper's currency."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from db.ids import new_id
from db.models import AuditLog, Reward, RewardKind
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.program.service import update_program_config
from subgraphs.points.rewards.service import RewardTerms, validate_terms
from tests.conftest import SubgraphClient, Tenant
from tests.ids import gid

REWARD_FIELDS = """
id kind title pointsCost percentage productId perCustomerLimit startsAt endsAt active
value { amount currencyCode } minOrderAmount { amount currencyCode }
"""
CREATE = f"""
mutation($input: RewardCreateInput!) {{
  rewardCreate(input: $input) {{
    reward {{ {REWARD_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
"""
UPDATE = f"""
mutation($input: RewardUpdateInput!) {{
  rewardUpdate(input: $input) {{
    reward {{ {REWARD_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
"""
DELETE = """
mutation($input: RewardDeleteInput!) {
  rewardDelete(input: $input) { deletedRewardId userErrors { field message code } }
}
"""
REWARD = f"query($id: ID!) {{ reward(id: $id) {{ {REWARD_FIELDS} }} }}"
REWARDS = """
query($first: Int, $after: String, $includeInactive: Boolean) {
  rewards(first: $first, after: $after, includeInactive: $includeInactive) {
    edges { cursor node { id title } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
VALUE_IN = """
query($id: ID!, $currency: CurrencyCode) {
  reward(id: $id) { value(currencyCode: $currency) { amount currencyCode } }
}
"""


def five_off(**overrides: Any) -> dict[str, Any]:
    return {
        "kind": "FIXED_AMOUNT",
        "title": "$5 off",
        "pointsCost": 500,
        "value": "5.00",
        "idempotencyKey": f"test:reward:{new_id()}",
        **overrides,
    }


async def create(
    client: SubgraphClient, tenant: Tenant, **terms: Any
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    body = await client.execute(CREATE, {"input": five_off(**terms)}, tenant=tenant)
    payload = body["data"]["rewardCreate"]
    return payload["reward"], payload["userErrors"]


async def create_ok(client: SubgraphClient, tenant: Tenant, **terms: Any) -> dict[str, Any]:
    reward, errors = await create(client, tenant, **terms)
    assert errors == []
    assert reward is not None
    return reward


async def set_currencies(
    resources: Resources, tenant: Tenant, base: str, rates: dict[str, str]
) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await update_program_config(
            WriteContext(session, tenant.merchant_id),
            {"currencies": {"base": base, "rates": rates}},
        )


async def test_each_kind_is_created_and_read_back(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    starts = datetime(2030, 1, 1, tzinfo=UTC)
    fixed = await create_ok(
        points_client,
        tenant,
        minOrderAmount="20.00",
        perCustomerLimit=2,
        startsAt=starts.isoformat(),
        endsAt=(starts + timedelta(days=30)).isoformat(),
    )
    percentage = await create_ok(
        points_client, tenant, kind="PERCENTAGE", title="15% off", value="15"
    )
    shipping = await create_ok(
        points_client, tenant, kind="FREE_SHIPPING", title="Free shipping", value=None
    )
    product = await create_ok(
        points_client,
        tenant,
        kind="FREE_PRODUCT",
        title="Free socks",
        value=None,
        productId="8123456789",
    )

    read = (await points_client.execute(REWARD, {"id": fixed["id"]}, tenant=tenant))["data"]
    assert read["reward"] == fixed
    assert fixed["kind"] == "FIXED_AMOUNT"
    assert fixed["value"] == {"amount": "5.00", "currencyCode": "USD"}
    assert fixed["minOrderAmount"] == {"amount": "20.00", "currencyCode": "USD"}
    assert fixed["perCustomerLimit"] == 2
    assert fixed["startsAt"] == "2030-01-01T00:00:00+00:00"
    assert fixed["endsAt"] == "2030-01-31T00:00:00+00:00"
    assert (percentage["percentage"], percentage["value"]) == ("15.00", None)
    assert (shipping["kind"], shipping["value"], shipping["percentage"]) == (
        "FREE_SHIPPING",
        None,
        None,
    )
    # A bare product number is stored as the gid Shopify's discount API needs.
    assert product["productId"] == "gid://shopify/Product/8123456789"


@pytest.mark.parametrize(
    ("terms", "field", "message"),
    [
        ({"kind": "PERCENTAGE", "value": "150"}, "value", "at most 100"),
        ({"kind": "PERCENTAGE", "value": "12.345"}, "value", "2 decimals"),
        ({"value": None}, "value", "needs a value"),
        ({"value": "0"}, "value", "above 0"),
        ({"value": "0.001"}, "value", "whole cents"),
        ({"kind": "FREE_SHIPPING"}, "value", "takes no value"),
        ({"kind": "FREE_PRODUCT", "value": None}, "productId", "needs productId"),
        (
            {"kind": "FREE_PRODUCT", "value": None, "productId": "gid://shopify/Order/1"},
            "productId",
            "product id or gid",
        ),
        ({"productId": "123"}, "productId", "only a free product"),
        ({"pointsCost": 0}, "pointsCost", "between 1"),
        ({"title": "   "}, "title", "1 to 120"),
        ({"minOrderAmount": "-1"}, "minOrderAmount", "above 0"),
        ({"perCustomerLimit": 0}, "perCustomerLimit", "between 1"),
        (
            {"startsAt": "2030-02-01T00:00:00Z", "endsAt": "2030-01-01T00:00:00Z"},
            "endsAt",
            "after startsAt",
        ),
    ],
)
async def test_invalid_terms_are_refused_naming_the_field(
    points_client: SubgraphClient,
    tenant: Tenant,
    terms: dict[str, Any],
    field: str,
    message: str,
) -> None:
    reward, errors = await create(points_client, tenant, **terms)

    assert reward is None
    assert len(errors) == 1
    assert errors[0]["code"] == "INVALID_REWARD"
    assert errors[0]["field"] == ["input", field]
    assert message in errors[0]["message"]
    listed = await points_client.execute(REWARDS, {"includeInactive": True}, tenant=tenant)
    assert listed["data"]["rewards"]["edges"] == []


async def test_update_merges_over_the_reward_and_validates_the_whole(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    reward = await create_ok(
        points_client, tenant, endsAt="2031-01-01T00:00:00Z", perCustomerLimit=3
    )

    body = await points_client.execute(
        UPDATE,
        {"input": {"id": reward["id"], "title": "$6 off", "value": "6", "endsAt": None}},
        tenant=tenant,
    )
    updated = body["data"]["rewardUpdate"]
    assert updated["userErrors"] == []
    assert updated["reward"]["title"] == "$6 off"
    assert updated["reward"]["value"] == {"amount": "6.00", "currencyCode": "USD"}
    assert updated["reward"]["endsAt"] is None  # null clears
    assert updated["reward"]["perCustomerLimit"] == 3  # omitted keeps

    refused: list[tuple[dict[str, Any], str, list[str]]] = [
        ({"value": "0"}, "INVALID_REWARD", ["input", "value"]),
        ({"title": None}, "INVALID_REWARD", ["input", "title"]),
        ({"productId": "123"}, "INVALID_REWARD", ["input", "productId"]),
    ]
    for changes, code, field in refused:
        body = await points_client.execute(
            UPDATE, {"input": {"id": reward["id"], **changes}}, tenant=tenant
        )
        payload = body["data"]["rewardUpdate"]
        assert payload["reward"] is None
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]
    unknown = await points_client.execute(
        UPDATE, {"input": {"id": gid("Reward", str(uuid.uuid4())), "title": "x"}}, tenant=tenant
    )
    assert unknown["data"]["rewardUpdate"]["userErrors"][0]["code"] == "REWARD_NOT_FOUND"

    read = await points_client.execute(REWARD, {"id": reward["id"]}, tenant=tenant)
    assert read["data"]["reward"] == updated["reward"]
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        actions = list(
            await session.scalars(
                select(AuditLog.action)
                .where(AuditLog.merchant_id == tenant.merchant_id)
                .where(AuditLog.action.like("reward_%"))
                .order_by(AuditLog.created_at, AuditLog.id)
            )
        )
    assert actions == ["reward_created", "reward_updated"]


async def test_delete_is_soft_and_final(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    reward = await create_ok(points_client, tenant)

    body = await points_client.execute(DELETE, {"input": {"id": reward["id"]}}, tenant=tenant)

    assert body["data"]["rewardDelete"] == {"deletedRewardId": reward["id"], "userErrors": []}
    read = await points_client.execute(REWARD, {"id": reward["id"]}, tenant=tenant)
    assert read["data"]["reward"] is None
    listed = await points_client.execute(REWARDS, {"includeInactive": True}, tenant=tenant)
    assert listed["data"]["rewards"]["edges"] == []
    # A retried delete (issue 10: deletes are safe to retry) answers the same id.
    again = await points_client.execute(DELETE, {"input": {"id": reward["id"]}}, tenant=tenant)
    assert again["data"]["rewardDelete"] == {"deletedRewardId": reward["id"], "userErrors": []}
    update = await points_client.execute(
        UPDATE, {"input": {"id": reward["id"], "title": "back"}}, tenant=tenant
    )
    assert update["data"]["rewardUpdate"]["userErrors"][0]["code"] == "REWARD_NOT_FOUND"
    # The row stays: redemptions made from it keep their reward.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        row = await session.scalar(select(Reward).where(Reward.merchant_id == tenant.merchant_id))
    assert row is not None
    assert row.deleted_at is not None
    assert row.active is False


async def test_catalog_lists_what_is_redeemable_now_unless_asked_for_all(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    now = datetime.now(UTC)
    open_now = await create_ok(points_client, tenant, title="open")
    switched_off = await create_ok(points_client, tenant, title="off", active=False)
    future = await create_ok(
        points_client, tenant, title="future", startsAt=(now + timedelta(days=1)).isoformat()
    )
    ended = await create_ok(
        points_client,
        tenant,
        title="ended",
        startsAt=(now - timedelta(days=2)).isoformat(),
        endsAt=(now - timedelta(days=1)).isoformat(),
    )
    in_window = await create_ok(
        points_client,
        tenant,
        title="in window",
        startsAt=(now - timedelta(days=1)).isoformat(),
        endsAt=(now + timedelta(days=1)).isoformat(),
    )
    deleted = await create_ok(points_client, tenant, title="deleted")
    await points_client.execute(DELETE, {"input": {"id": deleted["id"]}}, tenant=tenant)

    default = await points_client.execute(REWARDS, {}, tenant=tenant)
    assert [e["node"]["title"] for e in default["data"]["rewards"]["edges"]] == [
        "open",
        "in window",
    ]

    seen: list[str] = []
    after = None
    while True:
        page = await points_client.execute(
            REWARDS, {"first": 2, "after": after, "includeInactive": True}, tenant=tenant
        )
        connection = page["data"]["rewards"]
        assert len(connection["edges"]) <= 2
        seen += [edge["node"]["id"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == [r["id"] for r in (open_now, switched_off, future, ended, in_window)]


async def test_value_in_the_shoppers_currency_at_the_programs_rates(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    await set_currencies(resources, tenant, "USD", {"EUR": "0.92", "JPY": "151.5"})
    reward = await create_ok(points_client, tenant, value="5.00", minOrderAmount="25")

    async def value_in(currency: str | None) -> dict[str, Any]:
        return await points_client.execute(
            VALUE_IN, {"id": reward["id"], "currency": currency}, tenant=tenant
        )

    assert (await value_in(None))["data"]["reward"]["value"] == {
        "amount": "5.00",
        "currencyCode": "USD",
    }
    assert (await value_in("EUR"))["data"]["reward"]["value"] == {
        "amount": "4.60",
        "currencyCode": "EUR",
    }
    assert (await value_in("JPY"))["data"]["reward"]["value"] == {
        "amount": "757.50",
        "currencyCode": "JPY",
    }
    # Codes are CurrencyCode values: not ISO 4217 (or not upper case) is refused by GraphQL.
    for not_a_code in ("XYZ", "jpy"):
        refused = await value_in(not_a_code)
        assert refused["data"] is None
        assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "CurrencyCode" in refused["errors"][0]["message"]
    unknown = await value_in("GBP")
    assert unknown["data"]["reward"] == {"value": None}
    assert unknown["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "GBP" in unknown["errors"][0]["message"]
    # The minimum order stays in the shop currency, which Shopify checks it in.
    read = await points_client.execute(REWARD, {"id": reward["id"]}, tenant=tenant)
    assert read["data"]["reward"]["minOrderAmount"] == {"amount": "25.00", "currencyCode": "USD"}


async def test_another_merchant_neither_sees_nor_changes_the_catalog(
    points_client: SubgraphClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    reward = await create_ok(points_client, tenant)

    read = await points_client.execute(REWARD, {"id": reward["id"]}, tenant=other_tenant)
    listed = await points_client.execute(REWARDS, {"includeInactive": True}, tenant=other_tenant)
    update = await points_client.execute(
        UPDATE, {"input": {"id": reward["id"], "title": "mine now"}}, tenant=other_tenant
    )
    delete = await points_client.execute(
        DELETE, {"input": {"id": reward["id"]}}, tenant=other_tenant
    )

    assert read["data"]["reward"] is None
    assert listed["data"]["rewards"]["edges"] == []
    assert update["data"]["rewardUpdate"]["userErrors"][0]["code"] == "REWARD_NOT_FOUND"
    assert delete["data"]["rewardDelete"]["userErrors"][0]["code"] == "REWARD_NOT_FOUND"
    mine = await points_client.execute(REWARD, {"id": reward["id"]}, tenant=tenant)
    assert mine["data"]["reward"]["title"] == "$5 off"


def test_decimal_inputs_keep_their_meaning() -> None:
    # Guards the "whole cents" rule: 5.000 is 5.00, not a third decimal.
    terms = validate_terms(
        RewardTerms(
            kind=RewardKind.FIXED_AMOUNT, title=" $5 ", points_cost=1, value=Decimal("5.000")
        )
    )
    assert terms.title == "$5"
    assert terms.value == Decimal("5.00")
