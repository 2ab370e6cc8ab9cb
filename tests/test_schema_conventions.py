"""The conventions every subgraph's schema keeps, checked on the SDL it exports.

- Every type, field, argument and enum value of ours carries a description: the SDL is the
  API's documentation in every client (GraphiQL, codegen, IDEs). Federation's own machinery
  (``_Service``, ``_Any``, ``_Entity``, ``_entities``, ``_service``) is not ours and is skipped.
- One error contract: every payload's ``userErrors`` is a list of a concrete type that
  implements ``DisplayableError`` and has its own ``...ErrorCode`` enum as ``code``.
- Each mutation returns its own payload type.
- Whatever is ``@deprecated`` says why in its reason and names its replacement in backticks
  (a sibling such as `` `kind` ``, or a coordinate such as `` `Customer.email` ``) that exists
  and is not deprecated itself: the reason is all a client's IDE shows when it strikes through
  a field, so it must say what to use instead."""

from __future__ import annotations

import re

import pytest
from graphql import (
    DEFAULT_DEPRECATION_REASON,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
)

from cli.compose import export_sdl
from cli.stack import SUBGRAPHS

FEDERATION_TYPES = frozenset({"_Service", "_Any", "_Entity", "_FieldSet", "FieldSet"})
FEDERATION_FIELDS = frozenset({"_entities", "_service"})


def undescribed(schema: GraphQLSchema) -> list[str]:
    """Coordinates (``Type``, ``Type.field``, ``Type.field(arg:)``, ``Enum.VALUE``) of our
    schema elements without a description."""
    missing: list[str] = []

    def check(coordinate: str, description: str | None) -> None:
        if not (description and description.strip()):
            missing.append(coordinate)

    for name, type_ in sorted(schema.type_map.items()):
        if name.startswith("__") or name in FEDERATION_TYPES:
            continue
        if name.startswith(("join__", "link__")) or type_ in _specified_scalars():
            continue
        check(name, type_.description)
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in type_.fields.items():
                if field_name in FEDERATION_FIELDS:
                    continue
                check(f"{name}.{field_name}", field.description)
                for arg_name, arg in field.args.items():
                    check(f"{name}.{field_name}({arg_name}:)", arg.description)
        elif isinstance(type_, GraphQLInputObjectType):
            for field_name, input_field in type_.fields.items():
                check(f"{name}.{field_name}", input_field.description)
        elif isinstance(type_, GraphQLEnumType):
            for value_name, value in type_.values.items():
                check(f"{name}.{value_name}", value.description)
        elif isinstance(type_, GraphQLUnionType):
            pass
    return missing


def _specified_scalars() -> set[object]:
    from graphql import specified_scalar_types

    return set(specified_scalar_types)


def subgraph_schema(subgraph: str) -> GraphQLSchema:
    return build_schema(export_sdl(subgraph), assume_valid_sdl=True)


@pytest.mark.parametrize("subgraph", list(SUBGRAPHS))
def test_every_type_field_argument_and_enum_value_is_described(subgraph: str) -> None:
    missing = undescribed(subgraph_schema(subgraph))
    assert missing == [], f"{subgraph}: describe {', '.join(missing)}"


def test_the_lint_catches_each_kind_of_missing_description() -> None:
    schema = build_schema(
        '''
        """Described."""
        type Query {
          """Described."""
          good(
            """Described."""
            id: ID
          ): Kind
          bare(arg: ID): Int
        }
        enum Kind {
          """Described."""
          ONE
          TWO
        }
        """Described."""
        input Filter {
          plain: Int
        }
        scalar _Any
        type _Service { sdl: String }
        '''
    )
    assert undescribed(schema) == [
        "Filter.plain",
        "Kind",
        "Kind.TWO",
        "Query.bare",
        "Query.bare(arg:)",
    ]


def _payload_types(schema: GraphQLSchema) -> dict[str, GraphQLObjectType]:
    """Every object type with a ``userErrors`` field, by name."""
    return {
        name: type_
        for name, type_ in schema.type_map.items()
        if isinstance(type_, GraphQLObjectType) and "userErrors" in type_.fields
    }


@pytest.mark.parametrize("subgraph", list(SUBGRAPHS))
def test_every_user_error_type_implements_displayable_error(subgraph: str) -> None:
    schema = subgraph_schema(subgraph)
    payloads = _payload_types(schema)
    if schema.mutation_type is None:
        assert payloads == {}
        return
    assert payloads, f"{subgraph} has mutations but no payload with userErrors"
    interface = schema.type_map["DisplayableError"]
    assert isinstance(interface, GraphQLInterfaceType)
    assert set(interface.fields) == {"field", "message"}
    for name, payload in payloads.items():
        field_type = payload.fields["userErrors"].type
        # [XUserError!]! of a concrete type: clients read `code` without a fragment.
        assert isinstance(field_type, GraphQLNonNull), name
        assert isinstance(field_type.of_type, GraphQLList), name
        item = field_type.of_type.of_type
        assert isinstance(item, GraphQLNonNull), name
        error_type = item.of_type
        assert isinstance(error_type, GraphQLObjectType), name
        assert interface in error_type.interfaces, f"{error_type.name} is not a DisplayableError"
        code = error_type.fields["code"].type
        assert isinstance(code, GraphQLNonNull), error_type.name
        assert isinstance(code.of_type, GraphQLEnumType), error_type.name
        assert code.of_type.name.endswith("ErrorCode"), error_type.name


