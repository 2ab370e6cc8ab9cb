"""Editing the rewards catalog, and redeeming rewards."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.kit.graphql.node import global_id, local_id
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
from subgraphs.points.user_errors import PointsUserError, points_mutation


@strawberry.mutation(
    description="Add a reward to the catalog, once per idempotencyKey: a retry returns the "
    "same reward."
)
async def reward_create(
    info: PointsInfo,
    input: Annotated[
        RewardCreateInput,
        strawberry.argument(description="The new reward's kind, title, cost and terms."),
    ],
) -> RewardCreatePayload:
    return await points_mutation(
        info,
        RewardCreatePayload,
        lambda scope: rewards.create_reward(
            scope.write, input.to_terms(), idempotency_key=input.idempotency_key
        ),
        lambda row: RewardCreatePayload(reward=Reward.from_row(row)),
    )


@strawberry.mutation(
    description="Change a reward; validated as a whole. Past redemptions keep their terms."
)
async def reward_update(
    info: PointsInfo,
    input: Annotated[
        RewardUpdateInput, strawberry.argument(description="The reward and the changes to make.")
    ],
) -> RewardUpdatePayload:
    return await points_mutation(
        info,
        RewardUpdatePayload,
        lambda scope: rewards.update_reward(
            scope.write,
            local_id(input.id, "Reward"),
            input.to_changes(),
            expected_version=input.expected_version,
        ),
        lambda row: RewardUpdatePayload(reward=Reward.from_row(row)),
    )


@strawberry.mutation(
    description="Remove a reward from the catalog; customers' redemptions of it are kept. "
    "Safe to retry: removing it again answers the same deletedRewardId."
)
async def reward_delete(
    info: PointsInfo,
    input: Annotated[RewardDeleteInput, strawberry.argument(description="The reward to remove.")],
) -> RewardDeletePayload:
    return await points_mutation(
        info,
        RewardDeletePayload,
        lambda scope: rewards.delete_reward(scope.write, local_id(input.id, "Reward")),
        lambda deleted: RewardDeletePayload(deleted_reward_id=global_id("Reward", deleted)),
    )


@strawberry.mutation(
    description="Spend a customer's points on a reward and get its discount code, once per "
    "idempotencyKey. If Shopify cannot create the discount, the points are returned."
)
async def reward_redeem(
    info: PointsInfo,
    input: Annotated[
        RewardRedeemInput,
        strawberry.argument(description="Who redeems which reward, and the idempotency key."),
    ],
) -> RewardRedeemPayload:
    async def respond(outcome: RedemptionOutcome) -> RewardRedeemPayload:
        customer = await info.context.loaders.customer_by_id.load(outcome.redemption.customer_id)
        return RewardRedeemPayload(
            redemption=RewardRedemption.from_view(outcome),
            customer=None if customer is None else Customer.from_row(customer),
            user_errors=[PointsUserError.from_error(outcome.error)] if outcome.error else [],
        )

    # Customers redeem for themselves from the storefront; staff spend on their behalf.
    # The redemption opens its own units of work around the call to Shopify.
    return await points_mutation(
        info,
        RewardRedeemPayload,
        lambda scope: redeem_reward(
            scope.resources,
            ShopifyConnector.for_process(scope.resources),
            scope.merchant_id,
            input.to_command(),
            now=scope.now,
        ),
        respond,
        capability=Capability.WRITE_POINTS,
        for_customer=local_id(input.customer_id, "Customer"),
        transaction=False,
    )


RewardMutation = create_type(
    "RewardMutation", [reward_create, reward_update, reward_delete, reward_redeem]
)
