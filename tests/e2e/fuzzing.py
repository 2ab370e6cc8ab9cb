"""Long because it draws every scalar shape that broke the API before, each with why.

What the fuzz test sends: hypothesis-graphql operations over the public schema, with every
scalar drawn from the shapes that broke the API before (issue 11), some arguments moved into
variables, and the body serialized as ASCII JSON so lone surrogates travel as ``\\ud800``.

Why arguments move into variables: a lone surrogate cannot be written in a GraphQL document
the router accepts (its lexer refuses it, and any ``\\uD800`` escape, as a parse error), so
only a JSON variable carries one to a subgraph; and subgraphs check literals and variables on
two different paths (kit.graphql.input_checks), both of which must hold.
"""

from __future__ import annotations

import base64
import json
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone
from random import Random
from typing import Any

import graphql
from graphql import (
    ArgumentNode,
    BooleanValueNode,
    DocumentNode,
    EnumValueNode,
    FloatValueNode,
    GraphQLInputType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLSchema,
    IntValueNode,
    ListTypeNode,
    ListValueNode,
    NamedTypeNode,
    NameNode,
    NonNullTypeNode,
    NullValueNode,
    ObjectFieldNode,
    ObjectValueNode,
    OperationDefinitionNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    TypeNode,
    Undefined,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    visit,
)
from graphql.language.visitor import REMOVE
from hypothesis import strategies as st

# Characters no column can store or no encoder can take: NUL (Postgres text and jsonb refuse
# it) and lone surrogates (no UTF-8 encoding), alone and mixed.
UNSTORABLE = ("\x00", "\ud800", "\udfff", "\udbff", "a\x00b", "\x00\ud800")
# Decimal text that a scalar, a column or arithmetic cannot take, and some it can.
DECIMAL_TEXTS = (
    "NaN",
    "-NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1e400",
    "-1e400",
    "1e-400",
    "1E+17",
    "1E+18",
    "999999999999999999",
    "9999999999999999999",
    "123456789012.99",
    "0.0000000001",
    "0.00000000001",
    "12.345",
    "12.50",
    "0",
    "-0",
    "-1",
    "100",
    "100.01",
    " 1 ",
    "1_000",
    "0x10",
    "",
    "١٢",  # Arabic-Indic digits: Decimal() takes them, a column should not care
)
DATETIME_TEXTS = (
    "2026-01-01T00:00:00Z",
    "2026-01-01T00:00:00+00:00",
    "2026-01-01T00:00:00",  # no zone
    "2026-01-01",
    "0001-01-01T00:00:00+14:00",  # before the first representable UTC instant
    "9999-12-31T23:59:59-14:00",  # after the last
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "2026-13-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "24:00",
    "now",
    "",
)
# Search filters (`customers(query:)`), with values a filter parser must refuse cleanly.
FILTER_TEXTS = (
    "email:ann@example.com",
    "points_balance:>=500",
    "points_balance:>=1e400",
    "points_balance:>=NaN",
    "points_balance:>=99999999999999999999999999",
    "points_balance:<-1",
    "total_spent:>=100",
    "total_spent:>=Infinity",
    "total_spent:>=1e400",
    "total_spent:>=0.0000000000001",
    "tier:gid://loyalnest/VipTier/not-a-uuid",
    "tier:",
    "segment:Champions",
    "segment:",
    "email:",
    ":",
    "::::",
    "unknown:1",
    "email:a points_balance:>=1 total_spent:<=2 segment:At_Risk",
    'email:"quoted value"',
    "points_balance:>=\x00",
)
LOCALES = ("en", "fr", "fr-CA", "zz", "", "EN_us", "x" * 40)
NAME_CHARACTERS = string.ascii_letters + string.digits + "_"


@dataclass(frozen=True)
class RawNumber:
    """A JSON number written as its text (``1e400``, a 40-digit integer): what a client can
    send and Python's float cannot hold."""

    text: str


