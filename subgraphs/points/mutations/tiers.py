"""Editing VIP tiers. Each edit moves customers to their new tier in the same transaction."""

from __future__ import annotations

import strawberry

from subgraphs.kit.permissions import Capability, require
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.service import tiers as tier_service
from subgraphs.points.service.errors import PointsError
from subgraphs.points.types.errors import PointsUserError
from subgraphs.points.types.tiers import (
    VipTier,
    VipTierCreateInput,
    VipTierCreatePayload,
    VipTierDeleteInput,
    VipTierDeletePayload,
    VipTierUpdateInput,
    VipTierUpdatePayload,
)


async def _customers_changed(info: PointsInfo, reassigned: int) -> None:
    # Cached reads derived from customers (metrics) must not outlive their tiers.
    if reassigned:
        await info.context.resources.cache.invalidate_tenant(info.context.viewer.merchant_id)


@strawberry.type
class TierMutation:
    @strawberry.mutation(description="Add a VIP tier and move the customers who now qualify.")
    async def vip_tier_create(
        self, info: PointsInfo, input: VipTierCreateInput
    ) -> VipTierCreatePayload:
        context = info.context
        require(context.viewer, Capability.MANAGE_PROGRAM)
        try:
            async with context.unit_of_work() as session:
                result = await tier_service.create_tier(
                    session,
                    context.viewer.merchant_id,
                    input.to_draft(),
                    actor_id=context.viewer.user_id,
                )
        except PointsError as error:
            return VipTierCreatePayload(
                vip_tier=None,
                reassigned_customers=0,
                user_errors=[PointsUserError.from_error(error)],
            )
        await _customers_changed(info, result.recalculation.reassigned)
        return VipTierCreatePayload(
            vip_tier=VipTier.from_row(result.tier),
            reassigned_customers=result.recalculation.reassigned,
            user_errors=[],
        )

    @strawberry.mutation(
        description="Change a VIP tier; changed rules or rank move customers accordingly."
    )
    async def vip_tier_update(
        self, info: PointsInfo, input: VipTierUpdateInput
    ) -> VipTierUpdatePayload:
        context = info.context
        require(context.viewer, Capability.MANAGE_PROGRAM)
        try:
            async with context.unit_of_work() as session:
                result = await tier_service.update_tier(
                    session,
                    context.viewer.merchant_id,
                    str(input.id),
                    input.to_changes(),
                    actor_id=context.viewer.user_id,
                )
        except PointsError as error:
            return VipTierUpdatePayload(
                vip_tier=None,
                reassigned_customers=0,
                user_errors=[PointsUserError.from_error(error)],
            )
        await _customers_changed(info, result.recalculation.reassigned)
        return VipTierUpdatePayload(
            vip_tier=VipTier.from_row(result.tier),
            reassigned_customers=result.recalculation.reassigned,
            user_errors=[],
        )

    @strawberry.mutation(
        description="Delete a VIP tier; its customers move to the next tier they qualify for."
    )
    async def vip_tier_delete(
        self, info: PointsInfo, input: VipTierDeleteInput
    ) -> VipTierDeletePayload:
        context = info.context
        require(context.viewer, Capability.MANAGE_PROGRAM)
        try:
            async with context.unit_of_work() as session:
                recalculation = await tier_service.delete_tier(
                    session,
                    context.viewer.merchant_id,
                    str(input.id),
                    actor_id=context.viewer.user_id,
                )
        except PointsError as error:
            return VipTierDeletePayload(
                deleted_vip_tier_id=None,
                reassigned_customers=0,
                user_errors=[PointsUserError.from_error(error)],
            )
        await _customers_changed(info, recalculation.reassigned)
        return VipTierDeletePayload(
            deleted_vip_tier_id=input.id,
            reassigned_customers=recalculation.reassigned,
            user_errors=[],
        )
