"""The one path every mutation takes (after Saleor's ``BaseMutation.mutate``).

A resolver says three things and nothing else: which capability it needs, what to do in the
unit of work, and how to shape the payload. The runner

1. checks the capability (a refusal is FORBIDDEN, raised, never a userError);
2. opens the viewer's unit of work (one transaction under row-level security) unless the
   service manages its own transactions (``transaction=False``);
3. calls ``perform`` with a :class:`MutationScope` (a write service takes ``scope.write``,
   the framework-free ``WriteContext`` of the same unit of work, viewer and time);
4. turns a ``DomainError`` into the payload's ``userErrors`` (nothing is committed then);
5. after the commit, calls ``respond`` with the result to build the payload — the place for
   work that must see committed data (publishing, cache invalidation, re-reads).

Payload types give every result field a default, so a failed mutation is
``Payload(user_errors=[...])``; user-error types accept ``field``, ``message`` and ``code``,
where ``code`` is the domain's ``...ErrorCode`` enum carried by the ``DomainError``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from subgraphs.kit.auth import Viewer
from subgraphs.kit.domain import DomainError
from subgraphs.kit.graphql.context import Context
from subgraphs.kit.permissions import Capability, require, require_customer_access
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext

ResultT = TypeVar("ResultT")
PayloadT = TypeVar("PayloadT")


class UserErrorType(Protocol):
    """The GraphQL type of a domain's userErrors."""

    def __init__(self, *, field: list[str] | None, message: str, code: Any) -> None: ...


class FailedPayload(Protocol[PayloadT]):  # type: ignore[misc]
    def __call__(self, *, user_errors: list[Any]) -> PayloadT: ...


@dataclass(frozen=True, slots=True)
class MutationScope:
    """What a mutation's ``perform`` gets: who asks, for which merchant, at what time, and
    (unless ``transaction=False``) the open unit of work."""

    viewer: Viewer
    resources: Resources
    now: datetime
    _session: AsyncSession | None

    @property
    def merchant_id(self) -> str:
        return self.viewer.merchant_id

    @property
    def actor_id(self) -> str | None:
        return self.viewer.user_id

    @property
    def session(self) -> AsyncSession:
        assert self._session is not None, "this mutation runs with transaction=False"
        return self._session

    @property
    def write(self) -> WriteContext:
        """The unit of work, merchant, actor and time as a write service takes them."""
        return WriteContext(self.session, self.merchant_id, self.actor_id, self.now)


def user_error_of(error: DomainError, user_error: type[UserErrorType]) -> Any:
    """A domain error as a userError: ``field`` is the path from the mutation's ``input``."""
    return user_error(
        field=["input", *error.field.split(".")],
        message=error.message,
        code=error.code,
    )


async def run_mutation(
    info: Info[Context[Any], Any],
    *,
    capability: Capability,
    perform: Callable[[MutationScope], Awaitable[ResultT]],
    respond: Callable[[ResultT], PayloadT | Awaitable[PayloadT]],
    payload: FailedPayload[PayloadT],
    user_error: type[UserErrorType],
    for_customer: str | None = None,
    transaction: bool = True,
) -> PayloadT:
    """Run one mutation; see the module docstring for the contract.

    ``for_customer`` opens the mutation to that customer's own token (a storefront widget
    acting for its customer) besides viewers holding ``capability``.
    """
    context = info.context
    if for_customer is None:
        viewer = require(context.viewer, capability)
    else:
        viewer = require_customer_access(context.viewer, for_customer, capability)
    now = datetime.now(UTC)
    try:
        if transaction:
            async with context.unit_of_work() as session:
                result = await perform(MutationScope(viewer, context.resources, now, session))
        else:
            result = await perform(MutationScope(viewer, context.resources, now, None))
    except DomainError as error:
        return payload(user_errors=[user_error_of(error, user_error)])
    shaped = respond(result)
    if inspect.isawaitable(shaped):
        return await shaped
    return shaped
