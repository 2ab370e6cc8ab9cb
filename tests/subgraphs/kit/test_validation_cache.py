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
