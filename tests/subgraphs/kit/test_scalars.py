"""UnsignedInt64: lifetime sums past 2^31 (and 2^53) reach clients exactly; bad input is a
BAD_USER_INPUT, never a masked error."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from strawberry.schema.config import StrawberryConfig

from subgraphs.kit.graphql.scalars import SCALAR_MAP, UNSIGNED_INT64_MAX, UnsignedInt64


@strawberry.type
class Query:
    @strawberry.field
    def total(self, value: str) -> UnsignedInt64:
        return UnsignedInt64(int(value))

    @strawberry.field
    def echo(self, value: UnsignedInt64) -> str:
        return f"{value!r}"


SCHEMA = strawberry.Schema(query=Query, config=StrawberryConfig(scalar_map=SCALAR_MAP))


def run(query: str, variables: dict[str, Any] | None = None) -> Any:
    return SCHEMA.execute_sync(query, variable_values=variables)


@pytest.mark.parametrize("value", [2**31, 2**53 + 1, UNSIGNED_INT64_MAX, 0])
def test_large_sums_serialize_exactly_as_strings(value: int) -> None:
    result = run("query ($v: String!) { total(value: $v) }", {"v": str(value)})

    assert result.errors is None
    assert result.data == {"total": str(value)}


def test_a_value_outside_the_range_is_an_error_not_a_wrapped_number() -> None:
    result = run('{ total(value: "18446744073709551616") }')

    assert result.errors is not None
    assert result.data is None


@pytest.mark.parametrize("literal", ['"4294967296"', "42"])
def test_inputs_parse_from_strings_and_small_integers(literal: str) -> None:
    result = run(f"{{ echo(value: {literal}) }}")

    assert result.errors is None
    assert result.data == {"echo": literal.strip('"')}


@pytest.mark.parametrize(
    "variable", ["-1", "1e3", "12a", "", "١٢", "18446744073709551616", 1.5, True, -3]
)
def test_bad_inputs_are_bad_user_input(variable: object) -> None:
    result = run("query ($v: UnsignedInt64!) { echo(value: $v) }", {"v": variable})

    assert result.errors is not None
    assert result.data is None
    assert [error.extensions for error in result.errors] == [{"code": "BAD_USER_INPUT"}]
