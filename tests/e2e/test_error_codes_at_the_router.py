"""Issue 11's reproducers through the real router: every bad input is a coded client error a
client can switch on, with the same code a subgraph gives, and a WebSocket without a valid
token is refused at connection_init."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import connect

from subgraphs.kit.graphql.schema import MAX_TOKENS
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant, add_customer
from tests.e2e.conftest import Router


@pytest_asyncio.fixture(loop_scope="session")
async def http(router: Router) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=router.url, timeout=15) as client:
        yield client


async def post(
    http: httpx.AsyncClient, tenant: Tenant, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await http.post(
        "",
        content=json.dumps({"query": query, "variables": variables or {}}),
        headers={**tenant.headers, "content-type": "application/json"},
    )
    assert response.status_code < 500, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str | None]:
    assert body.get("errors"), body
    return [(error.get("extensions") or {}).get("code") for error in body["errors"]]


async def test_parse_errors_are_graphql_parse_failed(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = await post(http, tenant, "{ customers(first: ")

    assert codes(body) == ["GRAPHQL_PARSE_FAILED"]


async def test_validation_errors_are_graphql_validation_failed(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = await post(http, tenant, "{ noSuchField }")

    assert set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}


async def test_a_nul_in_an_id_is_bad_user_input(http: httpx.AsyncClient, tenant: Tenant) -> None:
    literal = await post(http, tenant, '{ customer(id: "c\\u0000") { id } }')
    variable = await post(
        http, tenant, "query($id: ID!) { customer(id: $id) { id } }", {"id": "c\x00"}
    )
    surrogate = await post(
        http, tenant, "query($id: ID!) { customer(id: $id) { id } }", {"id": "c\ud800"}
    )

    assert codes(literal) == ["BAD_USER_INPUT"]
    assert codes(variable) == ["BAD_USER_INPUT"]
    assert codes(surrogate) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "1e400"])
async def test_a_decimal_literal_that_is_no_number_is_bad_user_input(
    http: httpx.AsyncClient, tenant: Tenant, amount: str
) -> None:
    query = f"""{{ pointsCalculate(input: {{customerId: "c", order: {{id: "1",
        currencyCode: USD, lines: [{{id: "l", quantity: 1, amount: "{amount}"}}]}}}})
        {{ userErrors {{ message }} }} }}"""

    body = await post(http, tenant, query)

    # Was DOWNSTREAM_SERVICE_ERROR: the subgraph's refusal carried no code.
    assert set(codes(body)) == {"BAD_USER_INPUT"}


@pytest.mark.parametrize("first", [2**31, -(2**31) - 1, "ten", None])
async def test_a_variable_that_does_not_coerce_is_bad_user_input_as_at_a_subgraph(
    http: httpx.AsyncClient, tenant: Tenant, first: object
) -> None:
    # Found by tests/e2e/test_fuzz.py: the router's executor refused these with no code.
    query = "query($first: Int!) { customers(first: $first) { nodes { id } } }"

    body = await post(http, tenant, query, {"first": first})

    assert codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["message"].startswith('Variable "$first"')


async def test_a_missing_required_variable_is_bad_user_input(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = await post(http, tenant, "query($id: ID!) { customer(id: $id) { id } }")

    assert codes(body) == ["BAD_USER_INPUT"]


async def test_every_variable_that_does_not_coerce_is_bad_user_input(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    query = "query($a: Int, $b: Int) { customers(first: $a, last: $b) { nodes { id } } }"

    body = await post(http, tenant, query, {"a": 2**31, "b": "x"})

    assert codes(body) == ["BAD_USER_INPUT", "BAD_USER_INPUT"]


@pytest.mark.parametrize("literal", [str(2**63), str(-(2**63) - 1), "1" + "0" * 40])
async def test_an_integer_literal_past_64_bits_is_bad_user_input_not_a_500(
    http: httpx.AsyncClient, tenant: Tenant, literal: str
) -> None:
    # Found by tests/e2e/test_fuzz.py: legal GraphQL where a Decimal goes, and the query
    # planner (64-bit integers) failed to parse it: HTTP 500 "Unexpected error.".
    query = f"""mutation {{ campaignCreate(input: {{name: "x", kind: DOUBLE_POINTS,
        startsAt: "2026-01-01T00:00:00Z", endsAt: "2026-02-01T00:00:00Z",
        idempotencyKey: "k", multiplier: {literal}}}) {{ campaign {{ id }} }} }}"""

    body = await post(http, tenant, query)

    assert codes(body) == ["BAD_USER_INPUT"]
    assert "64-bit" in body["errors"][0]["message"]


async def test_an_integer_literal_within_64_bits_reaches_the_subgraph(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    query = f"""mutation {{ campaignCreate(input: {{name: "x", kind: DOUBLE_POINTS,
        startsAt: "2026-01-01T00:00:00Z", endsAt: "2026-02-01T00:00:00Z",
        idempotencyKey: "k", multiplier: {2**63 - 1}}}) {{ campaign {{ id }} }} }}"""

    body = await post(http, tenant, query)

    # The subgraph's own Decimal refuses it, with its message (too many digits).
    assert codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["serviceName"] == "points"


@pytest.mark.parametrize(
    "cursor", ["W10", "WyJ4Il0", base64.b64encode(b"\x00\x01garbage").decode()]
)
async def test_a_crafted_cursor_is_bad_user_input(
    http: httpx.AsyncClient, resources: Resources, tenant: Tenant, cursor: str
) -> None:
    customer_id = await add_customer(resources, tenant, points=5)

    customers = await post(
        http, tenant, "query($a: String) { customers(after: $a) { nodes { id } } }", {"a": cursor}
    )
    transactions = await post(
        http,
        tenant,
        """query($id: ID!, $a: String) {
          customer(id: $id) { pointsTransactions(after: $a) { nodes { id } } } }""",
        {"id": customer_id, "a": cursor},
    )

    assert codes(customers) == ["BAD_USER_INPUT"]
    assert codes(transactions) == ["BAD_USER_INPUT"]
    assert customers["errors"][0]["message"].startswith("invalid cursor")


async def test_too_deep_a_document_is_refused_with_a_code(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    fields = "id"
    for _ in range(12):
        fields = f"edges {{ node {{ {fields} }} }}"

    body = await post(http, tenant, f"{{ customers(first: 1) {{ {fields} }} }}")

    # The router's own limit answers first, with the code a subgraph gives its limit.
    assert codes(body) == ["QUERY_TOO_COMPLEX"]


async def test_too_many_tokens_are_a_parse_failure_as_at_a_subgraph(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    aliases = " ".join(f"a{i}: __typename" for i in range(MAX_TOKENS))

    body = await post(http, tenant, f"{{ {aliases} }}")

    assert codes(body) == ["GRAPHQL_PARSE_FAILED"]


async def test_a_subscription_variable_that_does_not_coerce_is_bad_user_input(
    router: Router, tenant: Tenant
) -> None:
    async with connect(router.ws_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(
            json.dumps(
                {
                    "type": "connection_init",
                    "payload": {"Authorization": tenant.headers["authorization"]},
                }
            )
        )
        ack = json.loads(await asyncio.wait_for(socket.recv(), 3))
        assert ack["type"] == "connection_ack"
        query = "subscription($id: ID!) { customerPointsUpdated(customerId: $id) { id } }"
        await socket.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": {"id": {"not": "an id"}}},
                }
            )
        )
        answer = json.loads(await asyncio.wait_for(socket.recv(), 5))

    # The router answers the refusal as a result (`next` with errors, no data), as over HTTP.
    assert answer["type"] == "next", answer
    assert "data" not in answer["payload"], answer
    assert codes(answer["payload"]) == ["BAD_USER_INPUT"]


async def test_an_unknown_persisted_query_has_a_code(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    unknown = "0" * 64
    apq = await http.post(
        "",
        json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": unknown}}},
        headers=tenant.headers,
    )
    by_id = await http.post("", json={"documentId": unknown}, headers=tenant.headers)

    # Via extensions.persistedQuery: Apollo's code, on which Apollo-style clients retry with the
    # document; by documentId: the document is not in the trusted list.
    assert codes(apq.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert codes(by_id.json()) == ["PERSISTED_QUERY_NOT_IN_LIST"]
