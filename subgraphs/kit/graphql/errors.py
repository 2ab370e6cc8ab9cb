"""Which errors reach clients as they are, and which are masked as "Unexpected error."."""

from __future__ import annotations

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from subgraphs.kit.errors import BAD_USER_INPUT, FORBIDDEN, UNAUTHENTICATED, ClientError

_CLIENT_FACING_CODES = frozenset({UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT})


def is_client_error(error: GraphQLError) -> bool:
    """Caused by the request itself (its document, its token, its arguments): safe to show,
    nothing to log."""
    original = error.original_error
    if original is None:
        return True  # parse and validation errors
    if isinstance(original, ClientError):
        return True
    if isinstance(original, GraphQLError):
        return (original.extensions or {}).get("code") in _CLIENT_FACING_CODES
    return False


def _should_mask(error: GraphQLError) -> bool:
    return not is_client_error(error)


def mask_unexpected_errors() -> MaskErrors:
    """Unexpected errors become "Unexpected error." so internals never leak."""
    return MaskErrors(should_mask_error=_should_mask)
