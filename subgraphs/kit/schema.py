"""One way to build a subgraph schema, so every subgraph gets the same protections."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, Literal

import strawberry
from strawberry.extensions import (
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from subgraphs.kit.errors import mask_unexpected_errors
from subgraphs.kit.observability import metrics_extension

FEDERATION_VERSION: Final[Literal["2.9"]] = (
    "2.9"  # the composer's maximum; Strawberry's default (2.11) is rejected
)


def build_schema(
    *,
    name: str,
    query: type[Any] | None = None,
    mutation: type[Any] | None = None,
    subscription: type[Any] | None = None,
    types: Sequence[type[Any]] = (),
) -> strawberry.federation.Schema:
    # Factories: a fresh extension per request; the parser and validation caches themselves
    # live at module level in Strawberry, keyed by size, so they are shared across requests.
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: ParserCache(maxsize=1024),
        lambda: ValidationCache(maxsize=1024),
        lambda: QueryDepthLimiter(max_depth=12),
        lambda: MaxTokensLimiter(max_token_count=2000),
        mask_unexpected_errors,
        metrics_extension(name),
    ]
    return strawberry.federation.Schema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        types=list(types),
        federation_version=FEDERATION_VERSION,
        extensions=extensions,
    )
