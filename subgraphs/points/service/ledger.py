"""Ledger operations: earn, redeem, adjust, reverse, expire and credit back.

Every operation is one transaction of the caller's and follows the same steps:
1. lock the customer row, so all ledger writes of one customer run one at a time;
2. replay: an idempotency key already used for the same request returns the original entry
   and changes nothing (a different request under the same key is refused);
3. decide the points (the calculation, the balance, the order's history);
4. insert the ledger row with its decision trace, consume or open lots, move the balance
   projection and the customer facts, reassign the VIP tier, write the audit log.

Invariants (also enforced by Postgres constraints): balance = signed sum of the ledger =
sum of the open lots; balance >= 0; one idempotency key changes the ledger at most once; an
order earns at most once. Callers publish ``kit.events.ledger_changed`` after committing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.ids import new_id
from db.models import BonusCampaign, Customer, PointsTransaction, PointsTransactionKind
from subgraphs.kit.repository import insert_audit_log
from subgraphs.points.repository.campaigns import CampaignRepository
from subgraphs.points.repository.ledger import CustomerChange, LedgerRepository
from subgraphs.points.service.calculation import (
    Calculation,
    CampaignTerms,
    CustomerFacts,
    EarnAction,
    Order,
    calculate,
    to_base_amount,
)
from subgraphs.points.service.errors import PointsError, PointsErrorCode
from subgraphs.points.service.program import ExpiryKind, ProgramConfig, program_config
from subgraphs.points.service.tier_rules import (
    RankedTier,
    TierFacts,
    TierRules,
    assign_tier,
    rfm_score_of,
)

MAX_POINTS_PER_TRANSACTION = 1_000_000
MAX_REASON_LENGTH = 200
MAX_IDEMPOTENCY_KEY_LENGTH = 255

_AUDIT_ACTIONS = {
    PointsTransactionKind.EARN: "points_earned",
    PointsTransactionKind.REDEEM: "points_redeemed",
    PointsTransactionKind.ADJUST: "points_adjusted",
    PointsTransactionKind.REVERSE: "points_reversed",
    PointsTransactionKind.EXPIRE: "points_expired",
    PointsTransactionKind.REFUND: "points_refunded",
}


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    transaction: PointsTransaction
    balance: int
    # True when the idempotency key had been used: nothing changed this time.
    replayed: bool
    customer_id: str


@dataclass(frozen=True, slots=True)
class EarnCommand:
    customer_id: str
    action: EarnAction
    idempotency_key: str
    order: Order | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class AdjustCommand:
    customer_id: str
    points: int
    reason: str
    idempotency_key: str
    actor_id: str | None = None


@dataclass(frozen=True, slots=True)
class DebitCommand:
    """Spend points (a redemption)."""

    customer_id: str
    points: int
    reason: str
    idempotency_key: str
    source: str
    explanation: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CreditBackCommand:
    """Return points taken by a redemption that could not be fulfilled."""

    customer_id: str
    points: int
    reason: str
    idempotency_key: str
    source: str
    explanation: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RefundLine:
    line_id: str
    # Either may be given; an amount (order currency) is exact for partial-price refunds.
    quantity: int | None = None
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ReverseCommand:
    """Take back an order's points: the whole order (``lines`` None: cancellation) or the
    refunded lines, in proportion to the refunded part of each line."""

    order_id: str
    idempotency_key: str
    lines: tuple[RefundLine, ...] | None = None
    reason: str = "order cancelled"


@dataclass(frozen=True, slots=True)
class _Draft:
    kind: PointsTransactionKind
    points: int
    reason: str
    idempotency_key: str
    source: str
    explanation: dict[str, Any]
    change: CustomerChange
    order_id: str | None = None
    currency: str | None = None
    expires_at: datetime | None = None
    actor_id: str | None = None
    preferred_lot: str | None = None
    # Debits that empty specific lots (expiry) instead of taking the oldest points.
    drain_lots: tuple[str, ...] = ()


def _check_text(value: str, field_name: str, code: PointsErrorCode, limit: int) -> None:
    if not value.strip() or len(value) > limit or "\x00" in value:
        raise PointsError(code, field_name, f"{field_name} must be 1 to {limit} characters")


def _check_key(key: str) -> None:
    _check_text(
        key, "idempotencyKey", PointsErrorCode.INVALID_IDEMPOTENCY_KEY, MAX_IDEMPOTENCY_KEY_LENGTH
    )


def _check_points(points: int, *, allow_negative: bool = False) -> None:
    low = -MAX_POINTS_PER_TRANSACTION if allow_negative else 1
    if not low <= points <= MAX_POINTS_PER_TRANSACTION or points == 0:
        raise PointsError(
            PointsErrorCode.INVALID_POINTS,
            "points",
            f"points must be between {low} and {MAX_POINTS_PER_TRANSACTION}, not 0",
        )


def customer_facts(customer: Customer) -> CustomerFacts:
    return CustomerFacts(
        created_at=customer.created_at,
        orders_count=customer.orders_count,
        rfm_segment=customer.rfm_segment,
        country_code=customer.country_code,
    )


def campaign_terms(row: BonusCampaign) -> CampaignTerms:
    conditions = row.conditions or {}
    return CampaignTerms(
        id=row.id,
        name=row.name,
        kind=row.kind,
        multiplier=row.multiplier,
        goal_amount=row.goal_amount,
        bonus_points=row.bonus_points,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        rfm_segments=frozenset(conditions.get("rfm_segments") or ()),
        regions=frozenset(conditions.get("regions") or ()),
        active=row.active,
    )


def _expires_at(config: ProgramConfig, now: datetime) -> datetime | None:
    if config.expiry.kind is ExpiryKind.AFTER_EARNING and config.expiry.days:
        return now + timedelta(days=config.expiry.days)
    return None


class _Ledger:
    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self.session = session
        self.merchant_id = merchant_id
        self.repository = LedgerRepository(session, merchant_id)

    async def lock(self, customer_id: str) -> Customer:
        customer = await self.repository.lock_customer(customer_id)
        if customer is None:
            raise PointsError(
                PointsErrorCode.CUSTOMER_NOT_FOUND, "customerId", "customer not found"
            )
        return customer

    async def replay(
        self,
        key: str,
        customer: Customer,
        matches: Callable[[PointsTransaction], bool],
    ) -> LedgerEntry | None:
        existing = await self.repository.transaction_by_idempotency_key(key)
        if existing is None:
            return None
        if existing.customer_id != customer.id or not matches(existing):
            raise PointsError(
                PointsErrorCode.IDEMPOTENCY_KEY_REUSED,
                "idempotencyKey",
                "this idempotencyKey was already used for a different request",
            )
        return LedgerEntry(existing, customer.points_balance, True, customer.id)

    async def record(
        self,
        customer: Customer,
        draft: _Draft,
        matches: Callable[[PointsTransaction], bool],
    ) -> LedgerEntry:
        transaction = await self.repository.insert_transaction(
            transaction_id=new_id(),
            customer_id=customer.id,
            kind=draft.kind,
            points=draft.points,
            reason=draft.reason,
            idempotency_key=draft.idempotency_key,
            source=draft.source,
            explanation=draft.explanation,
            order_id=draft.order_id,
            currency=draft.currency,
            expires_at=draft.expires_at if draft.points > 0 else None,
            actor_id=draft.actor_id,
        )
        if transaction is None:
            # A concurrent request for another customer took the key, or the order already
            # earned under another key.
            replayed = await self.replay(draft.idempotency_key, customer, matches)
            if replayed is not None:
                return replayed
            raise PointsError(
                PointsErrorCode.ORDER_ALREADY_EARNED,
                "order.id",
                f"order {draft.order_id} has already earned points",
            )
        if draft.drain_lots:
            drained = await self.repository.drain_lots(draft.drain_lots)
            assert sum(drained.values()) == -draft.points, "expiry must take what the lots hold"
        elif draft.points < 0:
            await self.repository.consume_oldest(
                customer.id, -draft.points, preferred_lot=draft.preferred_lot
            )
        updated = await self.repository.apply_to_customer(customer.id, draft.change)
        await self._reassign_tier(updated)
        await insert_audit_log(
            self.session,
            merchant_id=self.merchant_id,
            action=_AUDIT_ACTIONS[draft.kind],
            actor_id=draft.actor_id,
            metadata={
                "customer_id": customer.id,
                "transaction_id": transaction.id,
                "points": draft.points,
                "source": draft.source,
                "reason": draft.reason,
                **({"order_id": draft.order_id} if draft.order_id else {}),
            },
        )
        return LedgerEntry(transaction, updated.points_balance, False, customer.id)

    async def _reassign_tier(self, customer: Customer) -> None:
        tiers = [
            RankedTier(tier.id, tier.rank, TierRules.from_json(tier.rules))
            for tier in await self.repository.tiers()
        ]
        if not tiers and customer.vip_tier_id is None:
            return
        facts = TierFacts(
            points_earned=customer.total_points_earned,
            total_spent=customer.total_spent,
            rfm_score=rfm_score_of(customer.rfm_score),
        )
        tier_id = assign_tier(tiers, facts)
        previous = customer.vip_tier_id
        if tier_id == previous:
            return
        await self.repository.set_tier(customer.id, tier_id)
        await insert_audit_log(
            self.session,
            merchant_id=self.merchant_id,
            action="tier_assigned",
            metadata={
                "customer_id": customer.id,
                "from_tier_id": previous,
                "tier_id": tier_id,
            },
        )


async def calculation_context(
    session: AsyncSession, merchant_id: str, at: datetime
) -> tuple[ProgramConfig, list[CampaignTerms]]:
    config = await program_config(session, merchant_id)
    campaigns = await CampaignRepository(session, merchant_id).running(at)
    return config, [campaign_terms(row) for row in campaigns]


async def preview_earn(
    session: AsyncSession,
    merchant_id: str,
    *,
    customer: Customer,
    action: EarnAction,
    order: Order | None,
    at: datetime,
) -> Calculation:
    """What ``earn`` would award now, without writing anything."""
    config, campaigns = await calculation_context(session, merchant_id, at)
    return calculate(
        config, campaigns, action=action, customer=customer_facts(customer), order=order, at=at
    )


async def earn(
    session: AsyncSession, merchant_id: str, command: EarnCommand, *, now: datetime
) -> LedgerEntry:
    _check_key(command.idempotency_key)
    if command.reason is not None:
        _check_text(command.reason, "reason", PointsErrorCode.INVALID_REASON, MAX_REASON_LENGTH)
    ledger = _Ledger(session, merchant_id)
    customer = await ledger.lock(command.customer_id)
    order_id = command.order.order_id if command.order else None

    def matches(existing: PointsTransaction) -> bool:
        return (
            existing.kind == PointsTransactionKind.EARN
            and existing.order_id == order_id
            and (existing.source == command.action.value)
        )

    replayed = await ledger.replay(command.idempotency_key, customer, matches)
    if replayed is not None:
        return replayed
    config, campaigns = await calculation_context(session, merchant_id, now)
    result = calculate(
        config,
        campaigns,
        action=command.action,
        customer=customer_facts(customer),
        order=command.order,
        at=now,
    )
    order = command.order
    change = CustomerChange(
        points=result.points,
        earned=result.points,
        spent=result.base_amount if order else Decimal(0),
        orders=1 if order else 0,
        first_order_at=order.placed_at if order else None,
        activity_at=now,
    )
    reason = command.reason or (
        f"order {order.order_id}" if order else command.action.value.replace("_", " ")
    )
    draft = _Draft(
        kind=PointsTransactionKind.EARN,
        points=result.points,
        reason=reason,
        idempotency_key=command.idempotency_key,
        source=command.action.value,
        explanation=result.to_explanation(),
        change=change,
        order_id=order_id,
        currency=result.currency,
        expires_at=_expires_at(config, now),
    )
    return await ledger.record(customer, draft, matches)


async def adjust(
    session: AsyncSession, merchant_id: str, command: AdjustCommand, *, now: datetime
) -> LedgerEntry:
    """A staff correction, positive or negative; never takes the balance below zero."""
    _check_key(command.idempotency_key)
    _check_points(command.points, allow_negative=True)
    _check_text(command.reason, "reason", PointsErrorCode.INVALID_REASON, MAX_REASON_LENGTH)
    ledger = _Ledger(session, merchant_id)
    customer = await ledger.lock(command.customer_id)

    def matches(existing: PointsTransaction) -> bool:
        return existing.kind == PointsTransactionKind.ADJUST and existing.points == command.points

    replayed = await ledger.replay(command.idempotency_key, customer, matches)
    if replayed is not None:
        return replayed
    if command.points < 0 and -command.points > customer.points_balance:
        raise PointsError(
            PointsErrorCode.INSUFFICIENT_POINTS,
            "points",
            f"the balance is {customer.points_balance}; it cannot go below zero",
        )
    config = await program_config(session, merchant_id)
    draft = _Draft(
        kind=PointsTransactionKind.ADJUST,
        points=command.points,
        reason=command.reason,
        idempotency_key=command.idempotency_key,
        source="staff",
        explanation={
            "trace": [
                {
                    "rule": "manual_adjustment",
                    "applied": True,
                    "detail": f"{command.points:+d} by {command.actor_id or 'the merchant'}: "
                    f"{command.reason}",
                    "points": command.points,
                    "multiplier": None,
                }
            ]
        },
        change=CustomerChange(
            points=command.points,
            earned=max(command.points, 0),
            activity_at=now,
        ),
        expires_at=_expires_at(config, now),
        actor_id=command.actor_id,
    )
    return await ledger.record(customer, draft, matches)


async def redeem(
    session: AsyncSession, merchant_id: str, command: DebitCommand, *, now: datetime
) -> LedgerEntry:
    _check_key(command.idempotency_key)
    _check_points(command.points)
    ledger = _Ledger(session, merchant_id)
    customer = await ledger.lock(command.customer_id)

    def matches(existing: PointsTransaction) -> bool:
        return existing.kind == PointsTransactionKind.REDEEM and existing.points == -command.points

    replayed = await ledger.replay(command.idempotency_key, customer, matches)
    if replayed is not None:
        return replayed
    if command.points > customer.points_balance:
        raise PointsError(
            PointsErrorCode.INSUFFICIENT_POINTS,
            "points",
            f"needs {command.points} points; the balance is {customer.points_balance}",
        )
    draft = _Draft(
        kind=PointsTransactionKind.REDEEM,
        points=-command.points,
        reason=command.reason,
        idempotency_key=command.idempotency_key,
        source=command.source,
        explanation=command.explanation,
        change=CustomerChange(points=-command.points, activity_at=now),
    )
    return await ledger.record(customer, draft, matches)


async def credit_back(
    session: AsyncSession, merchant_id: str, command: CreditBackCommand, *, now: datetime
) -> LedgerEntry:
    _check_key(command.idempotency_key)
    _check_points(command.points)
    ledger = _Ledger(session, merchant_id)
    customer = await ledger.lock(command.customer_id)

    def matches(existing: PointsTransaction) -> bool:
        return existing.kind == PointsTransactionKind.REFUND and existing.points == command.points

    replayed = await ledger.replay(command.idempotency_key, customer, matches)
    if replayed is not None:
        return replayed
    config = await program_config(session, merchant_id)
    draft = _Draft(
        kind=PointsTransactionKind.REFUND,
        points=command.points,
        reason=command.reason,
        idempotency_key=command.idempotency_key,
        source=command.source,
        explanation=command.explanation,
        change=CustomerChange(points=command.points),
        expires_at=_expires_at(config, now),
    )
    return await ledger.record(customer, draft, matches)


@dataclass
class _LineState:
    points: int
    amount: Decimal
    quantity: int
    base_amount: Decimal
    refunded: Decimal = Decimal(0)
    owed: int = 0


def _order_state(
    earned: PointsTransaction, reversals: Sequence[PointsTransaction]
) -> tuple[dict[str, _LineState], int, bool]:
    """Per line: what it earned and what earlier reversals already claimed; whether the goal
    bonus was already claimed."""
    lines = {
        line["id"]: _LineState(
            points=int(line["points"]),
            amount=Decimal(line["amount"]),
            quantity=int(line["quantity"]),
            base_amount=Decimal(line["base_amount"]),
        )
        for line in earned.explanation.get("lines", [])
    }
    bonus_claimed = False
    for reversal in reversals:
        claimed = reversal.explanation.get("reversal", {})
        for line_id, state in claimed.get("lines", {}).items():
            if line_id in lines:
                lines[line_id].refunded += Decimal(state["refunded_amount"])
                lines[line_id].owed += int(state["owed"])
        bonus_claimed = bonus_claimed or bool(claimed.get("bonus_owed"))
    return lines, int(earned.explanation.get("bonus_points", 0)), bonus_claimed


def _refunded_amount(line_id: str, state: _LineState, refund: RefundLine) -> Decimal:
    if refund.amount is not None:
        if refund.amount < 0:
            raise PointsError(
                PointsErrorCode.INVALID_ORDER, "lines", f"line {line_id}: negative refund amount"
            )
        return refund.amount
    if refund.quantity is None or refund.quantity <= 0:
        raise PointsError(
            PointsErrorCode.INVALID_ORDER,
            "lines",
            f"line {line_id}: give a positive quantity or an amount",
        )
    return (state.amount * refund.quantity / state.quantity).quantize(Decimal("0.01"))


async def reverse_order(
    session: AsyncSession, merchant_id: str, command: ReverseCommand, *, now: datetime
) -> LedgerEntry:
    """Take back the points of a cancelled order or of refunded lines. Never takes the balance
    below zero: what was already spent is recorded in the trace as not recoverable."""
    _check_key(command.idempotency_key)
    ledger = _Ledger(session, merchant_id)
    history = await ledger.repository.order_transactions(command.order_id)
    earned = next((row for row in history if row.kind == PointsTransactionKind.EARN), None)
    if earned is None:
        raise PointsError(
            PointsErrorCode.ORDER_NOT_EARNED,
            "orderId",
            f"order {command.order_id} has not earned points",
        )
    customer = await ledger.lock(earned.customer_id)

    def matches(existing: PointsTransaction) -> bool:
        return (
            existing.kind == PointsTransactionKind.REVERSE and existing.order_id == command.order_id
        )

    replayed = await ledger.replay(command.idempotency_key, customer, matches)
    if replayed is not None:
        return replayed
    # Re-read under the lock: a concurrent refund of the same order may just have committed.
    history = await ledger.repository.order_transactions(command.order_id)
    reversals = [row for row in history if row.kind == PointsTransactionKind.REVERSE]
    lines, bonus_points, bonus_claimed = _order_state(earned, reversals)
    config = await program_config(session, merchant_id)
    trace: list[dict[str, Any]] = []
    claimed: dict[str, dict[str, Any]] = {}
    owed_total = 0
    refunded_base = Decimal(0)
    refunded_after = {line_id: state.refunded for line_id, state in lines.items()}
    requested = (
        {line_id: RefundLine(line_id, amount=state.amount) for line_id, state in lines.items()}
        if command.lines is None
        else {}
    )
    for refund in command.lines or ():
        if refund.line_id not in lines:
            raise PointsError(
                PointsErrorCode.INVALID_ORDER,
                "lines",
                f"line {refund.line_id} is not part of order {command.order_id}",
            )
        requested[refund.line_id] = refund
    for line_id, refund in requested.items():
        state = lines[line_id]
        amount = _refunded_amount(line_id, state, refund)
        cumulative = min(state.refunded + amount, state.amount)
        newly_refunded = cumulative - state.refunded
        refunded_after[line_id] = cumulative
        share = Decimal(1) if state.amount == 0 else cumulative / state.amount
        target = int((state.points * share).to_integral_value(rounding=ROUND_FLOOR))
        if command.lines is None:
            target = state.points
        owed = max(target - state.owed, 0)
        owed_total += owed
        refunded_base += to_base_amount(
            config, earned.currency or config.currencies.base, newly_refunded
        )
        claimed[line_id] = {"refunded_amount": str(newly_refunded), "owed": owed}
        trace.append(
            {
                "rule": f"line:{line_id}",
                "applied": owed > 0,
                "detail": f"refunded {cumulative} of {state.amount}: {target} of {state.points}"
                f" points; {state.owed} taken back before, {owed} now",
                "points": -owed,
                "multiplier": None,
            }
        )
    bonus_owed = 0
    threshold = earned.explanation.get("goal_threshold")
    if bonus_points and not bonus_claimed and threshold is not None:
        kept = sum(
            (
                state.base_amount * (1 - refunded_after[line_id] / state.amount)
                for line_id, state in lines.items()
                if state.amount
            ),
            Decimal(0),
        )
        if command.lines is None or kept < Decimal(threshold):
            bonus_owed = bonus_points
            trace.append(
                {
                    "rule": "goal_spend_bonus",
                    "applied": True,
                    "detail": f"order kept {kept.quantize(Decimal('0.01'))}, below the"
                    f" {threshold} goal: bonus {bonus_points} taken back",
                    "points": -bonus_points,
                    "multiplier": None,
                }
            )
    owed_total += bonus_owed
    taken = min(owed_total, customer.points_balance)
    shortfall = owed_total - taken
    trace.append(
        {
            "rule": "clawback",
            "applied": taken > 0,
            "detail": f"owed {owed_total}, balance {customer.points_balance}: took {taken}"
            + (
                f"; {shortfall} already spent, not recoverable (balance kept at 0)"
                if shortfall
                else ""
            ),
            "points": -taken,
            "multiplier": None,
        }
    )
    draft = _Draft(
        kind=PointsTransactionKind.REVERSE,
        points=-taken,
        reason=command.reason,
        idempotency_key=command.idempotency_key,
        source="cancellation" if command.lines is None else "refund",
        explanation={
            "reversal": {"lines": claimed, "bonus_owed": bonus_owed, "owed": owed_total},
            "shortfall": shortfall,
            "trace": trace,
        },
        change=CustomerChange(points=-taken, earned=-owed_total, spent=-refunded_base),
        order_id=command.order_id,
        currency=earned.currency,
        preferred_lot=earned.id,
    )
    return await ledger.record(customer, draft, matches)


async def customers_with_expired_lots(
    session: AsyncSession, merchant_id: str, *, now: datetime, limit: int = 500
) -> list[str]:
    lots = await LedgerRepository(session, merchant_id).expired_lots(now, limit=limit)
    return list(dict.fromkeys(lot.customer_id for lot in lots))


async def expire_customer_lots(
    session: AsyncSession, merchant_id: str, customer_id: str, *, now: datetime
) -> LedgerEntry | None:
    """Expire the customer's lots whose date has passed; None when none hold points."""
    ledger = _Ledger(session, merchant_id)
    customer = await ledger.lock(customer_id)
    lots = await ledger.repository.expired_lots(now, customer_id=customer_id)
    total = sum(lot.remaining_points for lot in lots)
    if total == 0:
        return None
    first = min(lot.transaction_id for lot in lots)
    draft = _Draft(
        kind=PointsTransactionKind.EXPIRE,
        points=-total,
        reason="points expired",
        idempotency_key=f"expire:{customer_id}:{first}",
        source="expiry",
        explanation={
            "trace": [
                {
                    "rule": "expiry_after_earning",
                    "applied": True,
                    "detail": f"{lot.remaining_points} unspent points of {lot.transaction_id}"
                    f" expired {lot.expires_at.isoformat() if lot.expires_at else ''}",
                    "points": -lot.remaining_points,
                    "multiplier": None,
                }
                for lot in lots
            ]
        },
        change=CustomerChange(points=-total),
        drain_lots=tuple(lot.transaction_id for lot in lots),
    )
    return await ledger.record(customer, draft, lambda existing: True)


