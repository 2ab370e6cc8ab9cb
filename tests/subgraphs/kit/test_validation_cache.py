"""The shape-keyed validation cache answers exactly what full validation answers: documents
that share a shape with a valid one, but whose literals are wrong (a NUL, an Int past 32 bits,
a String where an Int goes, an unknown enum value, two aliases of one field with different
arguments), are refused just the same."""

from __future__ import annotations

import pytest
from graphql import parse, validate

from subgraphs.kit.graphql.schema import SHAPE_RULES, VALIDATION_RULES, VALUE_RULES
from subgraphs.kit.graphql.validation_cache import (
    STRAWBERRY_RULES,
    ShapeValidation,
    document_shape,
)
from subgraphs.points.schema import schema as points_schema

SCHEMA = points_schema._schema

# Each pair: a valid document, then one of the same shape whose literals make it invalid.
PAIRS = [
    pytest.param(
        '{ customers(first: 3, query: "points_balance:<=5") { nodes { id } } }',
        '{ customers(first: 3, query: "points_balance:<=5\\u0000") { nodes { id } } }',
        id="nul-in-a-string",
    ),
    pytest.param(
        "{ customers(first: 3) { nodes { id } } }",
        "{ customers(first: 3000000000) { nodes { id } } }",
        id="int-past-32-bits",
    ),
    pytest.param(
        "{ a: customers(first: 3) { nodes { id } } b: customers(first: 3) { nodes { id } } }",
        "{ a: customers(first: 3) { nodes { id } } a: customers(first: 4) { nodes { id } } }",
        id="one-alias-two-arguments",
    ),
    pytest.param(
        "{ a: customers(first: 3) { nodes { id } } a: customers(first: 3) { nodes { id } } }",
        "{ a: customers(first: 3) { nodes { id } } a: customers(first: 4) { nodes { id } } }",
        id="same-alias-equal-then-different-arguments",
    ),
    pytest.param(
        '{ reward(id: "gid://loyalnest/Reward/1") { value(currencyCode: USD) { amount } } }',
        '{ reward(id: "gid://loyalnest/Reward/1") { value(currencyCode: XYZ) { amount } } }',
        id="unknown-enum-value",
    ),
    pytest.param(
        '{ pointsCalculate(input: {customerId: "gid://loyalnest/Customer/1", '
        'order: {id: "1", currencyCode: USD, lines: [{id: "l", quantity: 1, amount: "2"}]}}) '
        "{ calculation { points } } }",
        '{ pointsCalculate(input: {customerId: "gid://loyalnest/Customer/1", '
        'order: {id: "1", currencyCode: USD, lines: [{id: "l", quantity: 1, amount: "NaN"}]}}) '
        "{ calculation { points } } }",
        id="decimal-not-a-number",
    ),
    pytest.param(
        'mutation { pointsReverse(input: {orderId: "1", idempotencyKey: "k", '
        'lines: [{lineId: "l", amount: "1.5"}]}) { userErrors { message } } }',
        'mutation { pointsReverse(input: {orderId: "1", idempotencyKey: "k", '
        'lines: [{lineId: "l", amount: "1.5555"}]}) { userErrors { message } } }',
        id="decimal-past-its-digits",
    ),
    pytest.param(
        '{ _entities(representations: [{__typename: "Customer", id: "a"}]) { __typename } }',
        '{ _entities(representations: [{__typename: "Customer", id: "a\\u0000"}]) { __typename } }',
        id="nul-inside-a-composite-scalar",
    ),
]


def full(document: str) -> list[str]:
    errors = validate(SCHEMA, parse(document), (*VALIDATION_RULES, *STRAWBERRY_RULES))
    return sorted(error.message for error in errors)


def cached(validation: ShapeValidation, document: str) -> list[str]:
    return sorted(error.message for error in validation.validate(SCHEMA, parse(document)))


@pytest.mark.parametrize(("valid", "invalid"), PAIRS)
def test_a_shape_seen_valid_does_not_let_bad_literals_through(valid: str, invalid: str) -> None:
    validation = ShapeValidation(SHAPE_RULES, VALUE_RULES)

    first = cached(validation, valid)
    second = cached(validation, invalid)

    assert first == full(valid) == []
    assert second == full(invalid)
    assert second, "the second document of each pair is invalid"


def test_an_invalid_shape_reports_its_bad_literals_too() -> None:
    validation = ShapeValidation(SHAPE_RULES, VALUE_RULES)
    document = "{ customers(first: 3000000000) { nodes { nope } } }"

    assert cached(validation, document) == full(document)
    assert len(full(document)) == 2


def test_equal_literals_share_a_placeholder_and_different_ones_do_not() -> None:
    same = document_shape(parse('{ a: reward(id: "x") { id } b: reward(id: "x") { id } }'))
    other = document_shape(parse('{ a: reward(id: "y") { id } b: reward(id: "y") { id } }'))
    apart = document_shape(parse('{ a: reward(id: "x") { id } b: reward(id: "y") { id } }'))

    assert same == other
    assert same != apart


def test_a_known_shape_checks_only_its_literals_and_the_rules_word_any_error() -> None:
    validation = ShapeValidation(SHAPE_RULES, VALUE_RULES)

    def query(first: int, search: str) -> str:
        return f'{{ customers(first: {first}, query: "{search}") {{ nodes {{ id }} }} }}'

    cached(validation, query(3, "points_balance:<=5"))
    runs = (validation.shape_runs, validation.value_runs, validation.literal_runs)
    good = cached(validation, query(4, "points_balance:<=6"))
    bad = cached(validation, query(4_000_000_000, "points_balance:<=7"))

    assert good == []
    assert bad == full(query(4_000_000_000, "points_balance:<=7"))
    # The good one took only its literals' checks; the bad one, those and then the rules.
    assert (validation.shape_runs, validation.value_runs, validation.literal_runs) == (
        runs[0],
        runs[1] + 1,
        runs[2] + 1,
    )


def test_a_shape_with_a_literal_no_check_covers_runs_the_value_rules_each_time() -> None:
    validation = ShapeValidation(SHAPE_RULES, VALUE_RULES)

    def query(key: str) -> str:
        return (
            f'{{ _entities(representations: [{{__typename: "Customer", id: "{key}"}}]) '
            "{ __typename } }"
        )

    cached(validation, query("a"))
    values = validation.value_runs
    cached(validation, query("b"))

    assert validation.value_runs == values + 1
