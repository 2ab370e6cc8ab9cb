"""Editing VIP tiers. Each edit moves customers to their new tier in the same transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import strawberry
from strawberry.tools import create_type

from subgraphs.kit.graphql.node import local_id
from subgraphs.kit.graphql.scalars import UnsignedInt64
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.tiers import service as tier_service
from subgraphs.points.tiers.service import Recalculation, TierWrite
from subgraphs.points.tiers.types import (
    VipTier,
    VipTierCreateInput,
    VipTierCreatePayload,
    VipTierDeleteInput,
    VipTierDeletePayload,
    VipTierUpdateInput,
    VipTierUpdatePayload,
)
from subgraphs.points.user_errors import points_mutation


async def _reassigned(info: PointsInfo, recalculation: Recalculation) -> int:
    """After the commit: cached reads derived from customers (metrics) must not outlive their
    tiers. Returns how many customers changed tier."""
    if recalculation.reassigned:
        await info.context.resources.cache.invalidate_tenant(info.context.viewer.merchant_id)
    return recalculation.reassigned


WrittenPayloadT = TypeVar("WrittenPayloadT", VipTierCreatePayload, VipTierUpdatePayload)


def _after_write(
    info: PointsInfo, payload: type[WrittenPayloadT]
) -> Callable[[TierWrite], Awaitable[WrittenPayloadT]]:
    async def respond(write: TierWrite) -> WrittenPayloadT:
        reassigned = await _reassigned(info, write.recalculation)
        return payload(
            vip_tier=VipTier.from_row(write.tier), reassigned_customers=UnsignedInt64(reassigned)
        )

    return respond


@strawberry.mutation(
    description="Add a VIP tier and move the customers who now qualify, once per "
    "idempotencyKey: a retry returns the same tier."
)
async def vip_tier_create(
    info: PointsInfo,
    input: Annotated[
        VipTierCreateInput,
        strawberry.argument(description="The new tier's names, rank, rules and benefits."),
    ],
) -> VipTierCreatePayload:
    return await points_mutation(
        info,
        VipTierCreatePayload,
        lambda scope: tier_service.create_tier(
            scope.write, input.to_draft(), idempotency_key=input.idempotency_key
        ),
        _after_write(info, VipTierCreatePayload),
    )


@strawberry.mutation(
    description="Change a VIP tier; changed rules or rank move customers accordingly."
)
async def vip_tier_update(
    info: PointsInfo,
    input: Annotated[
        VipTierUpdateInput, strawberry.argument(description="The tier and the changes to make.")
    ],
) -> VipTierUpdatePayload:
    return await points_mutation(
        info,
        VipTierUpdatePayload,
        lambda scope: tier_service.update_tier(
            scope.write,
            local_id(input.id, "VipTier"),
            input.to_changes(),
            expected_version=input.expected_version,
        ),
        _after_write(info, VipTierUpdatePayload),
    )


@strawberry.mutation(
    description="Delete a VIP tier; its customers move to the next tier they qualify for. "
    "Safe to retry: deleting it again answers the same deletedVipTierId (0 reassigned)."
)
async def vip_tier_delete(
    info: PointsInfo,
    input: Annotated[VipTierDeleteInput, strawberry.argument(description="The tier to delete.")],
) -> VipTierDeletePayload:
    async def respond(recalculation: Recalculation) -> VipTierDeletePayload:
        reassigned = await _reassigned(info, recalculation)
        return VipTierDeletePayload(
            deleted_vip_tier_id=input.id, reassigned_customers=UnsignedInt64(reassigned)
        )

    return await points_mutation(
        info,
        VipTierDeletePayload,
        lambda scope: tier_service.delete_tier(scope.write, local_id(input.id, "VipTier")),
        respond,
    )


TierMutation = create_type("TierMutation", [vip_tier_create, vip_tier_update, vip_tier_delete])
