"""Editing the rewards catalog, and redeeming rewards."""

from __future__ import annotations

import strawberry

from subgraphs.kit.graphql.mutations import run_mutation
from subgraphs.kit.permissions import Capability
from subgraphs.points.customers.types import Customer
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.rewards import service as rewards
from subgraphs.points.rewards.redemption import RedemptionOutcome, redeem_reward
from subgraphs.points.rewards.types import (
    Reward,
    RewardCreateInput,
    RewardCreatePayload,
    RewardDeleteInput,
    RewardDeletePayload,
    RewardRedeemInput,
    RewardRedeemPayload,
    RewardRedemption,
    RewardUpdateInput,
    RewardUpdatePayload,
)
from subgraphs.points.shopify import ShopifyConnector
from subgraphs.points.user_errors import PointsUserError


@strawberry.type
class RewardMutation:
    @strawberry.mutation(description="Add a reward to the catalog.")
    async def reward_create(
        self, info: PointsInfo, input: RewardCreateInput
    ) -> RewardCreatePayload:
        return await run_mutation(
            info,
            capability=Capability.MANAGE_PROGRAM,
            perform=lambda scope: rewards.create_reward(
                scope.session, scope.merchant_id, input.to_terms(), actor_id=scope.actor_id
            ),
            respond=lambda row: RewardCreatePayload(reward=Reward.from_row(row)),
            payload=RewardCreatePayload,
            user_error=PointsUserError,
        )

    @strawberry.mutation(
        description="Change a reward; validated as a whole. Past redemptions keep their terms."
    )
    async def reward_update(
        self, info: PointsInfo, input: RewardUpdateInput
    ) -> RewardUpdatePayload:
        return await run_mutation(
            info,
            capability=Capability.MANAGE_PROGRAM,
            perform=lambda scope: rewards.update_reward(
                scope.session,
                scope.merchant_id,
                str(input.id),
                input.to_changes(),
                actor_id=scope.actor_id,
            ),
            respond=lambda row: RewardUpdatePayload(reward=Reward.from_row(row)),
            payload=RewardUpdatePayload,
            user_error=PointsUserError,
        )

    @strawberry.mutation(
        description="Remove a reward from the catalog; customers' redemptions of it are kept."
    )
    async def reward_delete(
        self, info: PointsInfo, input: RewardDeleteInput
    ) -> RewardDeletePayload:
        return await run_mutation(
            info,
            capability=Capability.MANAGE_PROGRAM,
            perform=lambda scope: rewards.delete_reward(
                scope.session,
                scope.merchant_id,
                str(input.id),
                now=scope.now,
                actor_id=scope.actor_id,
            ),
            respond=lambda deleted_id: RewardDeletePayload(
                deleted_reward_id=strawberry.ID(deleted_id)
            ),
            payload=RewardDeletePayload,
            user_error=PointsUserError,
        )

    @strawberry.mutation(
        description="Spend a customer's points on a reward and get its discount code, once per "
        "idempotencyKey. If Shopify cannot create the discount, the points are returned."
    )
    async def reward_redeem(
        self, info: PointsInfo, input: RewardRedeemInput
    ) -> RewardRedeemPayload:
        async def respond(outcome: RedemptionOutcome) -> RewardRedeemPayload:
            customer = await info.context.loaders.customer_by_id.load(
                outcome.redemption.customer_id
            )
            return RewardRedeemPayload(
                redemption=RewardRedemption.from_rows(outcome.redemption, outcome.reward),
                customer=None if customer is None else Customer.from_row(customer),
                user_errors=[PointsUserError.from_error(outcome.error)] if outcome.error else [],
            )

        # Customers redeem for themselves from the storefront; staff spend on their behalf.
        # The redemption opens its own units of work around the call to Shopify.
        return await run_mutation(
            info,
            capability=Capability.WRITE_POINTS,
            for_customer=str(input.customer_id),
            transaction=False,
            perform=lambda scope: redeem_reward(
                scope.resources,
                ShopifyConnector.for_process(scope.resources),
                scope.merchant_id,
                input.to_command(),
                now=scope.now,
            ),
            respond=respond,
            payload=RewardRedeemPayload,
            user_error=PointsUserError,
        )