async def expire_inactive_customer(
    session: AsyncSession, merchant_id: str, customer_id: str, *, now: datetime, days: int
) -> LedgerEntry | None:
    """Expire the whole balance of a customer inactive for ``days``; None if they are not."""
    ledger = _Ledger(session, merchant_id)
    customer = await ledger.lock(customer_id)
    last_seen = customer.last_activity_at or customer.created_at
    if customer.points_balance == 0 or last_seen > now - timedelta(days=days):
        return None
    lot_ids = sorted(await ledger.repository.open_lot_ids(customer_id))
    draft = _Draft(
        kind=PointsTransactionKind.EXPIRE,
        points=-customer.points_balance,
        reason="points expired after inactivity",
        # Lots are drained once and credits open new ones: the first open lot names this expiry.
        idempotency_key=f"expire:inactive:{customer_id}:{lot_ids[0] if lot_ids else 'none'}",
        source="expiry",
        explanation={
            "trace": [
                {
                    "rule": "expiry_inactivity",
                    "applied": True,
                    "detail": f"no activity since {last_seen.isoformat()}, more than {days} days",
                    "points": -customer.points_balance,
                    "multiplier": None,
                }
            ]
        },
        change=CustomerChange(points=-customer.points_balance),
        drain_lots=tuple(lot_ids),
    )
    return await ledger.record(customer, draft, lambda existing: True)