@pytest.mark.parametrize("subgraph", list(SUBGRAPHS))
def test_each_mutation_returns_its_own_payload(subgraph: str) -> None:
    schema = subgraph_schema(subgraph)
    if schema.mutation_type is None:
        return
    returned: dict[str, list[str]] = {}
    for name, field in schema.mutation_type.fields.items():
        payload = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        assert isinstance(payload, GraphQLObjectType), name
        assert payload.name == name[0].upper() + name[1:] + "Payload", name
        assert list(field.args) == ["input"], name
        returned.setdefault(payload.name, []).append(name)
    shared = {payload: names for payload, names in returned.items() if len(names) > 1}
    assert shared == {}


def test_points_transaction_source_is_deprecated_in_favour_of_kind() -> None:
    transaction = subgraph_schema("points").type_map["PointsTransaction"]
    assert isinstance(transaction, GraphQLObjectType)
    reason = transaction.fields["source"].deprecation_reason
    assert reason is not None
    assert "`kind`" in reason
    assert transaction.fields["kind"].deprecation_reason is None


_BACKTICKED = re.compile(r"`([^`]+)`")


def deprecation_problems(schema: GraphQLSchema) -> list[str]:
    """Deprecated elements whose reason is missing or names no existing replacement."""
    problems: list[str] = []

    def resolves(name: str, siblings: dict[str, str | None]) -> bool:
        """``name`` is a live sibling, a type, or a ``Type.member`` coordinate of the schema."""
        if name in siblings:
            return siblings[name] is None
        type_name, _, member = name.partition(".")
        type_ = schema.type_map.get(type_name)
        if type_ is None or not member:
            return type_ is not None
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            found = type_.fields.get(member)
        elif isinstance(type_, GraphQLEnumType):
            found = type_.values.get(member)
        else:
            return False
        return found is not None and found.deprecation_reason is None

    def check(
        coordinate: str, own: str, reason: str | None, siblings: dict[str, str | None]
    ) -> None:
        if reason is None:
            return
        if not reason.strip() or reason == DEFAULT_DEPRECATION_REASON:
            problems.append(f"{coordinate}: say why in @deprecated(reason:)")
            return
        named = [name for name in _BACKTICKED.findall(reason) if name != own]
        if not any(resolves(name, siblings) for name in named):
            problems.append(f"{coordinate}: name the replacement in backticks in the reason")

    for name, type_ in sorted(schema.type_map.items()):
        if name.startswith("__"):
            continue
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            fields = {f: field.deprecation_reason for f, field in type_.fields.items()}
            for field_name, field in type_.fields.items():
                check(f"{name}.{field_name}", field_name, field.deprecation_reason, fields)
                args = {a: arg.deprecation_reason for a, arg in field.args.items()}
                for arg_name, arg in field.args.items():
                    check(
                        f"{name}.{field_name}({arg_name}:)", arg_name, arg.deprecation_reason, args
                    )
        elif isinstance(type_, GraphQLInputObjectType):
            inputs = {f: field.deprecation_reason for f, field in type_.fields.items()}
            for field_name, input_field in type_.fields.items():
                check(f"{name}.{field_name}", field_name, input_field.deprecation_reason, inputs)
        elif isinstance(type_, GraphQLEnumType):
            values = {v: value.deprecation_reason for v, value in type_.values.items()}
            for value_name, value in type_.values.items():
                check(f"{name}.{value_name}", value_name, value.deprecation_reason, values)
    return problems


@pytest.mark.parametrize("subgraph", list(SUBGRAPHS))
def test_every_deprecation_says_why_and_names_its_replacement(subgraph: str) -> None:
    assert deprecation_problems(subgraph_schema(subgraph)) == []


def test_the_deprecation_lint_catches_each_kind_of_bad_reason() -> None:
    schema = build_schema(
        """
        type Query {
          shop: Shop
          old(first: Int @deprecated(reason: "Use `limit`."), limit: Int): Int
        }
        type Shop {
          name: String
          title: String @deprecated(reason: "Use `name`: same text.")
          coordinate: String @deprecated(reason: "Moved to `Query.shop`.")
          bare: String @deprecated
          empty: String @deprecated(reason: "")
          vague: String @deprecated(reason: "Going away soon.")
          self: String @deprecated(reason: "`self` is going away.")
          missing: String @deprecated(reason: "Use `nowhere`.")
          chained: String @deprecated(reason: "Use `title`.")
        }
        enum Plan { FREE, BASIC @deprecated(reason: "Use `FREE`."), GOLD @deprecated(reason: "x") }
        input ShopInput { name: String, title: String @deprecated(reason: "Use `Shop`.") }
        """
    )

    assert deprecation_problems(schema) == [
        "Plan.GOLD: name the replacement in backticks in the reason",
        "Shop.bare: say why in @deprecated(reason:)",
        "Shop.empty: say why in @deprecated(reason:)",
        "Shop.vague: name the replacement in backticks in the reason",
        "Shop.self: name the replacement in backticks in the reason",
        "Shop.missing: name the replacement in backticks in the reason",
        "Shop.chained: name the replacement in backticks in the reason",
    ]
