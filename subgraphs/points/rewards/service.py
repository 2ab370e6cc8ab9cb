"""The rewards catalog: what customers can spend points on, and when each reward is open.

Terms are validated as a whole (on create and after merging an update), so a reward is never
stored half-consistent: a percentage above 100, a free product without a product, a window
that ends before it starts. Postgres checks the same rules; these checks exist to name the
offending field in a userError instead of failing the request.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.ids import new_id
from db.models import Reward, RewardKind
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.errors import (
    MAX_CREATE_KEY_LENGTH,
    PointsError,
    PointsErrorCode,
    check_idempotency_key,
    check_replay,
    input_fingerprint,
    is_short_text,
    version_checked,
)
from subgraphs.points.ledger.write_path import MAX_POINTS_PER_TRANSACTION
from subgraphs.points.program.service import ProgramConfig
from subgraphs.points.rewards.repository import RewardRepository

MAX_TITLE_LENGTH = 120
MAX_PER_CUSTOMER_LIMIT = 1000
# Within Numeric(12, 2) with room to spare; no reward is worth more.
MAX_AMOUNT = Decimal("1000000")
CENT = Decimal("0.01")
_PRODUCT_GID = re.compile(r"^gid://shopify/Product/[1-9][0-9]*$")
_PRODUCT_NUMBER = re.compile(r"^[1-9][0-9]*$")

# Input fields an update may change; the kind is fixed (a new kind is a new reward).
UPDATABLE_FIELDS = frozenset(
    {
        "title",
        "points_cost",
        "value",
        "product_id",
        "min_order_amount",
        "per_customer_limit",
        "starts_at",
        "ends_at",
        "active",
    }
)

_REQUIRED_FIELDS = frozenset({"title", "points_cost", "active"})
_INPUT_NAMES = {"title": "title", "points_cost": "pointsCost", "active": "active"}


@dataclass(frozen=True, slots=True)
class RewardTerms:
    kind: RewardKind
    title: str
    points_cost: int
    # Shop-currency amount (FIXED_AMOUNT) or percent 0-100 (PERCENTAGE); nothing otherwise.
    value: Decimal | None = None
    # Shopify product gid (or numeric id), FREE_PRODUCT only.
    product_id: str | None = None
    min_order_amount: Decimal | None = None
    per_customer_limit: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    active: bool = True

    @classmethod
    def of(cls, reward: Reward) -> RewardTerms:
        return cls(
            kind=RewardKind(reward.kind),
            title=reward.title,
            points_cost=reward.points_cost,
            value=reward.value,
            product_id=reward.product_id,
            min_order_amount=reward.min_order_amount,
            per_customer_limit=reward.per_customer_limit,
            starts_at=reward.starts_at,
            ends_at=reward.ends_at,
            active=reward.active,
        )

    def to_values(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


def _invalid(field: str, message: str) -> PointsError:
    return PointsError(PointsErrorCode.INVALID_REWARD, field, message)


def _is_amount(amount: Decimal, *, high: Decimal) -> bool:
    """Above 0, at most ``high``, and whole cents (Numeric(12, 2) would round the rest)."""
    return amount.is_finite() and 0 < amount <= high and amount.quantize(CENT) == amount


def _check_amount(amount: Decimal, field: str) -> None:
    if not _is_amount(amount, high=MAX_AMOUNT):
        raise _invalid(field, f"{field} must be above 0, at most {MAX_AMOUNT}, in whole cents")


def _product_gid(product_id: str) -> str:
    product_id = product_id.strip()
    if _PRODUCT_NUMBER.match(product_id):
        return f"gid://shopify/Product/{product_id}"
    if _PRODUCT_GID.match(product_id):
        return product_id
    raise _invalid("productId", "productId must be a Shopify product id or gid")


def validate_terms(terms: RewardTerms) -> RewardTerms:
    """The terms, normalized; or a PointsError(INVALID_REWARD) naming the first bad field."""
    title = terms.title.strip()
    if not is_short_text(title, MAX_TITLE_LENGTH):
        raise _invalid("title", f"title must be 1 to {MAX_TITLE_LENGTH} characters")
    if not 0 < terms.points_cost <= MAX_POINTS_PER_TRANSACTION:
        raise _invalid(
            "pointsCost", f"pointsCost must be between 1 and {MAX_POINTS_PER_TRANSACTION}"
        )
    value = terms.value
    product_id = terms.product_id
    if terms.kind is RewardKind.FIXED_AMOUNT:
        if value is None:
            raise _invalid("value", "a fixed amount reward needs a value (shop currency)")
        _check_amount(value, "value")
    elif terms.kind is RewardKind.PERCENTAGE:
        if value is None or not _is_amount(value, high=Decimal(100)):
            raise _invalid(
                "value",
                "a percentage reward needs a value above 0, at most 100, 2 decimals at most",
            )
    elif value is not None:
        raise _invalid("value", f"a {terms.kind.value} reward takes no value")
    if terms.kind is RewardKind.FREE_PRODUCT:
        if not product_id:
            raise _invalid("productId", "a free product reward needs productId")
        product_id = _product_gid(product_id)
    elif product_id is not None:
        raise _invalid("productId", "only a free product reward takes productId")
    if terms.min_order_amount is not None:
        _check_amount(terms.min_order_amount, "minOrderAmount")
    if terms.per_customer_limit is not None and not (
        0 < terms.per_customer_limit <= MAX_PER_CUSTOMER_LIMIT
    ):
        raise _invalid(
            "perCustomerLimit", f"perCustomerLimit must be between 1 and {MAX_PER_CUSTOMER_LIMIT}"
        )
    for name, moment in (("startsAt", terms.starts_at), ("endsAt", terms.ends_at)):
        if moment is not None and moment.tzinfo is None:
            raise _invalid(name, f"{name} needs a time zone")
    if terms.starts_at and terms.ends_at and terms.ends_at <= terms.starts_at:
        raise _invalid("endsAt", "endsAt must be after startsAt")
    return dataclasses.replace(terms, title=title, product_id=product_id)


def _not_found() -> PointsError:
    return PointsError(PointsErrorCode.REWARD_NOT_FOUND, "id", "reward not found")


async def create_reward(
    write: WriteContext,
    terms: RewardTerms,
    *,
    idempotency_key: str,
) -> Reward:
    """Once per idempotency key: a retry of the same request returns the reward the first one
    made (deleted since, if it was), with no second row or audit entry; a different request
    under the key is IDEMPOTENCY_KEY_REUSED."""
    check_idempotency_key(idempotency_key, MAX_CREATE_KEY_LENGTH)
    values = validate_terms(terms).to_values()
    fingerprint = input_fingerprint(values)
    repository = RewardRepository(write.session, write.merchant_id)
    reward = await repository.insert_new_reward(new_id(), values, idempotency_key, fingerprint)
    if reward is None:
        # The key is taken: by an earlier attempt, or a concurrent one that committed first.
        existing = await repository.reward_by_idempotency_key(idempotency_key)
        assert existing is not None, "the only unique keys of rewards are the id and the key"
        check_replay(existing.idempotency_fingerprint, fingerprint)
        return existing
    await _audit(write, AuditAction.REWARD_CREATED, reward)
    return reward


async def update_reward(
    write: WriteContext,
    reward_id: str,
    changes: dict[str, Any],
    *,
    expected_version: int | None = None,
) -> Reward:
    """Merge ``changes`` (terms fields; an explicit None clears an optional one) over the
    reward and validate the result as a whole; only over ``expected_version`` when given."""
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
    for name in _REQUIRED_FIELDS & set(changes):
        if changes[name] is None:
            raise _invalid(_INPUT_NAMES[name], f"{_INPUT_NAMES[name]} cannot be cleared")
    repository = RewardRepository(write.session, write.merchant_id)
    current = await repository.reward_by_id(reward_id, for_update=True)
    if current is None:
        raise _not_found()
    valid = validate_terms(dataclasses.replace(RewardTerms.of(current), **changes))
    with version_checked("reward", expected_version):
        reward = await repository.update_reward(
            reward_id, valid.to_values(), expected_version=expected_version
        )
    assert reward is not None, "the reward is locked by this transaction"
    await _audit(write, AuditAction.REWARD_UPDATED, reward, sorted(changes))
    return reward


async def delete_reward(
    write: WriteContext,
    reward_id: str,
) -> str:
    """Soft delete: the reward leaves the catalog, its redemptions keep pointing at it. Safe
    to retry: deleting a reward deleted already answers its id again (and changes nothing)."""
    repository = RewardRepository(write.session, write.merchant_id)
    reward = await repository.update_reward(reward_id, {"deleted_at": write.now, "active": False})
    if reward is None:
        if await repository.reward_by_id(reward_id, include_deleted=True) is not None:
            return reward_id
        raise _not_found()
    await _audit(write, AuditAction.REWARD_DELETED, reward)
    return reward.id


async def _audit(
    write: WriteContext, action: AuditAction, reward: Reward, changed: list[str] | None = None
) -> None:
    metadata: dict[str, object] = {"reward_id": reward.id, "kind": reward.kind}
    if changed is not None:
        metadata["changed"] = changed
    await write.audit.record(action, metadata)


async def reward_by_id(session: AsyncSession, merchant_id: str, reward_id: str) -> Reward | None:
    return await RewardRepository(session, merchant_id).reward_by_id(reward_id)


async def rewards_page(
    session: AsyncSession,
    merchant_id: str,
    page: PageRequest,
    *,
    include_inactive: bool,
    now: datetime,
) -> Page[Reward]:
    return await RewardRepository(session, merchant_id).rewards_page(
        page, available_at=None if include_inactive else now
    )


def is_available(reward: Reward, at: datetime) -> bool:
    return (
        reward.deleted_at is None
        and reward.active
        and (reward.starts_at is None or reward.starts_at <= at)
        and (reward.ends_at is None or reward.ends_at > at)
    )


def check_redeemable(reward: Reward, at: datetime) -> None:
    if not is_available(reward, at):
        raise PointsError(
            PointsErrorCode.REWARD_UNAVAILABLE,
            "rewardId",
            "this reward is not available now (inactive, not started or ended)",
        )


def in_currency(
    config: ProgramConfig, amount: Decimal, currency_code: str, *, field: str = "currencyCode"
) -> Decimal:
    """A shop-currency amount in ``currency_code`` at the program's configured rate."""
    rate = config.currencies.rate(currency_code)
    if rate is None:
        raise PointsError(
            PointsErrorCode.UNSUPPORTED_CURRENCY,
            field,
            f"{currency_code} is not one of the program's currencies "
            f"({', '.join(config.currencies.supported)})",
        )
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def reward_value(
    reward: Reward, config: ProgramConfig, currency_code: str, *, field: str = "currencyCode"
) -> Decimal | None:
    """What a fixed amount reward is worth in ``currency_code``; None for the other kinds,
    whose worth depends on the order. An unknown currency is refused whatever the kind."""
    amount = reward.value if reward.kind == RewardKind.FIXED_AMOUNT else None
    converted = in_currency(config, amount or Decimal(0), currency_code, field=field)
    return converted if amount is not None else None
