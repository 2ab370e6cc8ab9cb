"""The referrals subgraph's mutation runner: kit's ``run_mutation`` with ``ReferralUserError``
(the one place the referrals domains say how their expected failures are shown)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from subgraphs.kit.graphql.mutations import FailedPayload, MutationScope, run_mutation
from subgraphs.kit.permissions import Capability
from subgraphs.referrals.loaders import ReferralsInfo
from subgraphs.referrals.types import ReferralUserError

PayloadT = TypeVar("PayloadT")
ResultT = TypeVar("ResultT")


async def referral_mutation(
    info: ReferralsInfo,
    payload: FailedPayload[PayloadT],
    perform: Callable[[MutationScope], Awaitable[ResultT]],
    respond: Callable[[ResultT], PayloadT | Awaitable[PayloadT]],
    *,
    capability: Capability = Capability.MANAGE_PROGRAM,
    for_customer: str | None = None,
) -> PayloadT:
    return await run_mutation(
        info,
        capability=capability,
        for_customer=for_customer,
        perform=perform,
        respond=respond,
        payload=payload,
        user_error=ReferralUserError,
    )
