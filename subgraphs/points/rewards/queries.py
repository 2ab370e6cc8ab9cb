"""The rewards catalog."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.kit.graphql.node import local_id
from subgraphs.kit.graphql.relay import Connection, paged, to_connection
from subgraphs.kit.pagination import PageRequest
from subgraphs.kit.permissions import Capability, require, require_catalog_read
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.rewards import service as reward_service
from subgraphs.points.rewards.types import Reward, reward_position

IncludeInactiveArgument = Annotated[
    bool,
    strawberry.argument(
        description="Also list rewards switched off or outside their window (never deleted ones)."
    ),
]


# Top-level fields run once per request: no loader needed to keep them N+1 free.
@strawberry.field(
    description="The rewards catalog, oldest first: by default only what can be redeemed now."
)
@paged()
async def rewards(
    info: PointsInfo,
    paging: PageRequest,
    include_inactive: IncludeInactiveArgument = False,
) -> Connection[Reward]:
    # The storefront sees what can be redeemed now; the full catalog is the merchant's.
    if include_inactive:
        require(info.context.viewer, Capability.READ_PROGRAM)
    else:
        require_catalog_read(info.context.viewer)
    async with info.context.unit_of_work() as session:
        page = await reward_service.rewards_page(
            session,
            info.context.viewer.merchant_id,
            paging,
            include_inactive=include_inactive,
            now=datetime.now(UTC),
        )
    return to_connection(page, position=reward_position, node=Reward.from_row)


@strawberry.field(description="One reward of the catalog; null if there is none (or deleted).")
async def reward(
    info: PointsInfo,
    id: Annotated[strawberry.ID, strawberry.argument(description="The reward's global ID.")],
) -> Reward | None:
    require_catalog_read(info.context.viewer)
    async with info.context.unit_of_work() as session:
        row = await reward_service.reward_by_id(
            session, info.context.viewer.merchant_id, local_id(id, "Reward")
        )
    return None if row is None else Reward.from_row(row)


RewardQuery = create_type("RewardQuery", [rewards, reward])