def to_json(value: object) -> str:
    """``value`` as ASCII JSON: every non-ASCII character (lone surrogates included) as a
    ``\\uXXXX`` escape, which httpx's own encoder (UTF-8, ``ensure_ascii=False``) cannot do."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, RawNumber):
        return value.text
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=True)
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k), ensure_ascii=True)}:{to_json(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, Sequence):
        return "[" + ",".join(to_json(item) for item in value) + "]"
    raise TypeError(f"not JSON: {value!r}")


def _string(value: str) -> ValueNode:
    return StringValueNode(value=value)


def _int(value: int) -> ValueNode:
    return IntValueNode(value=str(value))


def _literal(value: object) -> ValueNode:
    """A GraphQL literal of a JSON-like value (keys are GraphQL names here)."""
    if value is None:
        return NullValueNode()
    if isinstance(value, bool):
        return BooleanValueNode(value=value)
    if isinstance(value, int):
        return _int(value)
    if isinstance(value, float):
        return FloatValueNode(value=repr(value))
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dict):
        return ObjectValueNode(
            fields=tuple(
                ObjectFieldNode(name=NameNode(value=k), value=_literal(v)) for k, v in value.items()
            )
        )
    if isinstance(value, list):
        return ListValueNode(values=tuple(_literal(item) for item in value))
    raise TypeError(f"no literal for {value!r}")


def _json_value(node: ValueNode) -> object:
    """The variable value a literal stands for; numbers keep their text."""
    if isinstance(node, NullValueNode):
        return None
    if isinstance(node, BooleanValueNode):
        return node.value
    if isinstance(node, IntValueNode | FloatValueNode):
        return RawNumber(node.value)
    if isinstance(node, StringValueNode | EnumValueNode):
        return node.value
    if isinstance(node, ListValueNode):
        return [_json_value(item) for item in node.values]
    if isinstance(node, ObjectValueNode):
        return {f.name.value: _json_value(f.value) for f in node.fields}
    raise TypeError(f"not a constant literal: {node!r}")


@dataclass(frozen=True)
class Seeds:
    """Real values of the fuzz shop, so some generated inputs find rows and resolvers run
    past their lookups: global IDs by type name, and referral codes."""

    ids: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # Referral codes, cursors the API returned, search filters that match.
    texts: Sequence[str] = ()


def _with_unstorable(text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda a, bad, b: a + bad + b, text, st.sampled_from(UNSTORABLE), text)


def _base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def scalar_strategies(schema: GraphQLSchema, seeds: Seeds) -> dict[str, st.SearchStrategy[Any]]:
    """A strategy of literals for every scalar of the schema, built-in ones included."""
    node_types = sorted(t.name for t in schema.get_implementations(_node(schema)).objects)
    short_text = st.text(max_size=12)
    unstorable = _with_unstorable(short_text)
    long_text = st.sampled_from((300, 5_000, 100_000)).flatmap(
        lambda n: st.sampled_from(("x" * n, "é" * n, "x" * n + "\x00", "\ud800" * n))
    )
    json_scalar = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.integers(min_value=2**63 - 2, max_value=2**64 + 2)
        | st.floats()
        | short_text
        | unstorable
    )
    json_like = st.recursive(
        json_scalar,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(short_text, children, max_size=3)
        ),
        max_leaves=6,
    )
    well_shaped_position = st.lists(
        st.integers(min_value=-(2**70), max_value=2**70)
        | short_text
        | unstorable
        | st.datetimes(timezones=st.none() | st.just(UTC)).map(datetime.isoformat)
        | st.uuids().map(str),
        min_size=0,
        max_size=9,
    )
    cursor = st.one_of(
        well_shaped_position.map(lambda p: _base64url(json.dumps(p).encode())),
        json_like.map(lambda v: _base64url(json.dumps(v).encode("utf-8", "surrogatepass"))),
        st.binary(max_size=24).map(_base64url),
        st.sampled_from(
            ("W10", "WyJ4Il0", "e30", "bnVsbA", "WzFd", "WyIiXQ", "=", "!!", "A" * 2000)
        ),
    )
    uuid = st.uuids().map(str)
    well_formed_gid = st.builds(
        lambda t, u: f"gid://loyalnest/{t}/{u}", st.sampled_from(node_types), uuid
    )
    malformed_gid = st.one_of(
        uuid,
        uuid.map(lambda u: f"gid://loyalnest/Customer/{u.upper()}"),
        uuid.map(lambda u: f"gid://loyalnest/Customer/{u}/extra"),
        uuid.map(lambda u: f"gid://loyalnest/customer/{u}"),
        uuid.map(lambda u: f"gid://shopify/Customer/{u}"),
        st.builds(
            lambda u, bad: f"gid://loyalnest/Customer/{u}{bad}", uuid, st.sampled_from(UNSTORABLE)
        ),
        st.sampled_from(
            ("gid://loyalnest/", "gid://loyalnest/Customer/", "gid://loyalnest/Customer/1")
        ),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
    )
    real_ids = [i for ids in seeds.ids.values() for i in ids]
    real_id = st.sampled_from(real_ids) if real_ids else well_formed_gid
    # Weights by repetition: real IDs often enough that lookups find rows.
    id_text = st.one_of(
        real_id,
        real_id,
        real_id,
        well_formed_gid,
        malformed_gid,
        malformed_gid,
        unstorable,
        short_text,
    )
    decimal_text = st.one_of(
        st.sampled_from(DECIMAL_TEXTS),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.integers().map(str),
        unstorable,
    )
    datetime_text = st.one_of(
        st.sampled_from(DATETIME_TEXTS),
        st.datetimes(
            timezones=st.sampled_from(
                (None, UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=14)))
            )
        ).map(datetime.isoformat),
        unstorable,
    )
    real_text = st.sampled_from(list(seeds.texts)) if seeds.texts else short_text
    text = st.one_of(
        short_text,
        short_text,
        unstorable,
        unstorable,
        long_text,
        cursor,
        real_text,
        real_text,
        st.sampled_from(FILTER_TEXTS),
        st.sampled_from(LOCALES),
        decimal_text,
        datetime_text,
        id_text,
    )
    page_size = st.one_of(
        st.integers(min_value=0, max_value=5),
        st.sampled_from((20, 99, 100, 101, -1)),
        st.integers(min_value=-(2**31), max_value=2**31 - 1),
    )
    out_of_int32 = st.sampled_from((2**31, -(2**31) - 1, 2**63, 10**40))
    integer = st.one_of(page_size, page_size, page_size, out_of_int32)
    json_names = st.dictionaries(
        st.text(NAME_CHARACTERS, min_size=1, max_size=6).filter(lambda s: not s[0].isdigit()),
        json_scalar.filter(lambda v: not isinstance(v, float)),
        max_size=3,
    )
    strategies: dict[str, st.SearchStrategy[Any]] = {
        "String": text.map(_string),
        "ID": id_text.map(_string) | st.integers(min_value=-(2**40), max_value=2**40).map(_int),
        "Int": integer.map(_int),
        "Float": st.floats(allow_nan=False, allow_infinity=False).map(_literal),
        "Boolean": st.booleans().map(_literal),
        "Decimal": decimal_text.map(_string)
        | st.sampled_from(("1e400", "1.5", "-1e-400", "1" + "0" * 40)).map(
            lambda t: FloatValueNode(value=t) if "e" in t or "." in t else IntValueNode(value=t)
        ),
        "UnsignedInt64": st.one_of(
            st.integers(min_value=0, max_value=2**64 + 5).map(str).map(_string),
            st.integers(min_value=-5, max_value=2**31 - 1).map(_int),
            st.sampled_from((2**63 - 1, 2**63, 2**64, 10**30)).map(_int),
            st.sampled_from(("-1", "1.0", "1e3", "", "١٢", "0" * 30)).map(_string),
            unstorable.map(_string),
        ),
        "DateTime": datetime_text.map(_string),
        # Days: real ones (the range queries bound their span), edges, and not-days.
        "Date": st.one_of(
            st.dates().map(date.isoformat),
            st.sampled_from(
                (
                    "2026-11-20",
                    "2026-12-01",
                    "0001-01-01",
                    "9999-12-31",
                    "2026-02-30",
                    "20261201",
                    "2026-12-01T00:00:00",
                    "",
                )
            ),
            unstorable,
        ).map(_string),
        "JSON": json_names.map(_literal) | json_like.map(_json_literal),
    }
    unknown = set(_scalar_names(schema)) - set(strategies)
    assert not unknown, f"no fuzz strategy for the scalars {sorted(unknown)}: add one"
    return strategies


def _json_literal(value: object) -> ValueNode:
    # Keys that are not GraphQL names cannot be written as a literal: as a string, then.
    try:
        return _literal(value)
    except (TypeError, graphql.GraphQLError):
        return _string(json.dumps(value))


def _node(schema: GraphQLSchema) -> Any:
    node = schema.get_type("Node")
    assert node is not None
    return node


def _scalar_names(schema: GraphQLSchema) -> list[str]:
    return [
        name
        for name, type_ in schema.type_map.items()
        if isinstance(type_, graphql.GraphQLScalarType) and not name.startswith("__")
    ]


def _type_node(type_: GraphQLInputType) -> TypeNode:
    if isinstance(type_, GraphQLNonNull):
        inner = _type_node(type_.of_type)
        assert isinstance(inner, NamedTypeNode | ListTypeNode)
        return NonNullTypeNode(type=inner)
    if isinstance(type_, GraphQLList):
        return ListTypeNode(type=_type_node(type_.of_type))
    assert isinstance(type_, GraphQLNamedType)
    return NamedTypeNode(name=NameNode(value=type_.name))


@dataclass
class Operation:
    document: str
    variables: dict[str, object]

    def body(self) -> str:
        return to_json({"query": self.document, "variables": self.variables})


def lift_arguments(schema: GraphQLSchema, document: DocumentNode, rng: Random) -> Operation:
    """``document`` with about half its arguments turned into variables of the argument's type
    (the literal becoming the variable's value), and some optional ones left out: generated
    operations give every argument, and a connection given ``first``, ``last``, ``after`` and
    ``before`` at once never runs its resolver."""
    variables: dict[str, object] = {}
    definitions: list[VariableDefinitionNode] = []
    type_info = TypeInfo(schema)

    class Lifter(Visitor):
        def enter_argument(self, node: ArgumentNode, *_args: Any) -> Any:
            argument = type_info.get_argument()
            if argument is None:
                return None
            optional = not isinstance(argument.type, GraphQLNonNull) or (
                argument.default_value is not Undefined
            )
            if optional and rng.random() < 0.4:
                return REMOVE
            if rng.random() < 0.5:
                return None
            name = f"v{len(variables)}"
            variables[name] = _json_value(node.value)
            definitions.append(
                VariableDefinitionNode(
                    variable=VariableNode(name=NameNode(value=name)),
                    type=_type_node(argument.type),
                    directives=(),
                )
            )
            return ArgumentNode(name=node.name, value=VariableNode(name=NameNode(value=name)))

    lifted = visit(document, TypeInfoVisitor(type_info, Lifter()))
    [operation] = lifted.definitions
    assert isinstance(operation, OperationDefinitionNode)
    operation = replace(operation, variable_definitions=tuple(definitions))
    return Operation(graphql.print_ast(replace(lifted, definitions=(operation,))), variables)
