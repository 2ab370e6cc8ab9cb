"""Editing VIP tiers. Each edit moves customers to their new tier in the same transaction."""

from __future__ import annotations

import strawberry

from subgraphs.kit.graphql.mutations import run_mutation
from subgraphs.kit.permissions import Capability
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
from subgraphs.points.user_errors import PointsUserError


async def _reassigned(info: PointsInfo, recalculation: Recalculation) -> int:
    """After the commit: cached reads derived from customers (metrics) must not outlive their
    tiers. Returns how many customers changed tier."""
    if recalculation.reassigned:
        await info.context.resources.cache.invalidate_tenant(info.context.viewer.merchant_id)
    return recalculation.reassigned


@strawberry.type
class TierMutation:
    @strawberry.mutation(description="Add a VIP tier and move the customers who now qualify.")
    async def vip_tier_create(
        self, info: PointsInfo, input: VipTierCreateInput
    ) -> VipTierCreatePayload:
        async def respond(write: TierWrite) -> VipTierCreatePayload:
            reassigned = await _reassigned(info, write.recalculation)
            return VipTierCreatePayload(
                vip_tier=VipTier.from_row(write.tier), reassigned_customers=reassigned
            )

        return await run_mutation(
            info,
            capability=Capability.MANAGE_PROGRAM,
            perform=lambda scope: tier_service.create_tier(
                scope.session, scope.merchant_id, input.to_draft(), actor_id=scope.actor_id
            ),
            respond=respond,
            payload=VipTierCreatePayload,
            user_error=PointsUserError,
        )

    @strawberry.mutation(
        description="Change a VIP tier; changed rules or rank move customers accordingly."
    )
    async def vip_tier_update(
        self, info: PointsInfo, input: VipTierUpdateInput
    ) -> VipTierUpdatePayload:
        async def respond(write: TierWrite) -> VipTierUpdatePayload:
            reassigned = await _reassigned(info, write.recalculation)
            return VipTierUpdatePayload(
                vip_tier=VipTier.from_row(write.tier), reassigned_customers=reassigned
            )

        return await run_mutation(
            info,
            capability=Capability.MANAGE_PROGRAM,
            perform=lambda scope: tier_service.update_tier(
                scope.session,
                scope.merchant_id,
                str(input.id),
                input.to_changes(),
                actor_id=scope.actor_id,
            ),
            respond=respond,
            payload=VipTierUpdatePayload,
            user_error=PointsUserError,
        )

    @strawberry.mutation(
        description="Delete a VIP tier; its customers move to the next tier they qualify for."
    )
    async def vip_tier_delete(
        self, info: PointsInfo, input: VipTierDeleteInput
    ) -> VipTierDeletePayload:
        async def respond(recalculation: Recalculation) -> VipTierDeletePayload:
            reassigned = await _reassigned(info, recalculation)
            return VipTierDeletePayload(
                deleted_vip_tier_id=input.id, reassigned_customers=reassigned
            )

        return await run_mutation(
            info,
            capability=Capability.MANAGE_PROGRAM,
            perform=lambda scope: tier_service.delete_tier(
                scope.session, scope.merchant_id, str(input.id), actor_id=scope.actor_id
            ),
            respond=respond,
            payload=VipTierDeletePayload,
            user_error=PointsUserError,
        )
