"""Validation that costs little per request even when every request's literals differ.

Strawberry's ``ValidationCache`` hits only for the very same document. Clients that inline
their values (``customers(query: "points_balance:<=512")``, a different number each time) miss
it every time, and graphql-core's validation was a third of a subgraph's CPU under such load
(py-spy, bench/api.py). But almost every rule checks the document's *shape* — fields,
arguments, fragments, variables, directives — and only a few look at literal values. So:

- the **shape** of a document is its AST with each Int, Float and String literal replaced by a
  placeholder of its kind, numbered by distinct value (``"a", "b", "a"`` → ``s0, s1, s0``):
  two documents of one shape differ only in those literals, and agree on which of them are
  equal, which is all ``OverlappingFieldsCanBeMerged`` compares;
- the **shape rules** run once per shape (remembered when they pass);
- the **value rules** (a literal's type, its NUL-and-digits checks, ``@oneOf`` and null
  checks: ``VALUE_RULES`` in kit.graphql.schema) run on every document not seen before;
- an identical document is answered from an exact cache, as before.

Enum, Boolean and null literals stay in the shape: validity depends on which one is there.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Final, Generic, TypeVar

from graphql import (
    DocumentNode,
    FloatValueNode,
    GraphQLError,
    GraphQLSchema,
    IntValueNode,
    Node,
    StringValueNode,
    validate,
)
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from subgraphs.kit.observability import CACHE_LOOKUPS

# Strawberry adds these two to every validation it runs itself; run here, they are ours to add.
STRAWBERRY_RULES: Final = (MaybeNullValidationRule, OneOfInputValidationRule)
_LITERALS: Final[dict[type[Node], str]] = {
    IntValueNode: "i",
    FloatValueNode: "f",
    StringValueNode: "s",
}
KeyT = TypeVar("KeyT")
ValueT = TypeVar("ValueT")


def document_shape(document: DocumentNode) -> tuple[object, ...]:
    """The document with its Int, Float and String literals replaced by numbered placeholders
    (equal values, equal placeholders), as a hashable tuple."""
    numbers: dict[tuple[str, str], int] = {}
    out: list[object] = []

    def walk(node: Node) -> None:
        kind = _LITERALS.get(type(node))
        if kind is not None:
            value = (kind, node.value)  # type: ignore[attr-defined]
            out.append(f"{kind}{numbers.setdefault(value, len(numbers))}")
            return
        out.append(node.kind)
        for key in node.keys:
            if key == "loc":
                continue
            child = getattr(node, key)
            if isinstance(child, Node):
                walk(child)
            elif isinstance(child, tuple | list):
                out.append(len(child))
                for item in child:
                    if isinstance(item, Node):
                        walk(item)
                    else:
                        out.append(item)
            else:
                out.append(child)

    walk(document)
    return tuple(out)


class _Lru(Generic[KeyT, ValueT]):
    """A bounded map, least recently used first out (one process, one event loop)."""

    def __init__(self, maxsize: int) -> None:
        self._items: OrderedDict[KeyT, ValueT] = OrderedDict()
        self.maxsize = maxsize

    def remember(self, key: KeyT, value: ValueT) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def recall(self, key: KeyT) -> ValueT | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value


class ShapeValidation:
    """The caches and rules of one schema (shared by every request to it)."""

    def __init__(
        self,
        shape_rules: Sequence[type[ASTValidationRule]],
        value_rules: Sequence[type[ASTValidationRule]],
        *,
        maxsize: int = 1024,
    ) -> None:
        self.shape_rules = tuple(shape_rules)
        self.value_rules = (*value_rules, *STRAWBERRY_RULES)
        self._exact: _Lru[DocumentNode, tuple[GraphQLError, ...]] = _Lru(maxsize)
        self._valid_shapes: _Lru[tuple[object, ...], bool] = _Lru(maxsize)
        # How often each set of rules ran (for tests and metrics).
        self.shape_runs = 0
        self.value_runs = 0

    def validate(self, schema: GraphQLSchema, document: DocumentNode) -> list[GraphQLError]:
        exact = self._exact.recall(document)
        if exact is not None:
            CACHE_LOOKUPS.labels("validation_document", "hit").inc()
            return list(exact)
        CACHE_LOOKUPS.labels("validation_document", "miss").inc()
        shape = document_shape(document)
        errors: list[GraphQLError] = []
        known_shape = self._valid_shapes.recall(shape) is not None
        CACHE_LOOKUPS.labels("validation_shape", "hit" if known_shape else "miss").inc()
        if not known_shape:
            errors = validate(schema, document, self.shape_rules)
            self.shape_runs += 1
            if not errors:
                self._valid_shapes.remember(shape, True)
        # Whatever the shape said: full validation would report bad literals too.
        errors = [*errors, *validate(schema, document, self.value_rules)]
        self.value_runs += 1
        self._exact.remember(document, tuple(errors))
        return errors


class ShapeValidationCache(SchemaExtension):
    """Validates with ``ShapeValidation`` (one per schema, built by ``build_schema``)."""

    def __init__(self, validation: ShapeValidation) -> None:
        super().__init__()
        self._validation = validation

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        context.pre_execution_errors = self._validation.validate(
            context.schema._schema, context.graphql_document
        )
        yield
