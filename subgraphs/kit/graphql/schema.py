"""One way to build a subgraph schema, so every subgraph gets the same protections."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, Literal

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.query_depth_limiter import create_validator
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from subgraphs.kit.graphql.cost import QueryCostLimiter
from subgraphs.kit.graphql.errors import is_client_error, mask_unexpected_errors
from subgraphs.kit.graphql.metrics import metrics_extension
from subgraphs.kit.graphql.scalars import SCALAR_MAP

FEDERATION_VERSION: Final[Literal["2.9"]] = (
    "2.9"  # the composer's maximum; Strawberry's default (2.11) is rejected
)
MAX_DEPTH = 12
MAX_TOKENS = 2000

# Built once. QueryDepthLimiter makes a new rule class each time it is constructed, and the
# validation cache is keyed by the rules: one built per request made every request a cache
# miss (59 % of a subgraph's CPU went to validating the same documents again).
_DEPTH_LIMIT_RULE = create_validator(MAX_DEPTH, None, None)


class SubgraphSchema(strawberry.federation.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Errors the client caused (no token, bad cursor) are answers, not incidents: only the
        # rest reach the error log.
        unexpected = [error for error in errors if not is_client_error(error)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


def build_schema(
    *,
    name: str,
    query: type[Any] | None = None,
    mutation: type[Any] | None = None,
    subscription: type[Any] | None = None,
    types: Sequence[type[Any]] = (),
) -> SubgraphSchema:
    # Factories: a fresh extension per request; the parser and validation caches themselves
    # live at module level in Strawberry, keyed by size (and the rules), so they are shared
    # across requests as long as every request brings the same rule objects.
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: ParserCache(maxsize=1024),
        lambda: ValidationCache(maxsize=1024),
        lambda: AddValidationRules([_DEPTH_LIMIT_RULE]),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        QueryCostLimiter,
        mask_unexpected_errors,
        metrics_extension(name),
    ]
    schema = SubgraphSchema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        types=list(types),
        federation_version=FEDERATION_VERSION,
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
    )
    describe_root_types(schema)
    return schema


ROOT_DESCRIPTIONS: Final[dict[str, str]] = {
    "query": "What can be read: every subgraph adds its entry points.",
    "mutation": "What can be changed: each mutation takes one `input` and returns its own "
    "payload, with `userErrors` for expected failures.",
    "subscription": "What can be followed live, over the router's WebSocket.",
}


def describe_root_types(schema: SubgraphSchema) -> None:
    """Give the root types the same description in every subgraph (composition merges them,
    and Strawberry's ``merge_types`` cannot take one)."""
    graphql_schema = schema._schema
    roots = {
        "query": graphql_schema.query_type,
        "mutation": graphql_schema.mutation_type,
        "subscription": graphql_schema.subscription_type,
    }
    for kind, root in roots.items():
        if root is not None:
            root.description = ROOT_DESCRIPTIONS[kind]
