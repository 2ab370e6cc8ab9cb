"""The one check of client input every operation of every subgraph goes through, before
anything resolves: no string may hold what Postgres or a JSON encoder cannot take (NUL, lone
surrogates), variables must coerce, and a Decimal must fit the digits its input field
declares (``decimal_digits``).

Why here, and not in resolvers or in scalars: a client's values reach a subgraph in exactly
two ways, literals in the document and variables, and both are walked here with the schema's
types. A new resolver, argument or input type is covered without doing anything, which a
per-resolver check cannot promise, and GraphQL's own ``String`` and ``ID`` cannot be replaced
by kit scalars. Literals are checked by a validation rule, so with the validation cache a
document is walked once per process; variables, which change per request, in ``on_execute``
(graphql-core coerces them only after that hook).

Every refusal is ``BAD_USER_INPUT`` with ``extensions.field``, the path of the value (an
argument or variable name, then input field names and list indexes).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from graphql import (
    ArgumentNode,
    FieldNode,
    GraphQLError,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    ListValueNode,
    Node,
    ObjectFieldNode,
    OperationDefinitionNode,
    StringValueNode,
    Undefined,
    ValidationRule,
    ValueNode,
    VariableDefinitionNode,
    coerce_input_value,
    get_named_type,
    is_input_type,
    type_from_ast,
    validate_input_value,
)
from graphql.language import FloatValueNode, IntValueNode
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema_converter import GraphQLCoreConverter

from subgraphs.kit.errors import BAD_USER_INPUT
from subgraphs.kit.validation import string_refusal

FieldPath = list[str | int]

# Where an input field declares its digits (strawberry.field(metadata=...)).
_DIGITS_KEY: Final = "loyalnest.decimal_digits"


@dataclass(frozen=True, slots=True)
class DecimalDigits:
    """A Decimal column's precision (all digits) and scale (digits after the point), as in
    ``NUMERIC(precision, scale)``: what the field's column can hold."""

    precision: int
    scale: int

    def refusal(self, value: Decimal) -> str | None:
        if not value.is_finite():
            return None  # the Decimal scalar refuses it, with its own message
        whole_digits = self.precision - self.scale
        if value != 0 and value.adjusted() >= whole_digits:
            return f"must have at most {whole_digits} digits before the decimal point"
        quantum = Decimal(1).scaleb(-self.scale)
        if value != value.quantize(quantum):
            return f"must have at most {self.scale} digits after the decimal point"
        return None


def decimal_digits(precision: int, scale: int) -> dict[str, object]:
    """The metadata of a Decimal input field stored in ``NUMERIC(precision, scale)``:
    ``strawberry.field(description=..., metadata=decimal_digits(12, 2))``. A value that does
    not fit is refused with BAD_USER_INPUT before any resolver runs (it would overflow the
    column, or be rounded silently)."""
    return {_DIGITS_KEY: DecimalDigits(precision, scale)}


def _digits_of(field: GraphQLInputField) -> DecimalDigits | None:
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    metadata = getattr(definition, "metadata", None) or {}
    digits = metadata.get(_DIGITS_KEY)
    return digits if isinstance(digits, DecimalDigits) else None


def bad_input(
    message: str, path: FieldPath, nodes: Sequence[Node] | Node | None = None
) -> GraphQLError:
    where = ".".join(str(part) for part in path)
    return GraphQLError(
        f"{where}: {message}" if where else message,
        nodes,
        extensions={"code": BAD_USER_INPUT, "field": list(path)},
    )


def _untyped_refusals(value: object, path: FieldPath) -> Iterator[GraphQLError]:
    """Every string in a value of any shape (a JSON or _Any scalar, keys included)."""
    if isinstance(value, str):
        if (reason := string_refusal(value)) is not None:
            yield bad_input(reason, path)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _untyped_refusals(key, path)
            yield from _untyped_refusals(item, [*path, str(key)])
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _untyped_refusals(item, [*path, index])


def _variable_refusals(
    value: object, type_: GraphQLInputType, path: FieldPath
) -> Iterator[GraphQLError]:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList):
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            yield from _variable_refusals(
                item, type_.of_type, [*path, index] if isinstance(value, list) else path
            )
        return
    if isinstance(type_, GraphQLInputObjectType) and isinstance(value, Mapping):
        for key, item in value.items():
            field = type_.fields.get(key) if isinstance(key, str) else None
            item_path = [*path, str(key)]
            if field is None:
                yield from _untyped_refusals(item, item_path)  # coercion refuses it anyway
                continue
            digits = _digits_of(field)
            if digits is not None and isinstance(item, str | int | float):
                yield from _digits_refusal(digits, str(item), item_path)
            yield from _variable_refusals(item, field.type, item_path)
        return
    yield from _untyped_refusals(value, path)


def _digits_refusal(
    digits: DecimalDigits, text: str, path: FieldPath, node: Node | None = None
) -> Iterator[GraphQLError]:
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return  # not a decimal: the scalar says so
    if (reason := digits.refusal(value)) is not None:
        yield bad_input(reason, path, node)


