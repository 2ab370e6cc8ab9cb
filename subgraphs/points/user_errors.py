"""The userError shape of every points mutation, the field that carries them, the runner every
points mutation goes through, and what a query answers when its arguments are at fault."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import strawberry

from subgraphs.kit.errors import BadUserInputError
from subgraphs.kit.graphql.mutations import (
    FailedPayload,
    MutationScope,
    run_mutation,
    user_error_of,
)
from subgraphs.kit.permissions import Capability
from subgraphs.points import errors
from subgraphs.points.loaders import PointsInfo

ResultT = TypeVar("ResultT")
PayloadT = TypeVar("PayloadT")

PointsErrorCode = strawberry.enum(
    errors.PointsErrorCode, name="PointsErrorCode", description="Why a points operation failed."
)


@strawberry.type(description="An expected failure of a points mutation.")
class PointsUserError:
    field: list[str] | None = strawberry.field(description="Path to the input field at fault.")
    message: str = strawberry.field(description="What went wrong, for people.")
    code: PointsErrorCode = strawberry.field(description="What went wrong, for programs.")  # type: ignore[valid-type]

    @classmethod
    def from_error(cls, error: errors.PointsError) -> PointsUserError:
        user_error: PointsUserError = user_error_of(error, cls)
        return user_error


def user_errors_field(description: str = "Why nothing changed.") -> Any:
    """A payload's ``userErrors``: empty unless the mutation failed (see ``run_mutation``)."""
    return strawberry.field(default_factory=list, description=description)


@contextmanager
def bad_user_input() -> Iterator[None]:
    """A ``PointsError`` raised by a query's arguments is the client's mistake: the field fails
    with BAD_USER_INPUT (queries have no userErrors)."""
    try:
        yield
    except errors.PointsError as error:
        raise BadUserInputError(error.message) from None


async def points_mutation(
    info: PointsInfo,
    payload: FailedPayload[PayloadT],
    perform: Callable[[MutationScope], Awaitable[ResultT]],
    respond: Callable[[ResultT], PayloadT | Awaitable[PayloadT]],
    *,
    capability: Capability = Capability.MANAGE_PROGRAM,
    for_customer: str | None = None,
    transaction: bool = True,
) -> PayloadT:
    """kit's ``run_mutation`` with the points userError: ``perform`` in the unit of work,
    ``respond`` after the commit, a ``PointsError`` as ``payload(user_errors=[...])``. Most
    points mutations edit the program, hence the default capability."""
    return await run_mutation(
        info,
        capability=capability,
        perform=perform,
        respond=respond,
        payload=payload,
        user_error=PointsUserError,
        for_customer=for_customer,
        transaction=transaction,
    )
