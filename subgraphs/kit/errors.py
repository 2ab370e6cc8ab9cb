"""Errors that reach clients, and the rule for what is masked."""

from __future__ import annotations

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
BAD_USER_INPUT = "BAD_USER_INPUT"

_CLIENT_FACING_CODES = frozenset({UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT})


class UnauthenticatedError(GraphQLError):
    def __init__(self, message: str = "a valid session token is required") -> None:
        super().__init__(message, extensions={"code": UNAUTHENTICATED})


class ForbiddenError(GraphQLError):
    def __init__(self, message: str = "not allowed") -> None:
        super().__init__(message, extensions={"code": FORBIDDEN})


def is_client_error(error: GraphQLError) -> bool:
    """Caused by the request itself (its document, its token, its arguments): safe to show,
    nothing to log."""
    original = error.original_error
    if original is None:
        return True  # parse and validation errors
    if isinstance(original, GraphQLError):
        return (original.extensions or {}).get("code") in _CLIENT_FACING_CODES
    return False


def _should_mask(error: GraphQLError) -> bool:
    return not is_client_error(error)


def mask_unexpected_errors() -> MaskErrors:
    """Unexpected errors become "Unexpected error." so internals never leak."""
    return MaskErrors(should_mask_error=_should_mask)
