"""Every error a subgraph answers has extensions.code, given by where it arose, not by its
message: parse errors, validation errors, the token and depth limits; and an unexpected error
is masked, logged once in one compact record, with the request id the client receives."""

from __future__ import annotations

from typing import Any

import strawberry
from structlog.testing import capture_logs

from subgraphs.kit.graphql.schema import MAX_TOKENS, build_schema
from tests.conftest import SubgraphClient, Tenant
from tests.subgraphs.kit.test_schema_protections import past_the_depth_limit


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body["errors"]]


async def test_a_document_that_does_not_parse_is_graphql_parse_failed(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    body = await points_client.execute("{ customers(first: ", tenant=tenant)

    assert codes(body) == ["GRAPHQL_PARSE_FAILED"]


async def test_a_document_that_does_not_fit_the_schema_is_graphql_validation_failed(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    body = await points_client.execute("{ noSuchField }", tenant=tenant)

    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_a_literal_of_the_wrong_type_is_bad_user_input(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    body = await points_client.execute(
        "{ customers(first: 1, sortKey: NOT_A_KEY) { nodes { id } } }", tenant=tenant
    )

    assert codes(body) == ["BAD_USER_INPUT"]


async def test_a_variable_of_the_wrong_type_is_bad_user_input(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    body = await points_client.execute(
        "query($n: Int) { customers(first: $n) { nodes { id } } }", {"n": "ten"}, tenant=tenant
    )

    assert codes(body) == ["BAD_USER_INPUT"]


async def test_the_depth_limit_is_query_too_complex_and_the_token_limit_a_parse_failure(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    too_deep = await points_client.execute(
        f"{{ customers(first: 1) {{ {past_the_depth_limit()} }} }}", tenant=tenant
    )
    aliases = " ".join(f"a{i}: __typename" for i in range(MAX_TOKENS))
    too_long = await points_client.execute(f"{{ {aliases} }}", tenant=tenant)

    # (that nesting is not valid either: its other errors are GRAPHQL_VALIDATION_FAILED)
    assert "QUERY_TOO_COMPLEX" in codes(too_deep)
    # The parser stops reading: as at the router (tests/e2e/test_error_codes_at_the_router.py).
    assert codes(too_long) == ["GRAPHQL_PARSE_FAILED"]


@strawberry.type
class _Query:
    @strawberry.field
    def broken(self) -> int:
        raise RuntimeError("a bug with internals: postgres://secret")


async def test_an_unexpected_error_is_masked_and_logged_once_compactly() -> None:
    schema = build_schema(name="probe", query=_Query)

    with capture_logs() as logs:
        result = await schema.execute("{ broken }")

    assert result.errors is not None
    [error] = [e.formatted for e in result.errors]
    assert error["message"] == "Unexpected error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    request_id = error["extensions"]["requestId"]
    [record] = [entry for entry in logs if entry["log_level"] == "error"]
    assert record["event"] == "graphql_unexpected_error"
    assert record["request_id"] == request_id
    assert record["error"] == "RuntimeError: a bug with internals: postgres://secret"
    assert "exc_info" not in record
    assert "secret" not in str(error)
