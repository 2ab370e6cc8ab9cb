"""One way to build a subgraph schema, so every subgraph gets the same protections."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final, Literal, cast

import strawberry
from graphql import GraphQLError, ValuesOfCorrectTypeRule, specified_rules
from graphql.validation import ASTValidationRule, ValidationContext, ValidationRule
from starlette.requests import Request
from strawberry.extensions import MaxTokensLimiter, ParserCache, SchemaExtension
from strawberry.extensions.query_depth_limiter import create_validator
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from subgraphs.kit.errors import BAD_USER_INPUT, QUERY_TOO_COMPLEX
from subgraphs.kit.graphql.context import Context
from subgraphs.kit.graphql.cost import QueryCostLimiter
from subgraphs.kit.graphql.errors import (
    ErrorCodes,
    code_syntax_errors,
    is_client_error,
    log_unexpected,
    mask_unexpected_errors,
    with_code,
)
from subgraphs.kit.graphql.execution import PlainFieldsExecutionContext
from subgraphs.kit.graphql.input_checks import LiteralInputRule, VariableChecks
from subgraphs.kit.graphql.metrics import metrics_extension
from subgraphs.kit.graphql.scalars import SCALAR_MAP
from subgraphs.kit.graphql.validation_cache import ShapeValidation, ShapeValidationCache

FEDERATION_VERSION: Final[Literal["2.9"]] = (
    "2.9"  # the composer's maximum; Strawberry's default (2.11) is rejected
)
MAX_DEPTH = 12
MAX_TOKENS = 2000

# Built once. QueryDepthLimiter makes a new rule class each time it is constructed, and the
# validation cache is keyed by the rules: one built per request made every request a cache
# miss (59 % of a subgraph's CPU went to validating the same documents again).
_DEPTH_LIMIT = create_validator(MAX_DEPTH, None, None)


class _CodedReports:
    """A validation context whose reported errors get ``code`` (the rest is the context's)."""

    def __init__(self, context: ValidationContext, code: str) -> None:
        self._context = context
        self._code = code

    def report_error(self, error: GraphQLError) -> None:
        self._context.report_error(with_code(error, self._code))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class _DepthLimitRule(ValidationRule):
    """Too deep a document is well-formed, only too big to run: QUERY_TOO_COMPLEX. Strawberry's
    rule does its work in ``__init__`` and reports to the context directly, so it is given a
    context that codes what it reports."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        _DEPTH_LIMIT(cast(ValidationContext, _CodedReports(context, QUERY_TOO_COMPLEX)))


class _ValuesOfCorrectTypeRule(ValuesOfCorrectTypeRule):
    """A literal its type refuses (an unknown currency, a Decimal such as NaN) is a bad value,
    not a bad document: BAD_USER_INPUT, as the same value in a variable."""

    def report_error(self, error: GraphQLError) -> None:
        super().report_error(with_code(error, BAD_USER_INPUT))


# The rules that look at literal values (run for every new document), and the rest, which
# only see the document's shape (run once per shape: kit.graphql.validation_cache).
VALUE_RULES: tuple[type[ASTValidationRule], ...] = (_ValuesOfCorrectTypeRule, LiteralInputRule)
SHAPE_RULES: tuple[type[ASTValidationRule], ...] = (
    *(rule for rule in specified_rules if rule is not ValuesOfCorrectTypeRule),
    _DepthLimitRule,
)
VALIDATION_RULES: tuple[type[ASTValidationRule], ...] = (*SHAPE_RULES, *VALUE_RULES)


class _ReleaseRequestCaches(SchemaExtension):
    """Over HTTP, the request's loaders go when its operation ends (Context.release says why
    this matters); a socket's context lives on."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        if isinstance(context, Context) and isinstance(context.request, Request):
            context.release()


class SubgraphSchema(strawberry.federation.Schema):
    # Its validation caches (set by build_schema).
    shape_validation: ShapeValidation

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Errors the client caused (no token, bad cursor) are answers, not incidents: only the
        # rest reach the error log, once each and compactly (kit.graphql.errors).
        code_syntax_errors(errors)
        unexpected = [error for error in errors if not is_client_error(error)]
        if unexpected:
            log_unexpected(unexpected, execution_context.context if execution_context else None)


def build_schema(
    *,
    name: str,
    query: type[Any] | None = None,
    mutation: type[Any] | None = None,
    subscription: type[Any] | None = None,
    types: Sequence[type[Any]] = (),
) -> SubgraphSchema:
    # Factories: a fresh extension per request. The parser cache lives at module level in
    # Strawberry (keyed by size); the validation caches are this schema's, shared by its
    # requests (a document's validity depends on the schema).
    validation = ShapeValidation(SHAPE_RULES, VALUE_RULES)
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: ParserCache(maxsize=1024),
        # Validation checks the literals of the document (kit.graphql.input_checks), and
        # VariableChecks its variables: every operation's input is checked once, here.
        lambda: ShapeValidationCache(validation),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        ErrorCodes,
        VariableChecks,
        QueryCostLimiter,
        mask_unexpected_errors,
        metrics_extension(name),
        _ReleaseRequestCaches,
    ]
    schema = SubgraphSchema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        types=list(types),
        federation_version=FEDERATION_VERSION,
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        execution_context_class=PlainFieldsExecutionContext,
    )
    describe_root_types(schema)
    schema.shape_validation = validation
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
