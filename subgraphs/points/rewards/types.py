"""The rewards catalog and redemptions as GraphQL."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from db.models import RedemptionStatus, RewardKind
from db.models import Reward as RewardRow
from db.models import RewardRedemption as RedemptionRow
from subgraphs.kit.graphql.codes import CurrencyCode, code_of, currency
from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.fields import (
    create_key_field,
    expected_version_field,
    from_attributes,
    version_field,
)
from subgraphs.kit.graphql.node import NODE_ID_DESCRIPTION, global_id, local_id
from subgraphs.kit.graphql.user_errors import user_errors_field
from subgraphs.kit.permissions import require_catalog_read, require_customer_access
from subgraphs.points.errors import MAX_CREATE_KEY_LENGTH
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.money import Money, shop_money
from subgraphs.points.rewards.redemption import RedeemCommand, redemption_code
from subgraphs.points.rewards.repository import RedemptionWithReward
from subgraphs.points.rewards.service import UPDATABLE_FIELDS, RewardTerms, reward_value
from subgraphs.points.user_errors import PointsUserError, bad_user_input

if TYPE_CHECKING:
    from subgraphs.points.customers.types import Customer

RewardKindEnum = domain_enum(
    RewardKind,
    name="RewardKind",
    description="What a reward gives.",
    values={
        "FIXED_AMOUNT": "An amount off the order, in the shop currency (or the presentment "
        "currency at the program's rates).",
        "PERCENTAGE": "A percentage off the order.",
        "FREE_SHIPPING": "Free shipping on the order.",
        "FREE_PRODUCT": "One product, free.",
    },
)
RewardRedemptionStatus = domain_enum(
    RedemptionStatus,
    name="RewardRedemptionStatus",
    description="PENDING while the discount is being created, then ISSUED, or REFUNDED when it "
    "could not be created and the points were returned.",
    values={
        "PENDING": "The points are spent and the discount code is being created.",
        "ISSUED": "The discount code exists: `code` can be used at checkout.",
        "REFUNDED": "The discount could not be created; the points were returned.",
    },
)


CurrencyCodeArgument = Annotated[
    CurrencyCode | None,
    strawberry.argument(description="ISO 4217 code of a program currency; the shop's if omitted."),
]


@strawberry.federation.type(keys=["id"], description="Something customers can spend points on.")
class Reward:
    id: strawberry.ID = strawberry.field(description=NODE_ID_DESCRIPTION)
    kind: RewardKindEnum = strawberry.field(description="What the reward gives.")  # type: ignore[valid-type]
    title: str = strawberry.field(description="Shown to customers and as the discount's title.")
    points_cost: int = strawberry.field(description="Points a redemption spends.")
    percentage: Decimal | None = strawberry.field(
        description="Percent off the order, 0-100 (PERCENTAGE rewards)."
    )
    product_id: strawberry.ID | None = strawberry.field(
        description="Shopify product gid given free (FREE_PRODUCT rewards)."
    )
    per_customer_limit: int | None = strawberry.field(
        description="How many times one customer may redeem it (refunded ones do not count)."
    )
    starts_at: datetime | None = strawberry.field(description="Redeemable from then on.")
    ends_at: datetime | None = strawberry.field(description="Redeemable until then.")
    active: bool = strawberry.field(description="The merchant's on/off switch.")
    created_at: datetime = strawberry.field(description="When the reward was created.")
    version: int = version_field("reward")
    row: strawberry.Private[RewardRow]

    @classmethod
    def from_row(cls, row: RewardRow) -> Reward:
        return from_attributes(
            cls,
            row,
            id=global_id("Reward", row.id),
            kind=RewardKind(row.kind),
            percentage=row.value if row.kind == RewardKind.PERCENTAGE else None,
            product_id=strawberry.ID(row.product_id) if row.product_id else None,
            row=row,
        )

    @classmethod
    async def resolve_reference(cls, info: PointsInfo, id: strawberry.ID) -> Reward | None:
        """A refetch by global ID (``node``): the viewer's reward, as ``reward(id:)`` answers."""
        require_catalog_read(info.context.viewer)
        row = await info.context.loaders.reward_by_id.load(local_id(id, "Reward"))
        return None if row is None else cls.from_row(row)

    @strawberry.field(
        description="Amount off (FIXED_AMOUNT rewards) in the currency asked for, at the "
        "program's rates; the shop currency by default. Null for the other kinds."
    )
    async def value(
        self, info: PointsInfo, currency_code: CurrencyCodeArgument = None
    ) -> Money | None:
        config = await info.context.loaders.program_config.load(info.context.viewer.merchant_id)
        code = code_of(currency_code) or config.currencies.base.strip().upper()
        with bad_user_input():
            amount = reward_value(self.row, config, code)
        return None if amount is None else Money(amount=amount, currency_code=currency(code))

    @strawberry.field(description="Minimum order subtotal to use the code, in the shop currency.")
    async def min_order_amount(self, info: PointsInfo) -> Money | None:
        amount = self.row.min_order_amount
        return None if amount is None else await shop_money(info, amount)


