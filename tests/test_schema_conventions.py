"""The conventions every subgraph's schema keeps, checked on the SDL it exports.

- Every type, field, argument and enum value of ours carries a description: the SDL is the
  API's documentation in every client (GraphiQL, codegen, IDEs). Federation's own machinery
  (``_Service``, ``_Any``, ``_Entity``, ``_entities``, ``_service``) is not ours and is skipped.
- One error contract: every payload's ``userErrors`` is a list of a concrete type that
  implements ``DisplayableError`` and has its own ``...ErrorCode`` enum as ``code``.
- Each mutation returns its own payload type."""

from __future__ import annotations

import pytest
from graphql import (
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
