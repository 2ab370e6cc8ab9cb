"""Every error a subgraph answers carries ``extensions.code``; unexpected ones are masked.

Codes are given by where an error arises, never by its message: parse errors are
GRAPHQL_PARSE_FAILED (the token limit too: it stops the parser), validation errors
GRAPHQL_VALIDATION_FAILED unless their rule coded them (a value of the wrong type is
BAD_USER_INPUT, the depth limit QUERY_TOO_COMPLEX), and errors a resolver raises keep the
code of their ``ClientError``. Anything else is unexpected: logged once, compactly (one
record, no traceback: the exception and where it was raised), with a request id, and
answered as "Unexpected error." with code INTERNAL_SERVER_ERROR and that request id.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import structlog
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import MaskErrors, SchemaExtension

from subgraphs.kit.errors import (
    GRAPHQL_PARSE_FAILED,
    GRAPHQL_VALIDATION_FAILED,
    INTERNAL_SERVER_ERROR,
    ClientError,
)

log = structlog.get_logger(__name__)

REQUEST_ID = "requestId"


def code_of(error: GraphQLError) -> str | None:
    code = (error.extensions or {}).get("code")
    return code if isinstance(code, str) else None


def with_code(error: GraphQLError, code: str) -> GraphQLError:
    """The error with ``code`` unless it has one already (errors a validation cache keeps
    are shared across requests: setting the same code again changes nothing)."""
    if code_of(error) is None:
        error.extensions = {**(error.extensions or {}), "code": code}
    return error


def is_client_error(error: GraphQLError) -> bool:
    """Caused by the request itself (its document, its token, its arguments): safe to show,
    nothing to log."""
    original = error.original_error
    if isinstance(original, ClientError):
        return True
    if isinstance(original, GraphQLError) and original is not error:
        return is_client_error(original)
    code = code_of(error)
    return code is not None and code != INTERNAL_SERVER_ERROR


class ErrorCodes(SchemaExtension):
    """Codes the errors of the validation step (graphql-core gives them none); rules that
    know better (a wrong value, the depth limit) coded theirs already."""

    def on_validate(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or ():
            with_code(error, GRAPHQL_VALIDATION_FAILED)


def code_syntax_errors(errors: list[GraphQLError]) -> None:
    """Codes parse errors, by their type. Here and not in an ``on_parse`` hook: the parser
    cache parses inside its own hook, so a syntax error skips every later one. The token
    limit is one of them: the parser stops reading, and the router (Hive Gateway) answers it
    as GRAPHQL_PARSE_FAILED too, so a client sees one code wherever the limit is met."""
    for error in errors:
        if isinstance(error, GraphQLSyntaxError):
            with_code(error, GRAPHQL_PARSE_FAILED)


def request_id_of(context: Any) -> str:
    request_id = getattr(context, "request_id", None)
    return request_id if isinstance(request_id, str) else uuid.uuid4().hex


def log_unexpected(errors: list[GraphQLError], context: Any) -> None:
    """One compact record per unexpected error, and its request id kept on the error so the
    masked copy the client gets carries it too."""
    request_id = request_id_of(context)
    for error in errors:
        original = error.original_error or error
        log.error(
            "graphql_unexpected_error",
            request_id=request_id,
            path=".".join(str(part) for part in error.path or ()),
            error=f"{type(original).__name__}: {original}"[:500],
            raised_at=_raised_at(original),
        )
        error.extensions = {**(error.extensions or {}), REQUEST_ID: request_id}


def _raised_at(exc: BaseException) -> str | None:
    """The innermost frame of the traceback: where to look, in one line."""
    traceback = exc.__traceback__
    if traceback is None:
        return None
    while traceback.tb_next is not None:
        traceback = traceback.tb_next
    code = traceback.tb_frame.f_code
    return f"{code.co_filename}:{traceback.tb_lineno} in {code.co_name}"


class _MaskUnexpected(MaskErrors):
    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = (error.extensions or {}).get(REQUEST_ID) or uuid.uuid4().hex
        return GraphQLError(
            message=self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": INTERNAL_SERVER_ERROR, REQUEST_ID: request_id},
        )


def mask_unexpected_errors() -> MaskErrors:
    """Unexpected errors become "Unexpected error." so internals never leak."""
    return _MaskUnexpected(should_mask_error=lambda error: not is_client_error(error))
