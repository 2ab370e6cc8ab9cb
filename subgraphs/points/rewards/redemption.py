"""Redeeming a reward: points become a discount code, and are never lost nor spent twice.

Three steps, because a call to Shopify must never run inside a database transaction (it would
hold the customer's lock and a pooled connection for as long as Shopify takes):
1. one transaction: lock the customer, check the reward and the customer's limit, debit the
   points, record the redemption ``pending`` with its code (encrypted); commit;
2. no transaction: create the discount (Shopify, or the sandbox for unconnected shops);
3. one transaction: ``issued``; or, if the discount was not created, the points credited
   back and ``refunded``.
A crash between 1 and 3 leaves a ``pending`` redemption, which the sweeper
(``rewards.jobs.resolve_stale_redemptions``) settles later by asking Shopify whether the code
exists. Step 3 locks the redemption and only
settles a pending one, so the request and the sweeper never both settle it.

Unlike the other services, the functions at the bottom open their own units of work: the
external call between the two transactions is the whole point of the design.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import REWARD_REDEMPTIONS_CODE
from db.ids import new_id
from db.models import RedemptionStatus, RewardRedemption
from db.session import tenant_unit_of_work
from subgraphs.kit.events import ledger_changed
from subgraphs.kit.integrations.shopify_operations import DiscountCodeSpec
from subgraphs.kit.resources import Resources
from subgraphs.points.customers.repository import CustomerRepository
from subgraphs.points.errors import (
    PointsError,
    PointsErrorCode,
    check_idempotency_key,
    customer_not_found,
    idempotency_key_reused,
)
from subgraphs.points.ledger import service as ledger
from subgraphs.points.ledger.write_path import applied, trace
from subgraphs.points.orders.repository import shop_connection
from subgraphs.points.program.calculation import TraceStep
from subgraphs.points.program.service import program_config
from subgraphs.points.rewards.discounts import (
    DiscountNotIssuedError,
    IssuedDiscount,
    discount_issuer,
    discount_spec,
    new_discount_code,
)
from subgraphs.points.rewards.repository import (
    RedemptionRepository,
    RedemptionWithReward,
    RewardRepository,
)
from subgraphs.points.rewards.service import check_redeemable, reward_value
from subgraphs.points.shopify import MerchantConnection, ShopifyConnector

log = structlog.get_logger(__name__)

# Leaves room for the prefixes of the ledger keys derived from it (ledger keys: 255).
MAX_IDEMPOTENCY_KEY_LENGTH = 200
_MAX_FAILURE_LENGTH = 500


@dataclass(frozen=True, slots=True)
class RedeemCommand:
    customer_id: str
    reward_id: str
    idempotency_key: str
    # The shopper's presentment currency; the shop currency when None.
    currency_code: str | None = None


@dataclass(frozen=True, slots=True)
class RedemptionOutcome(RedemptionWithReward):
    """Where a redemption ended up."""

    # True when the idempotency key had been used: the earlier redemption, nothing changed.
    replayed: bool = False
    # DISCOUNT_NOT_CREATED when the redemption ended refunded.
    error: PointsError | None = None


@dataclass(frozen=True, slots=True)
class DiscountToIssue:
    connection: MerchantConnection
    spec: DiscountCodeSpec


@dataclass(frozen=True, slots=True)
class StartedRedemption(RedemptionWithReward):
    """Step 1 done: the redemption recorded pending, and the discount still to create."""

    # None for a replay: the earlier request issues (or issued) the discount.
    to_issue: DiscountToIssue | None


def redemption_code(redemption: RewardRedemption, cipher: FieldCipher) -> str:
    return cipher.decrypt(redemption.code_encrypted, context=REWARD_REDEMPTIONS_CODE)


def _debit_key(client_key: str) -> str:
    return f"redeem:{client_key}"


def _refund_key(client_key: str) -> str:
    return f"redeem:{client_key}:refund"


def _movement(
    customer_id: str,
    points: int,
    reward_id: str,
    redemption_id: str,
    *,
    reason: str,
    key: str,
    step: TraceStep,
) -> ledger.PointsMovement:
    """The points a redemption debits, or credits back; ``step`` explains it in the trace."""
    return ledger.PointsMovement(
        customer_id=customer_id,
        points=points,
        reason=reason,
        idempotency_key=key,
        source="reward",
        explanation={"reward_id": reward_id, "redemption_id": redemption_id, **trace(step)},
    )


def not_created_error() -> PointsError:
    return PointsError(
        PointsErrorCode.DISCOUNT_NOT_CREATED,
        "rewardId",
        "the discount code could not be created; the points were returned",
    )


async def begin_redemption(
    session: AsyncSession,
    merchant_id: str,
    command: RedeemCommand,
    cipher: FieldCipher,
    *,
    now: datetime,
) -> StartedRedemption:
    """Step 1: debit and record the redemption ``pending``, or return the one recorded under
    the same idempotency key."""
    check_idempotency_key(command.idempotency_key, MAX_IDEMPOTENCY_KEY_LENGTH)
    rewards, redemptions = (
        RewardRepository(session, merchant_id),
        RedemptionRepository(session, merchant_id),
    )
    # The ledger locks the customer too; locking first makes the replay and limit checks
    # below race-free, and refuses an exhausted limit before an unaffordable price.
    customer = await CustomerRepository(session, merchant_id).lock(command.customer_id)
    if customer is None:
        raise customer_not_found()
    existing = await redemptions.redemption_by_idempotency_key(command.idempotency_key)
    if existing is not None:
        if existing.customer_id != customer.id or existing.reward_id != command.reward_id:
            raise idempotency_key_reused()
        reward = await rewards.reward_by_id(existing.reward_id, include_deleted=True)
        assert reward is not None, "redemptions reference their reward"
        return StartedRedemption(existing, reward, None)

    reward = await rewards.reward_by_id(command.reward_id)
    if reward is None:
        raise PointsError(PointsErrorCode.REWARD_NOT_FOUND, "rewardId", "reward not found")
    check_redeemable(reward, now)
    config = await program_config(session, merchant_id)
    currency_code = (command.currency_code or config.currencies.base).strip().upper()
    value = reward_value(reward, config, currency_code)
    if reward.per_customer_limit is not None:
        redeemed = await redemptions.count_unrefunded(customer.id, reward.id)
        if redeemed >= reward.per_customer_limit:
            raise PointsError(
                PointsErrorCode.REWARD_LIMIT_REACHED,
                "rewardId",
                f"this reward can be redeemed {reward.per_customer_limit} time(s) per customer",
            )
    # The ledger refuses it too; here the error names the input at fault (the reward).
    if reward.points_cost > customer.points_balance:
        raise PointsError(
            PointsErrorCode.INSUFFICIENT_POINTS,
            "rewardId",
            f"this reward costs {reward.points_cost} points; the balance is "
            f"{customer.points_balance}",
        )

    redemption_id = new_id()
    debit = _movement(
        customer.id,
        reward.points_cost,
        reward.id,
        redemption_id,
        reason=f"reward: {reward.title}",
        key=_debit_key(command.idempotency_key),
        step=applied(
            "reward",
            f"redeemed {reward.title!r} for {reward.points_cost} points",
            -reward.points_cost,
        ),
    )
    entry = await ledger.redeem(session, merchant_id, debit, now=now)
    if entry.replayed:
        # The debit key was spent without a redemption of this customer: not our request.
        raise idempotency_key_reused()
    code = new_discount_code()
    connection = await shop_connection(session, merchant_id)
    redemption = await redemptions.insert_redemption(
        redemption_id=redemption_id,
        customer_id=customer.id,
        reward_id=reward.id,
        points_spent=reward.points_cost,
        idempotency_key=command.idempotency_key,
        code_encrypted=cipher.encrypt(code, context=REWARD_REDEMPTIONS_CODE),
        sandbox=connection.api_token_encrypted is None,
        value_amount=value,
        currency_code=currency_code,
        debit_transaction_id=entry.transaction.id,
    )
    spec = discount_spec(
        reward, code, starts_at=now, shopify_customer_id=customer.shopify_customer_id
    )
    return StartedRedemption(redemption, reward, DiscountToIssue(connection, spec))


async def _lock(repository: RedemptionRepository, redemption_id: str) -> RewardRedemption:
    redemption = await repository.redemption_by_id(redemption_id, for_update=True)
    assert redemption is not None, "redemptions are never deleted while pending"
    return redemption


async def mark_issued(
    session: AsyncSession, merchant_id: str, redemption_id: str, issued: IssuedDiscount
) -> RewardRedemption:
    """Step 3, success. A redemption settled meanwhile (by the sweeper) is left as it is."""
    repository = RedemptionRepository(session, merchant_id)
    redemption = await _lock(repository, redemption_id)
    if redemption.status != RedemptionStatus.PENDING:
        return redemption
    return await repository.mark_issued(redemption_id, issued.discount_id)


async def refund_redemption(
    session: AsyncSession, merchant_id: str, redemption_id: str, *, failure: str, now: datetime
) -> tuple[RewardRedemption, ledger.LedgerEntry | None]:
    """Step 3, failure: the points go back and the redemption ends ``refunded``. The entry is
    None when the redemption had been settled meanwhile."""
    repository = RedemptionRepository(session, merchant_id)
    redemption = await _lock(repository, redemption_id)
    if redemption.status != RedemptionStatus.PENDING:
        return redemption, None
    credit = _movement(
        redemption.customer_id,
        redemption.points_spent,
        redemption.reward_id,
        redemption.id,
        reason="reward not issued: points returned",
        key=_refund_key(redemption.idempotency_key),
        step=applied(
            "redemption_refund",
            f"discount not created: {failure}"[:_MAX_FAILURE_LENGTH],
            redemption.points_spent,
        ),
    )
    entry = await ledger.credit_back(session, merchant_id, credit, now=now)
    refunded = await repository.mark_refunded(
        redemption_id,
        refund_transaction_id=entry.transaction.id,
        failure=failure[:_MAX_FAILURE_LENGTH],
    )
    return refunded, entry


# --- orchestration: these open their own units of work ------------------------------------


async def redeem_reward(
    resources: Resources,
    connector: ShopifyConnector,
    merchant_id: str,
    command: RedeemCommand,
    *,
    now: datetime | None = None,
) -> RedemptionOutcome:
    """Redeem once per idempotency key. Expected refusals raise PointsError with nothing
    written; a discount Shopify would not create comes back refunded, with ``error`` set."""
    now = now or datetime.now(UTC)
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        started = await begin_redemption(session, merchant_id, command, resources.cipher, now=now)
    redemption = started.redemption
    if started.to_issue is None:
        refunded = redemption.status == RedemptionStatus.REFUNDED
        return RedemptionOutcome(
            redemption,
            started.reward,
            replayed=True,
            error=not_created_error() if refunded else None,
        )
    await ledger_changed(
        resources,
        merchant_id,
        customer_id=redemption.customer_id,
        transaction_id=redemption.debit_transaction_id,
    )
    try:
        to_issue = started.to_issue
        async with discount_issuer(
            connector, merchant_id, to_issue.connection, resources.cipher
        ) as issuer:
            issued = await issuer.issue(to_issue.spec)
    except DiscountNotIssuedError as exc:
        log.warning(
            "redemption_discount_not_created",
            merchant_id=merchant_id,
            redemption_id=redemption.id,
            error=str(exc),
        )
        settled = await settle_refunded(resources, merchant_id, redemption.id, str(exc), now=now)
        error = not_created_error() if settled.status == RedemptionStatus.REFUNDED else None
        return RedemptionOutcome(settled, started.reward, error=error)
    settled = await settle_issued(resources, merchant_id, redemption.id, issued)
    return RedemptionOutcome(settled, started.reward)


async def settle_issued(
    resources: Resources, merchant_id: str, redemption_id: str, issued: IssuedDiscount
) -> RewardRedemption:
    """Step 3, success, in its own unit of work; published once committed."""
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        settled = await mark_issued(session, merchant_id, redemption_id, issued)
    await ledger_changed(
        resources, merchant_id, customer_id=settled.customer_id, redemption_id=settled.id
    )
    return settled


async def settle_refunded(
    resources: Resources, merchant_id: str, redemption_id: str, failure: str, *, now: datetime
) -> RewardRedemption:
    """Step 3, failure, in its own unit of work; published once committed."""
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        redemption, entry = await refund_redemption(
            session, merchant_id, redemption_id, failure=failure, now=now
        )
    if entry is not None:
        await ledger_changed(
            resources,
            merchant_id,
            customer_id=redemption.customer_id,
            transaction_id=entry.transaction.id,
        )
    return redemption