@strawberry.federation.type(
    keys=["id"], description="A reward a customer redeemed, and the discount code it gave."
)
class RewardRedemption:
    id: strawberry.ID = strawberry.field(description=NODE_ID_DESCRIPTION)
    reward: Reward = strawberry.field(description="The reward redeemed.")
    status: RewardRedemptionStatus = strawberry.field(description="Where the redemption is.")  # type: ignore[valid-type]
    points_spent: int = strawberry.field(description="Points the redemption took.")
    sandbox: bool = strawberry.field(
        description="True when the code was generated locally because the shop has no Shopify "
        "connection: it works nowhere but in development."
    )
    value: Money | None = strawberry.field(
        description="Amount off in the presentment currency asked for at redemption (FIXED_AMOUNT)."
    )
    created_at: datetime = strawberry.field(description="When the customer redeemed.")
    row: strawberry.Private[RedemptionRow]

    @classmethod
    def from_rows(cls, row: RedemptionRow, reward: RewardRow) -> RewardRedemption:
        return cls(
            id=global_id("RewardRedemption", row.id),
            reward=Reward.from_row(reward),
            status=RedemptionStatus(row.status),
            points_spent=row.points_spent,
            sandbox=row.sandbox,
            value=(
                Money(amount=row.value_amount, currency_code=currency(row.currency_code))
                if row.value_amount is not None and row.currency_code
                else None
            ),
            created_at=row.created_at,
            row=row,
        )

    @classmethod
    def from_view(cls, view: RedemptionWithReward) -> RewardRedemption:
        return cls.from_rows(view.redemption, view.reward)

    @classmethod
    async def resolve_reference(
        cls, info: PointsInfo, id: strawberry.ID
    ) -> RewardRedemption | None:
        """A refetch by global ID: readable by whoever may read the customer's redemptions."""
        view = await info.context.loaders.redemption_by_id.load(local_id(id, "RewardRedemption"))
        if view is None:
            return None
        require_customer_access(info.context.viewer, view.redemption.customer_id)
        return cls.from_view(view)

    @strawberry.field(description="The discount code to enter at checkout, once ISSUED.")
    def code(self, info: PointsInfo) -> str | None:
        if self.row.status != RedemptionStatus.ISSUED:
            return None
        return redemption_code(self.row, info.context.resources.cipher)


def redemption_position(view: RedemptionWithReward) -> tuple[str, str]:
    return (view.redemption.created_at.isoformat(), view.redemption.id)


def reward_position(row: RewardRow) -> tuple[str]:
    return (row.id,)


@strawberry.input(description="A new reward.")
class RewardCreateInput:
    kind: RewardKindEnum = strawberry.field(description="What the reward gives.")  # type: ignore[valid-type]
    title: str = strawberry.field(description="Shown to customers, e.g. '$5 off'.")
    points_cost: int = strawberry.field(description="Points a redemption spends.")
    idempotency_key: str = create_key_field("reward", MAX_CREATE_KEY_LENGTH)
    value: Decimal | None = strawberry.field(
        default=None,
        description="Amount off in the shop currency (FIXED_AMOUNT) or percent 0-100 "
        "(PERCENTAGE); omitted for the other kinds.",
    )
    product_id: strawberry.ID | None = strawberry.field(
        default=None, description="Shopify product id or gid (FREE_PRODUCT only)."
    )
    min_order_amount: Decimal | None = strawberry.field(
        default=None, description="Minimum order subtotal, in the shop currency."
    )
    per_customer_limit: int | None = strawberry.field(
        default=None, description="Redemptions allowed per customer; unlimited when omitted."
    )
    starts_at: datetime | None = strawberry.field(default=None, description="Opens then.")
    ends_at: datetime | None = strawberry.field(default=None, description="Closes then.")
    active: bool = strawberry.field(default=True, description="Start switched on.")

    def to_terms(self) -> RewardTerms:
        return RewardTerms(kind=RewardKind(self.kind), **_terms_given(self))


