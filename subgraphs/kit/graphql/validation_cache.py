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
  checks: ``VALUE_RULES`` in kit.graphql.schema) would run on every document not seen before,
  and walking the document with type information was still most of validation's cost
  (py-spy, bench/api.py). Every part of them that does not look at a literal's value gives the
  same answer for every document of a shape, so a shape remembers, for each literal, what
  its type asks of it (``LiteralCheck``: parse by its scalar, no NUL, digits), and a new
  document of a known shape only has its literals checked. A literal that fails sends the
  document to the value rules, which word the errors as before; a shape with a literal no
  check covers (inside a JSON value) runs the value rules every time;
- an identical document is answered from an exact cache, as before.

Enum, Boolean and null literals stay in the shape: validity depends on which one is there.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any, Final, Generic, TypeVar, cast

from graphql import (
    DocumentNode,
    FloatValueNode,
    GraphQLError,
    GraphQLSchema,
    IntValueNode,
    Node,
    StringValueNode,
    ValidationRule,
    ValueNode,
    validate,
)
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from subgraphs.kit.graphql.input_checks import LiteralCheck, literal_check
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


def _keys_of(node_type: type[Node]) -> tuple[str, ...]:
    """A node type's fields but ``loc``, once per type: graphql-core computes ``Node.keys``
    from the dataclass fields on every access, which was most of the walk's cost."""
    keys = _NODE_KEYS.get(node_type)
    if keys is None:
        keys = _NODE_KEYS[node_type] = tuple(key for key in node_type.keys if key != "loc")
    return keys


_NODE_KEYS: dict[type[Node], tuple[str, ...]] = {}


def document_shape(document: DocumentNode) -> tuple[object, ...]:
    """The document with its Int, Float and String literals replaced by numbered placeholders
    (equal values, equal placeholders), as a hashable tuple."""
    return shape_and_literals(document)[0]


def shape_and_literals(document: DocumentNode) -> tuple[tuple[object, ...], list[ValueNode]]:
    """``document_shape``, and the literals it took out, in the order it met them (the same
    order for every document of one shape)."""
    numbers: dict[tuple[str, str], int] = {}
    out: list[object] = []
    literals: list[ValueNode] = []

    def walk(node: Node) -> None:
        kind = _LITERALS.get(type(node))
        if kind is not None:
            value = (kind, node.value)  # type: ignore[attr-defined]
            out.append(f"{kind}{numbers.setdefault(value, len(numbers))}")
            literals.append(node)  # type: ignore[arg-type]
            return
        out.append(node.kind)
        for key in _keys_of(type(node)):
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
    return tuple(out), literals


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


# What a shape seen valid remembers: each literal's check, in ``shape_and_literals`` order,
# or None where some literal has none (the value rules then run for each new document).
LiteralChecks = tuple[LiteralCheck, ...] | None


def _literal_checks_rule(found: dict[int, LiteralCheck | None]) -> type[ValidationRule]:
    """A rule that reports nothing: it notes, by node identity, each literal's check while
    validation walks the document with type information."""

    class LiteralChecksRule(ValidationRule):
        def _note(self, node: ValueNode, _key: Any, parent: Any, *_: Any) -> None:
            context = self.context
            found[id(node)] = literal_check(
                context.get_input_type(), context.get_parent_input_type(), parent
            )

        enter_int_value = enter_float_value = enter_string_value = _note

    return LiteralChecksRule


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
        self._valid_shapes: _Lru[tuple[object, ...], tuple[LiteralChecks]] = _Lru(maxsize)
        # How often each set of rules ran, and how often literals alone were checked (for
        # tests and metrics).
        self.shape_runs = 0
        self.value_runs = 0
        self.literal_runs = 0

    def validate(self, schema: GraphQLSchema, document: DocumentNode) -> list[GraphQLError]:
        exact = self._exact.recall(document)
        if exact is not None:
            CACHE_LOOKUPS.labels("validation_document", "hit").inc()
            return list(exact)
        CACHE_LOOKUPS.labels("validation_document", "miss").inc()
        shape, literals = shape_and_literals(document)
        known = self._valid_shapes.recall(shape)
        CACHE_LOOKUPS.labels("validation_shape", "miss" if known is None else "hit").inc()
        if known is None:
            shape_errors = validate(schema, document, self.shape_rules)
            self.shape_runs += 1
            found: dict[int, LiteralCheck | None] = {}
            # Whatever the shape said: full validation would report bad literals too.
            value_errors = validate(
                schema, document, (*self.value_rules, _literal_checks_rule(found))
            )
            self.value_runs += 1
            if not shape_errors:
                checks = [found.get(id(node)) for node in literals]
                covered = all(check is not None for check in checks)
                self._valid_shapes.remember(
                    shape, (tuple(cast(list[LiteralCheck], checks)) if covered else None,)
                )
            errors = [*shape_errors, *value_errors]
        else:
            errors = self._value_errors(schema, document, literals, known[0])
        self._exact.remember(document, tuple(errors))
        return errors

    def _value_errors(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        literals: list[ValueNode],
        checks: LiteralChecks,
    ) -> list[GraphQLError]:
        """The value rules' errors for a document of a shape seen valid."""
        if checks is not None and all(
            check.passes(node) for check, node in zip(checks, literals, strict=True)
        ):
            self.literal_runs += 1
            return []
        self.value_runs += 1
        return validate(schema, document, self.value_rules)


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
