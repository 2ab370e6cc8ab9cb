"""Objects whose selected fields are all plain attributes are completed in one pass.

graphql-core completes every field of every object alike: a path, a resolve-info object,
the resolver, then the non-null, list, leaf and object checks of ``complete_value``, about
5 µs a field on this machine. Most of a page's rows select only stored scalars (a customer's
``id`` and ``pointsBalance``): Strawberry already resolves such a field by ``getattr``, so
the rest of that work buys nothing. Measured on a bare Strawberry schema, a 2-field row cost
16 µs; issue 12 asks for at most 15 µs per extra row at the subgraph, database included.

The plan of a selection (which attribute each response key reads, and how its scalar is
coerced) is made once per selection per request, and a list of such objects is read in one
loop. Anything that is not a plain read takes graphql-core's path: a resolver, arguments, a
field extension or permission, a field of object or list type, deferred or streamed fields,
middleware. So does any object (and the whole list it is in) whose plain read fails the
checks (a null in a non-null field, a value its scalar refuses, an awaitable in an
attribute, a failed ``is_type_of``): it is completed again the generic way, which raises the
same error at the same path as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NamedTuple

from graphql import (
    GraphQLList,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    Undefined,
    get_nullable_type,
    is_leaf_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

TYPENAME: Final = "__typename"


class _PlainRead(NamedTuple):
    """One response key of a plain selection: read ``attribute`` with ``read`` (Strawberry's
    default resolver), coerce it with ``coerce``; ``typename`` answers ``__typename``."""

    response_key: str
    attribute: str
    read: Callable[[Any, str], Any] | None
    coerce: Callable[[Any], Any] | None
    non_null: bool
    typename: str | None


# A selection that is not plain: remembered so that it is judged once, not once a row.
_NOT_PLAIN: Final[tuple[_PlainRead, ...]] = ()


class PlainFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, completing plain selections without graphql-core's
    per-field machinery (this module's docstring says when)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Strawberry passes a middleware manager on every request, empty unless an extension
        # has a ``resolve`` hook; a non-empty one must see every field.
        manager = self.middleware_manager
        self._wrapped_resolvers = bool(manager is not None and manager.middlewares)
        # Keyed by the grouped field set's identity: graphql-core memoizes a selection's
        # grouped field set for the whole execution, so every row of a list shares one.
        self._plain_plans: dict[int, tuple[GroupedFieldSet, tuple[_PlainRead, ...]]] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        if position_context is None and not self._wrapped_resolvers:
            plan = self._plain_plan(parent_type, grouped_field_set)
            if plan:
                completed = self._read_plain(plan, source_value)
                if completed is not None:
                    return completed
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[list[Any]]:
        # A page of plain rows is read in one loop: graphql-core's completion of each item
        # (its path, the non-null and object checks, the memoized sub-selection) was ~3 µs.
        if position_context is None and not self._wrapped_resolvers and type(result) is list:
            rows = self._read_plain_list(
                return_type.of_type, field_details_list, info, path, result
            )
            if rows is not None:
                return rows
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _read_plain_list(
        self,
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        items: list[Any],
    ) -> list[Any] | None:
        """The list's objects, or None where the generic path must answer (and report)."""
        object_type = get_nullable_type(item_type)
        if not is_object_type(object_type) or self.get_stream_usage(field_details_list, path):
            return None
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(
            object_type, field_details_list
        )
        if new_defer_usages:
            return None
        plan = self._plain_plan(object_type, grouped_field_set)
        if not plan:
            return None
        non_null = is_non_null_type(item_type)
        is_type_of = object_type.is_type_of
        completed: list[Any] = []
        append = completed.append
        for item in items:
            if item is None:
                if non_null:
                    return None
                append(None)
                continue
            if is_type_of is not None and is_type_of(item, info) is not True:
                return None
            row = self._read_plain(plan, item)
            if row is None:
                return None
            append(row)
        return completed

    def _plain_plan(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> tuple[_PlainRead, ...]:
        known = self._plain_plans.get(id(grouped_field_set))
        if known is not None:
            return known[1]
        plan = _plan(self, parent_type, grouped_field_set)
        # The set is kept with its plan so that its id cannot be reused by another one.
        self._plain_plans[id(grouped_field_set)] = (grouped_field_set, plan)
        return plan

    def _read_plain(self, plan: tuple[_PlainRead, ...], source: Any) -> dict[str, Any] | None:
        """The object's fields, or None where the generic path must answer (and report)."""
        is_awaitable = self.is_awaitable
        result: dict[str, Any] = {}
        try:
            for read in plan:
                if read.typename is not None:
                    result[read.response_key] = read.typename
                    continue
                value = read.read(source, read.attribute)  # type: ignore[misc]
                if value is None or value is Undefined:
                    if read.non_null:
                        return None
                    result[read.response_key] = None
                    continue
                if isinstance(value, Exception) or is_awaitable(value):
                    return None
                coerced = read.coerce(value)  # type: ignore[misc]
                if coerced is None or coerced is Undefined:
                    return None
                result[read.response_key] = coerced
        except Exception:  # the generic path raises it again, at its path
            return None
        return result


def _plan(
    executor: PlainFieldsExecutionContext,
    parent_type: GraphQLObjectType,
    grouped_field_set: GroupedFieldSet,
) -> tuple[_PlainRead, ...]:
    reads: list[_PlainRead] = []
    for response_key, field_details_list in grouped_field_set.items():
        node = field_details_list[0].node
        field_name = node.name.value
        if field_name == TYPENAME:
            reads.append(_PlainRead(response_key, "", None, None, True, parent_type.name))
            continue
        field_def = executor.schema.get_field(parent_type, field_name)
        if field_def is None or field_def.args or node.arguments:
            return _NOT_PLAIN
        definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if (
            not isinstance(definition, StrawberryField)
            or not getattr(field_def.resolve, "_is_default", False)
            or not definition.is_basic_field
        ):
            return _NOT_PLAIN
        leaf = get_nullable_type(field_def.type)
        if not is_leaf_type(leaf):
            return _NOT_PLAIN
        reads.append(
            _PlainRead(
                response_key,
                definition.python_name,
                definition.default_resolver,
                leaf.coerce_output_value,
                is_non_null_type(field_def.type),
                None,
            )
        )
    return tuple(reads)