@strawberry.input(
    description="Changes to a reward; omitted fields keep their value, null clears an optional "
    "one. The kind cannot change: create another reward."
)
class RewardUpdateInput:
    id: strawberry.ID = strawberry.field(description="The reward to change.")
    expected_version: int | None = expected_version_field("reward")
    title: str | None = strawberry.field(default=strawberry.UNSET, description="Title.")
    points_cost: int | None = strawberry.field(default=strawberry.UNSET, description="Cost.")
    value: Decimal | None = strawberry.field(
        default=strawberry.UNSET, description="Amount (FIXED_AMOUNT) or percent (PERCENTAGE)."
    )
    product_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Shopify product (FREE_PRODUCT)."
    )
    min_order_amount: Decimal | None = strawberry.field(
        default=strawberry.UNSET, description="Minimum subtotal; null removes it."
    )
    per_customer_limit: int | None = strawberry.field(
        default=strawberry.UNSET, description="Per-customer limit; null removes it."
    )
    starts_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="Opens then; null: open now."
    )
    ends_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="Closes then; null: never closes."
    )
    active: bool | None = strawberry.field(default=strawberry.UNSET, description="On/off.")

    def to_changes(self) -> dict[str, Any]:
        return {
            name: value
            for name, value in _terms_given(self).items()
            if value is not strawberry.UNSET
        }


def _terms_given(reward: RewardCreateInput | RewardUpdateInput) -> dict[str, Any]:
    """The input's reward terms (every one but the kind) as the service names them."""
    terms = {name: getattr(reward, name) for name in UPDATABLE_FIELDS}
    if terms["product_id"]:
        terms["product_id"] = str(terms["product_id"])
    return terms


@strawberry.input(description="The reward to remove from the catalog.")
class RewardDeleteInput:
    id: strawberry.ID = strawberry.field(description="The reward; its redemptions are kept.")


@strawberry.input(description="Spend a customer's points on a reward.")
class RewardRedeemInput:
    customer_id: strawberry.ID = strawberry.field(description="Who redeems.")
    reward_id: strawberry.ID = strawberry.field(description="What they redeem.")
    idempotency_key: str = strawberry.field(
        description="Your unique key for this redemption: retrying with it returns the same "
        "redemption and never spends twice."
    )
    currency_code: CurrencyCode | None = strawberry.field(
        default=None,
        description="The shopper's presentment currency (ISO 4217) for the redemption's value; "
        "the shop currency when omitted.",
    )

    def to_command(self) -> RedeemCommand:
        return RedeemCommand(
            customer_id=local_id(self.customer_id, "Customer"),
            reward_id=local_id(self.reward_id, "Reward"),
            idempotency_key=self.idempotency_key,
            currency_code=code_of(self.currency_code),
        )


@strawberry.type(description="Result of rewardCreate.")
class RewardCreatePayload:
    reward: Reward | None = strawberry.field(
        default=None,
        description="The new reward (the original one when the key was already used).",
    )
    user_errors: list[PointsUserError] = user_errors_field()


@strawberry.type(description="Result of rewardUpdate.")
class RewardUpdatePayload:
    reward: Reward | None = strawberry.field(default=None, description="The reward as changed.")
    user_errors: list[PointsUserError] = user_errors_field()


@strawberry.type(description="Result of rewardDelete.")
class RewardDeletePayload:
    deleted_reward_id: strawberry.ID | None = strawberry.field(
        default=None, description="The reward removed from the catalog."
    )
    user_errors: list[PointsUserError] = user_errors_field()


@strawberry.type(description="Result of rewardRedeem.")
class RewardRedeemPayload:
    redemption: RewardRedemption | None = strawberry.field(
        default=None,
        description="The redemption (the original one when the key was already used); "
        "REFUNDED with a DISCOUNT_NOT_CREATED userError when the discount could not be created.",
    )
    customer: Annotated[Customer, strawberry.lazy("subgraphs.points.customers.types")] | None = (
        strawberry.field(
            default=None, description="The customer, with the balance after the redemption."
        )
    )
    user_errors: list[PointsUserError] = user_errors_field("What went wrong.")
