"""Editing the rewards catalog, and redeeming rewards."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from subgraphs.kit.permissions import Capability, require, require_customer_access
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.service import rewards
from subgraphs.points.service.discounts import ShopifyConnector
from subgraphs.points.service.errors import PointsError
from subgraphs.points.service.redemption import RedeemCommand, redeem_reward
from subgraphs.points.types.customer import Customer
from subgraphs.points.types.errors import PointsUserError
from subgraphs.points.types.rewards import (
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


@strawberry.type
class RewardMutation:
    @strawberry.mutation(description="Add a reward to the catalog.")
    async def reward_create(
        self, info: PointsInfo, input: RewardCreateInput
    ) -> RewardCreatePayload:
        context = info.context
        require(context.viewer, Capability.MANAGE_PROGRAM)
        try:
            async with context.unit_of_work() as session:
                row = await rewards.create_reward(
                    session,
                    context.viewer.merchant_id,
                    input.to_terms(),
                    actor_id=context.viewer.user_id,
                )
        except PointsError as error:
            return RewardCreatePayload(reward=None, user_errors=[PointsUserError.from_error(error)])
        return RewardCreatePayload(reward=Reward.from_row(row), user_errors=[])

    @strawberry.mutation(
        description="Change a reward; validated as a whole. Past redemptions keep their terms."
    )
    async def reward_update(
        self, info: PointsInfo, input: RewardUpdateInput
    ) -> RewardUpdatePayload:
        context = info.context
        require(context.viewer, Capability.MANAGE_PROGRAM)
        try:
            async with context.unit_of_work() as session:
                row = await rewards.update_reward(
                    session,
                    context.viewer.merchant_id,
                    str(input.id),
                    input.to_changes(),
                    actor_id=context.viewer.user_id,
                )
        except PointsError as error:
            return RewardUpdatePayload(reward=None, user_errors=[PointsUserError.from_error(error)])
        return RewardUpdatePayload(reward=Reward.from_row(row), user_errors=[])

    @strawberry.mutation(
        description="Remove a reward from the catalog; customers' redemptions of it are kept."
    )
    async def reward_delete(
        self, info: PointsInfo, input: RewardDeleteInput
    ) -> RewardDeletePayload:
        context = info.context
        require(context.viewer, Capability.MANAGE_PROGRAM)
        try:
            async with context.unit_of_work() as session:
                deleted_id = await rewards.delete_reward(
                    session,
                    context.viewer.merchant_id,
                    str(input.id),
                    now=datetime.now(UTC),
                    actor_id=context.viewer.user_id,
                )
        except PointsError as error:
            return RewardDeletePayload(
                deleted_reward_id=None, user_errors=[PointsUserError.from_error(error)]
            )
        return RewardDeletePayload(deleted_reward_id=strawberry.ID(deleted_id), user_errors=[])

    @strawberry.mutation(
        description="Spend a customer's points on a reward and get its discount code, once per "
        "idempotencyKey. If Shopify cannot create the discount, the points are returned."
    )
    async def reward_redeem(
        self, info: PointsInfo, input: RewardRedeemInput
    ) -> RewardRedeemPayload:
        context = info.context
        # Customers redeem for themselves from the storefront; staff spend on their behalf.
        require_customer_access(context.viewer, str(input.customer_id), Capability.WRITE_POINTS)
        command = RedeemCommand(
            customer_id=str(input.customer_id),
            reward_id=str(input.reward_id),
            idempotency_key=input.idempotency_key,
            currency_code=input.currency_code,
        )
        try:
            outcome = await redeem_reward(
                context.resources,
                ShopifyConnector.for_process(context.resources),
                context.viewer.merchant_id,
                command,
            )
        except PointsError as error:
            return RewardRedeemPayload(
                redemption=None, customer=None, user_errors=[PointsUserError.from_error(error)]
            )
        customer = await context.loaders.customer_by_id.load(outcome.redemption.customer_id)
        return RewardRedeemPayload(
            redemption=RewardRedemption.from_rows(outcome.redemption, outcome.reward),
            customer=None if customer is None else Customer.from_row(customer),
            user_errors=[PointsUserError.from_error(outcome.error)] if outcome.error else [],
        )
