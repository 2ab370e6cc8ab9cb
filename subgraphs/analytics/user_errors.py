"""The analytics subgraph's mutation runner: kit's ``run_mutation`` with
``AnalyticsUserError`` (the one place analytics says how its expected failures are shown)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry

from subgraphs.analytics import errors
from subgraphs.analytics.loaders import AnalyticsInfo
from subgraphs.kit.graphql.domain import DisplayableError, domain_enum
from subgraphs.kit.graphql.mutations import FailedPayload, MutationScope, run_mutation
from subgraphs.kit.permissions import Capability

PayloadT = TypeVar("PayloadT")
ResultT = TypeVar("ResultT")

AnalyticsErrorCode = domain_enum(
    errors.AnalyticsErrorCode,
    name="AnalyticsErrorCode",
    description="Why an analytics mutation was refused; nothing was changed.",
    values={
        "INVALID_THRESHOLDS": "The RFM thresholds do not validate (each list takes four "
        "values rising strictly); the field and message name the first problem.",
        "UNKNOWN_PRESET": "No RFM preset has this name; `rfmBenchmarks` lists them.",
        "VERSION_CONFLICT": "The thresholds changed since the `expectedVersion` sent. Reload "
        "them, reapply the change and send it with the new version.",
        "INVALID_SEGMENT": "The segment's rules do not hold: scores are 1 to 5, a minimum at "
        "most its maximum, a priority from 1 to 99 (built-in segments come from 100).",
        "SEGMENT_NAME_TAKEN": "The shop has another segment of this name, or it is a built-in one.",
    },
)


@strawberry.type(description="An expected failure of an analytics mutation.")
class AnalyticsUserError(DisplayableError):
    code: AnalyticsErrorCode = strawberry.field(description="What went wrong, for programs.")  # type: ignore[valid-type]


async def analytics_mutation(
    info: AnalyticsInfo,
    payload: FailedPayload[PayloadT],
    perform: Callable[[MutationScope], Awaitable[ResultT]],
    respond: Callable[[ResultT], PayloadT | Awaitable[PayloadT]],
    *,
    capability: Capability = Capability.MANAGE_PROGRAM,
) -> PayloadT:
    return await run_mutation(
        info,
        capability=capability,
        perform=perform,
        respond=respond,
        payload=payload,
        user_error=AnalyticsUserError,
    )
