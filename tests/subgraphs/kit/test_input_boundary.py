"""Issue 11's reproducers at a subgraph: every bad input is a coded client error
(BAD_USER_INPUT with the field's path), never a masked "Unexpected error." — NUL and lone
surrogates in any string, ID, input field or variable; Decimals that are not finite or do not
fit their column; cursors that do not decode to the shape of their list."""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson
import pytest

from subgraphs.kit.resources import Resources
from tests.conftest import SubgraphClient, Tenant, add_customer
from tests.ids import gid


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    errors = body.get("errors")
    assert errors, body
    assert len(errors) == 1, body
    error: dict[str, Any] = errors[0]
    return error


def bad_input(body: dict[str, Any], field: list[str | int] | None = None) -> dict[str, Any]:
    error = only_error(body)
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["message"] != "Unexpected error."
    if field is not None:
        assert error["extensions"]["field"] == field, error
    return error


def cursor_of(value: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


@pytest.mark.parametrize("bad", ["abc\x00def", "\x00"])
async def test_a_nul_in_an_id_literal_is_bad_user_input(
    points_client: SubgraphClient, tenant: Tenant, bad: str
) -> None:
    literal = orjson.dumps(bad).decode()  # "\u0000" escaped as GraphQL also reads it
    body = await points_client.execute(f"{{ customer(id: {literal}) {{ id }} }}", tenant=tenant)

    assert "NUL" in bad_input(body, ["customer", "id"])["message"]


async def test_a_nul_in_a_variable_input_field_is_bad_user_input(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    query = """
    query($input: PointsCalculateInput!) {
      pointsCalculate(input: $input) { userErrors { message } }
    }"""

    body = await points_client.execute(
        query, {"input": {"customerId": "c\x00", "action": "SIGNUP"}}, tenant=tenant
    )

    bad_input(body, ["input", "customerId"])


async def test_a_lone_surrogate_in_a_string_variable_is_bad_user_input(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    query = "query($q: String!) { customers(first: 1, query: $q) { nodes { id } } }"
    # As a JSON client sends it: the surrogate escaped (it has no UTF-8 encoding).
    request = json.dumps({"query": query, "variables": {"q": "email:\ud800"}})

    response = await points_client.http.post(
        "/graphql",
        content=request,
        headers={**tenant.headers, "content-type": "application/json"},
    )
    body = response.json()

    assert "surrogate" in bad_input(body, ["q"])["message"]


async def test_a_nul_in_an_entity_representation_names_its_index(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    body = await points_client.execute(
        "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }",
        {"r": [{"__typename": "Customer", "id": "ok"}, {"__typename": "Customer", "id": "\x00"}]},
        tenant=tenant,
    )

    bad_input(body, ["r", 1, "id"])


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", "1e400", "sNaN", "abc"])
async def test_a_decimal_that_is_not_a_finite_number_is_bad_user_input(
    points_client: SubgraphClient, tenant: Tenant, amount: str
) -> None:
    literal = f"""mutation {{ rewardCreate(input: {{kind: FIXED_AMOUNT, title: "x", pointsCost: 1,
        idempotencyKey: "k", value: "{amount}"}}) {{ userErrors {{ message }} }} }}"""
    variables = """mutation($v: Decimal) { rewardCreate(input: {kind: FIXED_AMOUNT, title: "x",
        pointsCost: 1, idempotencyKey: "k", value: $v}) { userErrors { message } } }"""

    in_literal = await points_client.execute(literal, tenant=tenant)
    in_variable = await points_client.execute(variables, {"v": amount}, tenant=tenant)

    bad_input(in_literal)
    bad_input(in_variable)


@pytest.mark.parametrize(
    ("mutation", "input_type", "value", "field"),
    [
        (
            "campaignCreate",
            "CampaignCreateInput!",
            {
                "name": "n",
                "kind": "DISCOUNT",
                "startsAt": "2030-01-01T00:00:00+00:00",
                "endsAt": "2030-02-01T00:00:00+00:00",
                "idempotencyKey": "k",
                "discountPercent": "NaN",
            },
            ["input", "discountPercent"],
        ),
        (
            "vipTierCreate",
            "VipTierCreateInput!",
            {
                "names": [{"locale": "en", "value": "Gold"}],
                "rank": 1,
                "idempotencyKey": "k",
                "rules": {"minRfmScore": "Infinity"},
            },
            ["input", "rules", "minRfmScore"],
        ),
    ],
)
async def test_a_non_finite_decimal_in_a_variable_names_its_field(
    points_client: SubgraphClient,
    tenant: Tenant,
    mutation: str,
    input_type: str,
    value: dict[str, Any],
    field: list[str | int],
) -> None:
    query = f"mutation($input: {input_type}) {{ {mutation}(input: $input) {{ __typename }} }}"

    body = await points_client.execute(query, {"input": value}, tenant=tenant)

    assert "finite" in bad_input(body, field)["message"]


@pytest.mark.parametrize(
    ("amount", "why"),
    [("12.3456", "after the decimal point"), ("1000000000000", "before the decimal point")],
)
async def test_a_money_amount_beyond_its_declared_digits_is_bad_user_input(
    points_client: SubgraphClient, tenant: Tenant, amount: str, why: str
) -> None:
    # OrderLineInput.amount declares NUMERIC(14, 3); 1e12 is within the Decimal scalar's own
    # bounds, and used to overflow customers.total_spent inside Postgres.
    literal = f"""{{ pointsCalculate(input: {{customerId: "c", order: {{id: "1",
        currencyCode: USD, lines: [{{id: "l", quantity: 1, amount: "1"}},
        {{id: "l2", quantity: 1, amount: "{amount}"}}]}}}}) {{ userErrors {{ message }} }} }}"""
    variables = """query($input: PointsCalculateInput!) {
        pointsCalculate(input: $input) { userErrors { message } } }"""
    order = {
        "id": "1",
        "currencyCode": "USD",
        "lines": [{"id": "l", "quantity": 1, "amount": amount}],
    }

    in_literal = await points_client.execute(literal, tenant=tenant)
    in_variable = await points_client.execute(
        variables, {"input": {"customerId": "c", "order": order}}, tenant=tenant
    )

    field: list[str | int] = ["pointsCalculate", "input", "order", "lines", 1, "amount"]
    assert why in bad_input(in_literal, field)["message"]
    assert why in bad_input(in_variable, ["input", "order", "lines", 0, "amount"])["message"]


CUSTOMERS = "query($after: String) { customers(first: 2, after: $after) { nodes { id } } }"
TRANSACTIONS = """query($id: ID!, $after: String) {
  customer(id: $id) { pointsTransactions(first: 2, after: $after) { nodes { id } } }
}"""
REWARDS = "query($after: String) { rewards(first: 2, after: $after) { nodes { id } } }"

BAD_CURSORS = [
    "W10",  # []
    "WyJ4Il0",  # ["x"]
    "not base64 at all!",
    base64.b64encode(b"\xff\xfe random bytes").decode(),
    cursor_of({"id": "x"}),
    cursor_of([1, 2, 3, 4, 5, 6, 7, 8, 9]),
    cursor_of(["ID", ["nested"]]),
    cursor_of(["ID", 12]),
    cursor_of(["ID", "\x00"]),
    cursor_of(["2024-01-01T00:00:00", "x"]),  # a time without a zone
    cursor_of([True, "x"]),
    cursor_of([1.5, "x"]),
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
async def test_a_cursor_that_is_not_one_of_its_list_is_invalid(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant, cursor: str
) -> None:
    customer_id = await add_customer(resources, tenant, points=10)

    customers = await points_client.execute(CUSTOMERS, {"after": cursor}, tenant=tenant)
    transactions = await points_client.execute(
        TRANSACTIONS, {"id": gid("Customer", customer_id), "after": cursor}, tenant=tenant
    )
    rewards = await points_client.execute(REWARDS, {"after": cursor}, tenant=tenant)

    # ["x"] is a position of the rewards list (ordered by id alone): it finds nothing.
    checked = (
        (customers, transactions) if cursor == "WyJ4Il0" else (customers, transactions, rewards)
    )
    for body in checked:
        assert bad_input(body)["message"].startswith("invalid cursor")


async def test_a_cursor_of_the_list_still_pages(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    for _ in range(3):
        await add_customer(resources, tenant)
    query = """query($after: String) {
      customers(first: 2, after: $after) { nodes { id } pageInfo { endCursor } } }"""

    first = await points_client.execute(query, tenant=tenant)
    after = first["data"]["customers"]["pageInfo"]["endCursor"]
    second = await points_client.execute(query, {"after": after}, tenant=tenant)

    assert "errors" not in second
    assert len(second["data"]["customers"]["nodes"]) == 1
