"""Errors a request causes, each with the ``extensions.code`` clients branch on.

Framework-free on purpose: services, auth and pagination raise these without knowing GraphQL.
graphql-core copies an exception's ``extensions`` onto the error it reports, so the code
reaches the client unchanged; ``kit.graphql.errors`` decides what else is masked.
"""

from __future__ import annotations

from typing import ClassVar

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
BAD_USER_INPUT = "BAD_USER_INPUT"
# The document itself: it does not parse (or is past the token limit, where the parser stops:
# the router says GRAPHQL_PARSE_FAILED for it too), it does not fit the schema, or it is past
# the depth limit (QUERY_TOO_COMPLEX, as the cost limit answers: the document is well-formed,
# only too big to run). The names are Apollo's, which the router (Hive Gateway) uses too.
GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
# Not the client's fault: masked as "Unexpected error.", logged once with the request id
# the client also gets (extensions.requestId).
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class ClientError(Exception):
    """Caused by the request itself (its token, its arguments): safe to show, nothing to log."""

    code: ClassVar[str]

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, object] = {"code": self.code}


class UnauthenticatedError(ClientError):
    code = UNAUTHENTICATED

    def __init__(self, message: str = "a valid session token is required") -> None:
        super().__init__(message)


class ForbiddenError(ClientError):
    code = FORBIDDEN

    def __init__(self, message: str = "not allowed") -> None:
        super().__init__(message)


class BadUserInputError(ClientError):
    code = BAD_USER_INPUT
