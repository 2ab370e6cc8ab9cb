"""The static cost of a GraphQL operation, known before it runs, and the budget it must fit.

Depth and token limits bound a document's shape, not its work: 30 aliases of
``customers(first: 100) { ... pointsTransactions(first: 100) }`` pass both and ask for 300,000
rows. The cost counts the rows an operation can ask for, as Shopify's Admin API does:

- a connection (a field taking ``first`` / ``last``) costs its page size, ``DEFAULT_PAGE_SIZE``
  when neither is given, and multiplies everything selected inside it by that size;
- a list fetched by ids (``nodes(ids:)``, federation's ``_entities(representations:)``) costs,
  and multiplies by, the number of ids;
- any other object costs 1; scalars, enums, ``__typename`` and introspection cost nothing;
  the page's own structure (``edges``, ``node``, ``pageInfo``: fields of ``*Connection`` and
  ``*Edge`` types) is paid for by its connection;
- a mutation adds 10 (Shopify's figure for a mutation);
- aliases and fragments count every time they are selected (an upper bound: ``@skip`` and
  ``@include`` are not evaluated, and every branch of an abstract type is counted).

The router computes the same cost over the whole client operation (gateway/router/cost.ts) and
refuses it before any subgraph is called; each subgraph checks its own part here, so a subgraph
reached directly is protected too. The part a subgraph sees never costs more than the whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLSchema,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    get_operation_ast,
    is_composite_type,
    is_list_type,
    is_non_null_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from strawberry.extensions import SchemaExtension

from subgraphs.kit.pagination import DEFAULT_PAGE_SIZE

QUERY_TOO_COMPLEX: Final = "QUERY_TOO_COMPLEX"
MUTATION_COST: Final = 10
DEFAULT_BUDGET: Final = 10_000
_PAGE_ARGUMENTS: Final = ("first", "last")
_PAGE_STRUCTURE_SUFFIXES: Final = ("Connection", "Edge")


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> int:
    """The cost of the operation ``operation_name`` of a *validated* ``document``."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    coerced = get_variable_values(
        schema, operation.variable_definitions or (), dict(variables or {})
    )
    # Variables execution would refuse anyway count as absent (each list its default size).
    walk = _CostWalk(schema, document, None if isinstance(coerced, list) else coerced)
    base = MUTATION_COST if operation.operation is OperationType.MUTATION else 0
    return base + walk.selections(root, operation.selection_set, 1)


class _CostWalk:
    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: VariableValues | None
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }

    def selections(self, parent: Any, selection_set: SelectionSetNode, multiplier: int) -> int:
        total = 0
        for node, parent_type in self._fields(parent, selection_set):
            fields = getattr(parent_type, "fields", None)
            field = fields.get(node.name.value) if fields else None
            if field is None:  # __typename, introspection
                continue
            size = self._list_size(field, node)
            if size is not None:
                total += multiplier * size
                inner = multiplier * size
            else:
                named = get_named_type(field.type)
                pays = is_composite_type(named) and not parent_type.name.endswith(
                    _PAGE_STRUCTURE_SUFFIXES
                )
                total += multiplier if pays else 0
                inner = multiplier
            if node.selection_set is not None:
                total += self.selections(get_named_type(field.type), node.selection_set, inner)
        return total

    def _fields(
        self, parent: Any, selection_set: SelectionSetNode
    ) -> Iterator[tuple[FieldNode, Any]]:
        """Every field selected, through inline fragments and fragment spreads, with the type
        it is selected on. Validation has ruled out fragment cycles."""
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = self.schema.get_type(condition.name.value) if condition else parent
                yield from self._fields(on, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    on = self.schema.get_type(fragment.type_condition.name.value)
                    yield from self._fields(on, fragment.selection_set)

    def _list_size(self, field: GraphQLField, node: FieldNode) -> int | None:
        """How many items the field can return: its page size, or the number of ids it is
        given; None for a field that is not such a list."""
        paginated = any(name in field.args for name in _PAGE_ARGUMENTS)
        listed_by = [name for name, argument in field.args.items() if _is_list(argument.type)]
        if not paginated and not (listed_by and _is_list(field.type)):
            return None
        try:
            values = get_argument_values(field, node, self.variables)
        except GraphQLError:
            values = {}  # bad variables are refused by execution; count the default here
        if paginated:
            sizes = [values.get(name) for name in _PAGE_ARGUMENTS]
            given = [size for size in sizes if isinstance(size, int) and size >= 0]
            return max(given) if given else DEFAULT_PAGE_SIZE
        return max(len(values.get(name) or ()) for name in listed_by)


def _is_list(type_: Any) -> bool:
    return is_list_type(type_.of_type if is_non_null_type(type_) else type_)


def _is_subscription(document: DocumentNode, operation_name: str | None) -> bool:
    operation = get_operation_ast(document, operation_name)
    return operation is not None and operation.operation is OperationType.SUBSCRIPTION


def cost_extension(cost: int, budget: int) -> dict[str, object]:
    """``extensions.cost`` in Shopify's shape, with the fields that apply: what the operation
    asked for, and the most one operation may ask for (there is no cost bucket to restore)."""
    return {"requestedQueryCost": cost, "throttleStatus": {"maximumAvailable": budget}}


def too_complex(cost: int, budget: int) -> GraphQLError:
    return GraphQLError(
        f"Query cost is {cost}, which exceeds the single query max cost limit ({budget}). "
        "Ask for smaller pages (`first` / `last`) or fewer nested lists.",
        extensions={"code": QUERY_TOO_COMPLEX, "cost": cost, "maxCost": budget},
    )


class QueryCostLimiter(SchemaExtension):
    """Refuses a query or mutation whose cost is over the budget before it runs. The budget is
    the subgraph's setting (``LOYALNEST_QUERY_COST_BUDGET``), read from the request's context.

    The cost of an accepted operation is told to clients by the router (``extensions.cost``),
    the only caller of a subgraph in production; a subgraph does not repeat it for its part.
    """

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        # Subscriptions are not priced: they return one object per event, not pages.
        if document is not None and not _is_subscription(document, context.operation_name):
            resources = getattr(context.context, "resources", None)
            budget = (
                resources.settings.query_cost_budget if resources is not None else DEFAULT_BUDGET
            )
            cost = operation_cost(
                context.schema._schema, document, context.operation_name, context.variables
            )
            if cost > budget:
                # Set before execution: Strawberry then skips executing the operation.
                context.result = ExecutionResult(data=None, errors=[too_complex(cost, budget)])
        yield
