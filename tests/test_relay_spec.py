"""The composed supergraph keeps the Relay connection spec on every list: each ``*Connection``
has ``edges: [XEdge!]!``, ``nodes: [X!]!`` and ``pageInfo: PageInfo!``; each edge has ``node``
and ``cursor: String!``; ``PageInfo`` has its four fields; every field returning a connection
takes ``first: Int, after: String, last: Int, before: String`` and ``reverse``.

graphql-schema-linter's relay rules run over the API schema too (tests/test_schema_linter.py),
but its arguments rule accepts either direction alone, so it would not miss ``last`` /
``before``: this check stays."""

from __future__ import annotations

from graphql import (
    DocumentNode,
    FieldDefinitionNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    parse,
    print_ast,
)

from cli.stack import SUPERGRAPH_FILE

# Every list of the API: a new one must be a connection too (and appear here).
CONNECTION_FIELDS = {
    ("Query", "customers"),
    ("Query", "rewards"),
    ("Query", "campaigns"),
    ("Query", "webhookDeliveries"),
    ("Query", "gdprRequests"),
    ("Query", "referrals"),
    ("Query", "notificationDeliveries"),
    ("Query", "dataImports"),
    ("Query", "campaignSuggestions"),
    ("Query", "merchantReferrals"),
    ("MerchantReferralProgram", "referredShops"),
    ("DataImport", "errorLog"),
    ("Customer", "pointsTransactions"),
    ("Customer", "redemptions"),
    ("Customer", "referrals"),
}
CONNECTION_ARGUMENTS = {"first": "Int", "after": "String", "last": "Int", "before": "String"}
PAGE_INFO = {
    "hasNextPage": "Boolean!",
    "hasPreviousPage": "Boolean!",
    "startCursor": "String",
    "endCursor": "String",
}


def _object_fields(document: DocumentNode) -> dict[str, dict[str, FieldDefinitionNode]]:
    types: dict[str, dict[str, FieldDefinitionNode]] = {}
    for definition in document.definitions:
        if isinstance(definition, ObjectTypeDefinitionNode | ObjectTypeExtensionNode):
            fields = types.setdefault(definition.name.value, {})
            fields.update({field.name.value: field for field in definition.fields or ()})
    return types


def _named(type_text: str) -> str:
    return type_text.strip("[]!")


def relay_violations(document: DocumentNode) -> tuple[list[str], set[tuple[str, str]]]:
    """What breaks the spec in ``document``, and the fields found returning a connection."""
    types = _object_fields(document)
    problems: list[str] = []
    returning: set[tuple[str, str]] = set()
    for type_name, fields in types.items():
        if type_name.endswith("Connection"):
            item = type_name.removesuffix("Connection")
            wanted = {"edges": f"[{item}Edge!]!", "nodes": f"[{item}!]!", "pageInfo": "PageInfo!"}
            for name, type_text in wanted.items():
                found = fields.get(name)
                if found is None or print_ast(found.type) != type_text:
                    problems.append(f"{type_name}.{name} must be {type_text}")
        if type_name.endswith("Edge"):
            item = type_name.removesuffix("Edge")
            node = fields.get("node")
            if node is None or _named(print_ast(node.type)) != item:
                problems.append(f"{type_name}.node must be {item}")
            cursor = fields.get("cursor")
            if cursor is None or print_ast(cursor.type) != "String!":
                problems.append(f"{type_name}.cursor must be String!")
        for field_name, field in fields.items():
            if not _named(print_ast(field.type)).endswith("Connection"):
                continue
            returning.add((type_name, field_name))
            arguments = {argument.name.value: argument for argument in field.arguments or ()}
            for name, type_text in CONNECTION_ARGUMENTS.items():
                argument = arguments.get(name)
                if argument is None or print_ast(argument.type) != type_text:
                    problems.append(f"{type_name}.{field_name} must take {name}: {type_text}")
            reverse = arguments.get("reverse")
            if reverse is None or _named(print_ast(reverse.type)) != "Boolean":
                problems.append(f"{type_name}.{field_name} must take reverse: Boolean")
    page_info = types.get("PageInfo", {})
    for name, type_text in PAGE_INFO.items():
        found = page_info.get(name)
        if found is None or print_ast(found.type) != type_text:
            problems.append(f"PageInfo.{name} must be {type_text}")
    return problems, returning


def test_the_supergraph_keeps_the_relay_connection_spec() -> None:
    problems, returning = relay_violations(parse(SUPERGRAPH_FILE.read_text()))
    assert problems == []
    assert returning == CONNECTION_FIELDS


PLANTED = """
type Query {
  things(first: Int, after: String, last: Int, reverse: Boolean! = false): ThingConnection!
}
type Thing { id: ID! }
type ThingEdge { node: Thing! cursor: String }
type ThingConnection { edges: [ThingEdge!]! pageInfo: PageInfo! }
type PageInfo { hasNextPage: Boolean! endCursor: String }
"""


def test_the_check_catches_what_breaks_the_spec() -> None:
    problems, returning = relay_violations(parse(PLANTED))
    assert returning == {("Query", "things")}
    assert sorted(problems) == sorted(
        [
            "Query.things must take before: String",
            "ThingEdge.cursor must be String!",
            "ThingConnection.nodes must be [Thing!]!",
            "PageInfo.hasPreviousPage must be Boolean!",
            "PageInfo.startCursor must be String",
        ]
    )
