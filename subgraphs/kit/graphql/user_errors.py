"""A domain's userErrors, declared once for every subgraph: the ``UserError`` type each domain
specialises with its ``...ErrorCode`` enum, the payload field that carries them, and the
mutation runner bound to one userError type.

A domain then declares only what is its own::

    @strawberry.type(description="An expected failure of a points mutation.")
    class PointsUserError(UserError[errors.PointsErrorCode]):
        pass

    points_mutation = MutationRunner(PointsUserError)

``errors.PointsErrorCode`` must have been exposed with ``domain_enum`` (which decorates the
service enum itself, so the service's class is the GraphQL enum).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar

import strawberry
from strawberry.types import Info

from subgraphs.kit.domain import DomainError
from subgraphs.kit.graphql.context import Context
from subgraphs.kit.graphql.domain import DisplayableError
from subgraphs.kit.graphql.mutations import (
    FailedPayload,
    MutationScope,
    UserErrorType,
    run_mutation,
    user_error_of,
)
from subgraphs.kit.permissions import Capability

CodeT = TypeVar("CodeT", bound=enum.Enum)
ResultT = TypeVar("ResultT")
PayloadT = TypeVar("PayloadT")


@strawberry.type
class UserError(DisplayableError, Generic[CodeT]):
    """A ``DisplayableError`` with the domain's ``code``. Never in a schema itself: a domain
    subclasses ``UserError[ItsErrorCode]`` under its own name and description, so payloads keep
    a concrete type and clients read ``code`` without a fragment."""

    code: CodeT = strawberry.field(description="What went wrong, for programs.")

    @classmethod
    def from_error(cls, error: DomainError) -> Self:
        """``error`` as this userError (for the few resolvers that answer one outside
        ``run_mutation``, such as a query's payload)."""
        user_error: Self = user_error_of(error, cls)
        return user_error


def user_errors_field(description: str = "Why nothing changed.") -> Any:
    """A payload's ``userErrors``: empty unless the mutation failed (see ``run_mutation``)."""
    return strawberry.field(default_factory=list, description=description)


@dataclass(frozen=True, slots=True)
class MutationRunner:
    """kit's ``run_mutation`` bound to one subgraph's userError type: ``perform`` in the unit of
    work, ``respond`` after the commit, a ``DomainError`` as ``payload(user_errors=[...])``.
    Most mutations edit the program, hence the default capability."""

    user_error: type[UserErrorType]

    async def __call__(
        self,
        info: Info[Context[Any], Any],
        payload: FailedPayload[PayloadT],
        perform: Callable[[MutationScope], Awaitable[ResultT]],
        respond: Callable[[ResultT], PayloadT | Awaitable[PayloadT]],
        *,
        capability: Capability = Capability.MANAGE_PROGRAM,
        for_customer: str | None = None,
        transaction: bool = True,
    ) -> PayloadT:
        return await run_mutation(
            info,
            capability=capability,
            perform=perform,
            respond=respond,
            payload=payload,
            user_error=self.user_error,
            for_customer=for_customer,
            transaction=transaction,
        )
