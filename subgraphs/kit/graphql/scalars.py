"""Scalars shared by every subgraph.

``UnsignedInt64`` carries quantities that grow without bound (lifetime sums of points, counts
of members): GraphQL's ``Int`` is 32-bit, and past 2^31 a non-null ``Int`` field errors and
nulls its parent. It is serialized as a decimal string, as Shopify's Admin API does, because
JSON numbers lose precision past 2^53 in JavaScript clients.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from subgraphs.kit.errors import BadUserInputError

UNSIGNED_INT64_MAX = 2**64 - 1
# Bounds of every Decimal a client may send, whatever its field: finite, and small enough
# that arithmetic stays exact in the default context (28 digits) and the widest column
# (NUMERIC(14, 2) today) is a per-field declaration away (kit.graphql.input_checks).
DECIMAL_WHOLE_DIGITS = 18
DECIMAL_FRACTION_DIGITS = 10

# The Python type fields annotate; its GraphQL definition is in SCALAR_MAP.
UnsignedInt64 = NewType("UnsignedInt64", int)


def _serialize_unsigned_int64(value: int) -> str:
    if not 0 <= value <= UNSIGNED_INT64_MAX:
        raise ValueError(f"{value} is outside UnsignedInt64")
    return str(value)


def _parse_unsigned_int64(value: object) -> int:
    # Strings as serialized; small integers as clients naturally write them. Never floats or
    # booleans: 1e3 or true are not counts.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadUserInputError('UnsignedInt64 takes a decimal string such as "4294967296"')
    text = value if isinstance(value, str) else str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 20:
        raise BadUserInputError(f"{text[:40]!r} is not an unsigned 64-bit integer")
    parsed = int(text)
    if parsed > UNSIGNED_INT64_MAX:
        raise BadUserInputError(f"{text} is larger than 2^64 - 1")
    return parsed


def _parse_decimal(value: object) -> decimal.Decimal:
    # Strings as serialized, and JSON numbers as clients naturally write them; never booleans.
    # Strawberry's own Decimal took NaN, Infinity and 1e400, which then failed in arithmetic
    # or in Postgres as an unexpected error.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadUserInputError('Decimal takes a string such as "12.50" (or a number)')
    text = str(value).strip()
    try:
        parsed = decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise BadUserInputError(f"{text[:40]!r} is not a decimal number") from None
    if not parsed.is_finite():
        raise BadUserInputError(f"{text[:40]!r} is not a finite decimal number")
    if parsed != 0 and parsed.adjusted() >= DECIMAL_WHOLE_DIGITS:
        raise BadUserInputError(
            f"{text[:40]!r} has more than {DECIMAL_WHOLE_DIGITS} digits before the point"
        )
    exponent = parsed.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if -exponent > DECIMAL_FRACTION_DIGITS and parsed != parsed.quantize(
        decimal.Decimal(1).scaleb(-DECIMAL_FRACTION_DIGITS)
    ):
        raise BadUserInputError(
            f"{text[:40]!r} has more than {DECIMAL_FRACTION_DIGITS} digits after the point"
        )
    return parsed


# Every subgraph schema is built with this map (kit.graphql.schema.build_schema).
SCALAR_MAP: Mapping[object, ScalarDefinition] = {
    UnsignedInt64: strawberry.scalar(
        name="UnsignedInt64",
        description="An unsigned 64-bit integer, serialized as a decimal string "
        '(e.g. "4294967296") because JSON numbers lose precision past 2^53.',
        serialize=_serialize_unsigned_int64,
        parse_value=_parse_unsigned_int64,
    ),
    decimal.Decimal: strawberry.scalar(
        name="Decimal",
        description='A fixed-point decimal number, serialized as a string (e.g. "12.50"): '
        f"finite, at most {DECIMAL_WHOLE_DIGITS} digits before the point and "
        f"{DECIMAL_FRACTION_DIGITS} after; a field may allow fewer (its description says).",
        serialize=str,
        parse_value=_parse_decimal,
    ),
}