def check_variables(
    schema: Any, operation: OperationDefinitionNode, variables: Mapping[str, Any] | None
) -> list[GraphQLError]:
    """The refusals of one operation's variables, each with the path of its value:
    unstorable strings and undeclared digits first, then what the types refuse (a Decimal
    that is not a finite number, an unknown enum value), and required variables not given.
    graphql-core's own coercion reported those without a code or a structured path."""
    inputs = dict(variables or {})
    refusals: list[GraphQLError] = []
    typed: list[tuple[VariableDefinitionNode, str, GraphQLInputType]] = []
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        type_ = type_from_ast(schema, definition.type)
        if not is_input_type(type_):
            continue  # validation refused the document already
        typed.append((definition, name, type_))
        if name in inputs:
            refusals.extend(_variable_refusals(inputs[name], type_, [name]))
    if refusals:
        return refusals
    for definition, name, type_ in typed:
        if name not in inputs:
            if isinstance(type_, GraphQLNonNull) and definition.default_value is None:
                refusals.append(bad_input(f"required ({type_}) but not given", [name], definition))
            continue
        if coerce_input_value(inputs[name], type_) is Undefined:

            def refused(
                error: GraphQLError,
                path: Sequence[str | int],
                name: str = name,
                node: VariableDefinitionNode = definition,
            ) -> None:
                refusals.append(bad_input(error.message, [name, *path], node))

            validate_input_value(inputs[name], type_, refused)
    return refusals


def _literal_path(node: Node, parent: Any, ancestors: Sequence[Any]) -> FieldPath:
    """The path of a literal: the response names of the fields around it, the argument (or
    variable default) it is given to, then input field names and list indexes. (The visitor's
    ``ancestors`` stop before ``parent``.)"""
    path: FieldPath = []
    chain = [*(a for a in (*ancestors, parent) if isinstance(a, Node)), node]
    for index, current in enumerate(chain):
        if isinstance(current, FieldNode):
            path.append((current.alias or current.name).value)
        elif isinstance(current, ArgumentNode | ObjectFieldNode):
            path.append(current.name.value)
        elif isinstance(current, VariableDefinitionNode):
            path.append(current.variable.name.value)
        elif isinstance(current, ListValueNode) and index + 1 < len(chain):
            following = chain[index + 1]
            path.extend(i for i, item in enumerate(current.values) if item is following)
    return path


class LiteralInputRule(ValidationRule):
    """Literals in the document: every string value (wherever it is, including inside JSON
    literals and variable defaults), and the digits of Decimal input fields."""

    def enter_string_value(
        self, node: StringValueNode, _key: Any, parent: Any, _path: Any, ancestors: Any
    ) -> None:
        if (reason := string_refusal(node.value)) is not None:
            self.report_error(bad_input(reason, _literal_path(node, parent, ancestors), node))

    def enter_object_field(
        self, node: ObjectFieldNode, _key: Any, parent: Any, _path: Any, ancestors: Any
    ) -> None:
        input_object = get_named_type(self.context.get_parent_input_type())
        if not isinstance(input_object, GraphQLInputObjectType):
            return
        field = input_object.fields.get(node.name.value)
        digits = None if field is None else _digits_of(field)
        if digits is not None and isinstance(
            node.value, IntValueNode | FloatValueNode | StringValueNode
        ):
            for error in _digits_refusal(
                digits, node.value.value, _literal_path(node, parent, ancestors), node
            ):
                self.report_error(error)


@dataclass(frozen=True, slots=True)
class LiteralCheck:
    """What the value rules ask of one Int, Float or String literal, given where it stands in
    a document of known shape: that its scalar parses it (``ValuesOfCorrectTypeRule``), that
    a string holds nothing unstorable and that a Decimal fits its field's digits
    (``LiteralInputRule``). ``passes`` says only yes or no: a no sends the document to the
    rules themselves, which word the errors."""

    scalar: GraphQLScalarType
    digits: DecimalDigits | None

    def passes(self, node: ValueNode) -> bool:
        if isinstance(node, StringValueNode) and string_refusal(node.value) is not None:
            return False
        try:
            if self.scalar.parse_literal(node) is Undefined:
                return False
        except Exception:
            return False
        if self.digits is not None:
            return not any(_digits_refusal(self.digits, node.value, []))  # type: ignore[attr-defined]
        return True


def literal_check(
    input_type: GraphQLInputType | None,
    parent_input_type: GraphQLInputType | None,
    parent: Any,
) -> LiteralCheck | None:
    """The check of a literal whose expected type is ``input_type`` (None where no fast check
    says what the rules would: a literal inside a composite custom scalar such as JSON, whose
    validity the scalar decides for the whole value)."""
    named = get_named_type(input_type) if input_type is not None else None
    if not isinstance(named, GraphQLScalarType):
        return None
    digits = None
    object_type = get_named_type(parent_input_type) if parent_input_type is not None else None
    if isinstance(parent, ObjectFieldNode) and isinstance(object_type, GraphQLInputObjectType):
        field = object_type.fields.get(parent.name.value)
        digits = None if field is None else _digits_of(field)
    return LiteralCheck(named, digits)


class VariableChecks(SchemaExtension):
    """Variables are refused before execution, as the literals were in validation."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        operation = _selected_operation(document, context.operation_name)
        if operation is not None and operation.variable_definitions:
            try:
                refusals = check_variables(context.schema._schema, operation, context.variables)
            except RecursionError:
                # graphql-core would refuse it too, uncoded: the client's input, not a fault.
                refusals = [bad_input("variables are nested too deeply", [])]
            if refusals:
                # Raised from on_execute, an error ends the operation with data null, for
                # queries, mutations and subscriptions alike.
                raise refusals[0]
        yield


def _selected_operation(document: Any, name: str | None) -> OperationDefinitionNode | None:
    if document is None:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)
