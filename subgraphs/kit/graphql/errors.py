"""Which errors reach clients as they are, and which are masked as "Unexpected error."."""

from __future__ import annotations

import re

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from subgraphs.kit.errors import BAD_USER_INPUT, FORBIDDEN, UNAUTHENTICATED, ClientError

_CLIENT_FACING_CODES = frozenset({UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT})
_UNKNOWN_ENUM_VALUE = re.compile(r"^Value '[^']*' does not exist in '\w+' enum")


def is_client_error(error: GraphQLError) -> bool:
    """Caused by the request itself (its document, its token, its arguments): safe to show,
    nothing to log."""
    if is_bad_argument(error):
        return True
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


def is_bad_argument(error: GraphQLError) -> bool:
    """GraphQL refused an argument's value while coercing it: an unknown enum value (a
    currency or country code that is not ISO), a wrong scalar. The client's fault, like
    everything ``BadUserInputError`` reports."""
    original = error.original_error
    if (error.extensions or {}).get("code") not in (None, BAD_USER_INPUT) or not (
        original is None or (isinstance(original, GraphQLError) and not original.extensions)
    ):
        return False
    message = error.message
    return (message.startswith("Variable '$") and "invalid value" in message) or bool(
        _UNKNOWN_ENUM_VALUE.search(message)
    )


class _MaskAndCodeErrors(MaskErrors):
    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        for error in errors:
            if is_bad_argument(error):
                error.extensions = {**(error.extensions or {}), "code": BAD_USER_INPUT}
        return super()._process_errors(errors)


def mask_unexpected_errors() -> MaskErrors:
    """Unexpected errors become "Unexpected error." so internals never leak; arguments GraphQL
    itself refused are tagged ``BAD_USER_INPUT``."""
    return _MaskAndCodeErrors(should_mask_error=_should_mask)
