"""The one write path of the points ledger: every operation that changes points (earn, redeem,
adjust, reverse, expire, credit back) describes its change as a ``LedgerDraft`` and records it
through a ``LedgerWriter`` (``write`` runs the four steps; expiry, which has no request to
replay, locks and records), inside one transaction of the caller's:

1. ``lock`` the customer row, so all ledger writes of one customer run one at a time;
2. ``replay``: an idempotency key already used for the same request returns the original entry
   and changes nothing (a different request under the same key is refused);
3. the operation decides the points (the calculation, the balance, the order's history), with
   the program's settings, campaigns and tiers from ``calculation_inputs`` (cached per
   merchant at the program version the lock read);
4. ``record`` inserts the ledger row with its decision trace, moves the balance projection and
   the customer facts, sets the VIP tier the new facts qualify for and writes the audit log, in
   one statement; then a debit consumes lots.

An earn is two statements in the caller's transaction: the lock (with the idempotency lookup
and the program version) and the record.

Invariants (also enforced by Postgres constraints): balance = signed sum of the ledger =
sum of the open lots; balance >= 0; one idempotency key changes the ledger at most once; an
order earns at most once. Callers publish ``kit.events.ledger_changed`` after committing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from db.ids import new_id
from db.models import Customer, PointsTransaction, PointsTransactionKind
from subgraphs.kit.audit import AuditAction
from subgraphs.points.customers.repository import CustomerChange, CustomerRepository
from subgraphs.points.errors import (
    PointsError,
    PointsErrorCode,
    check_idempotency_key,
    customer_not_found,
    idempotency_key_reused,
)
from subgraphs.points.ledger.calculation_inputs import CalculationInputs, calculation_inputs
from subgraphs.points.ledger.repository import RECORDED_PROJECTION, LedgerRepository
from subgraphs.points.program.calculation import TraceStep
from subgraphs.points.program.repository import saw_program_version
from subgraphs.points.program.service import ExpiryKind, ProgramConfig
from subgraphs.points.tiers.rules import TierFacts
from subgraphs.points.tiers.service import TierAssignment, tier_assignment

MAX_POINTS_PER_TRANSACTION = 1_000_000
MAX_REASON_LENGTH = 200
MAX_IDEMPOTENCY_KEY_LENGTH = 255

_AUDIT_ACTIONS = {
    PointsTransactionKind.EARN: AuditAction.POINTS_EARNED,
    PointsTransactionKind.REDEEM: AuditAction.POINTS_REDEEMED,
    PointsTransactionKind.ADJUST: AuditAction.POINTS_ADJUSTED,
    PointsTransactionKind.REVERSE: AuditAction.POINTS_REVERSED,
    PointsTransactionKind.EXPIRE: AuditAction.POINTS_EXPIRED,
    PointsTransactionKind.REFUND: AuditAction.POINTS_REFUNDED,
    # Referral rewards are earned points; the referrals program audits the reward itself.
    PointsTransactionKind.REFERRAL: AuditAction.POINTS_EARNED,
}

# Whether a ledger row found under a request's idempotency key is that same request.
Matches = Callable[[PointsTransaction], bool]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    transaction: PointsTransaction
    balance: int
    # True when the idempotency key had been used: nothing changed this time.
    replayed: bool
    customer_id: str


@dataclass(frozen=True, slots=True)
class LedgerDraft:
    """One change of a customer's points, decided and not yet recorded."""

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


def check_key(key: str) -> None:
    check_idempotency_key(key, MAX_IDEMPOTENCY_KEY_LENGTH)


def check_points(points: int, *, allow_negative: bool = False) -> None:
    low = -MAX_POINTS_PER_TRANSACTION if allow_negative else 1
    if not low <= points <= MAX_POINTS_PER_TRANSACTION or points == 0:
        raise PointsError(
            PointsErrorCode.INVALID_POINTS,
            "points",
            f"points must be between {low} and {MAX_POINTS_PER_TRANSACTION}, not 0",
        )


def credit_expiry(config: ProgramConfig, now: datetime) -> datetime | None:
    """When points credited now expire under the program's policy (None: they do not)."""
    if config.expiry.kind is ExpiryKind.AFTER_EARNING and config.expiry.days:
        return now + timedelta(days=config.expiry.days)
    return None


def trace(*steps: TraceStep) -> dict[str, Any]:
    """An explanation made of its decision trace only."""
    return {"trace": [step.to_json() for step in steps]}


def applied(rule: str, detail: str, points: int) -> TraceStep:
    """A trace step that changed the points by ``points``."""
    return TraceStep(rule, True, detail, points=points)


def same_entry(kind: PointsTransactionKind, points: int) -> Matches:
    """A replay of a request that records ``points`` of ``kind``."""
    return lambda existing: existing.kind == kind and existing.points == points


class LedgerWriter:
    """Records drafts for one merchant in the caller's transaction (see the module docstring)."""

    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self.session = session
        self.merchant_id = merchant_id
        self.ledger = LedgerRepository(session, merchant_id)
        self.customers = CustomerRepository(session, merchant_id)
        # The program version the lock read, and the inputs at it once asked for.
        self._version: int | None = None
        self._inputs: CalculationInputs | None = None

    async def inputs(self) -> CalculationInputs:
        """The program's settings, campaigns and tiers, at the version the lock read (or read
        now, after a ``lock`` without it)."""
        if self._inputs is None:
            self._inputs = await calculation_inputs(self.session, self.merchant_id, self._version)
        return self._inputs

    async def lock(self, customer_id: str) -> Customer:
        customer = await self.customers.lock(customer_id)
        if customer is None:
            raise customer_not_found()
        return customer

    async def write(
        self,
        customer_id: str,
        key: str,
        matches: Matches,
        decide: Callable[[Customer], Awaitable[LedgerDraft]],
    ) -> LedgerEntry:
        """The four steps: lock the customer, replay ``key`` (the earlier entry, unchanged),
        else ``decide`` the draft for the locked customer (it raises to refuse) and record it.
        The lock and the replay's lookup are one statement."""
        found = await self.ledger.lock_customer_with_key(customer_id, key)
        if found is None:
            raise customer_not_found()
        customer, existing, self._version = found
        saw_program_version(self.session, self.merchant_id, self._version)
        if existing is not None:
            return self._replayed(existing, customer, matches)
        return await self.record(customer, await decide(customer), matches)

    async def replay(self, key: str, customer: Customer, matches: Matches) -> LedgerEntry | None:
        existing = await self.ledger.transaction_by_idempotency_key(key)
        return None if existing is None else self._replayed(existing, customer, matches)

    @staticmethod
    def _replayed(existing: PointsTransaction, customer: Customer, matches: Matches) -> LedgerEntry:
        if existing.customer_id != customer.id or not matches(existing):
            raise idempotency_key_reused()
        return LedgerEntry(existing, customer.points_balance, True, customer.id)

    async def record(self, customer: Customer, draft: LedgerDraft, matches: Matches) -> LedgerEntry:
        """Record ``draft`` for the locked ``customer``: the ledger row, the projection, the
        tier the new facts qualify for and the audit entries in one statement
        (``LedgerRepository.record_entry``), then the lots a debit takes."""
        change = draft.change
        tier = await self._tier_after(customer, change)
        row: dict[str, Any] = {
            "merchant_id": self.merchant_id,
            "id": new_id(),
            "customer_id": customer.id,
            "kind": draft.kind,
            "points": draft.points,
            # A credit opens a lot of unspent points.
            "remaining_points": draft.points if draft.points > 0 else None,
            "reason": draft.reason,
            "idempotency_key": draft.idempotency_key,
            "source": draft.source,
            "explanation": draft.explanation,
            "order_id": draft.order_id,
            "currency": draft.currency,
            "expires_at": draft.expires_at if draft.points > 0 else None,
            "actor_id": draft.actor_id,
        }
        audit = {
            "customer_id": customer.id,
            "transaction_id": row["id"],
            "points": draft.points,
            "source": draft.source,
            "reason": draft.reason,
            **({"order_id": draft.order_id} if draft.order_id else {}),
        }
        recorded = await self.ledger.record_entry(
            {
                **row,
                "earned": change.earned,
                "spent": change.spent,
                "orders": change.orders,
                "first_order_at": change.first_order_at,
                "activity_at": change.activity_at,
                "audit_id": new_id(),
                "action": _AUDIT_ACTIONS[draft.kind],
                "audit": audit,
                "tier_id": tier.tier_id,
                "tier_audit_id": new_id(),
                "tier_action": AuditAction.TIER_ASSIGNED,
                "tier_audit": tier.audit,
            }
        )
        if recorded is None:
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
        transaction = self.ledger.recorded_entry(row, recorded.created_at)
        # The locked entity shows the projection the statement wrote (what an UPDATE ...
        # RETURNING into the session did before), without marking it changed.
        for column in RECORDED_PROJECTION:
            set_committed_value(customer, column, getattr(recorded, column))
        if draft.drain_lots:
            drained = await self.ledger.drain_lots(draft.drain_lots)
            assert sum(drained.values()) == -draft.points, "expiry must take what the lots hold"
        elif draft.points < 0:
            await self.ledger.consume_oldest(
                customer.id, -draft.points, preferred_lot=draft.preferred_lot
            )
        return LedgerEntry(transaction, customer.points_balance, False, customer.id)

    async def _tier_after(self, customer: Customer, change: CustomerChange) -> TierAssignment:
        """The tier the customer qualifies for once ``change`` is recorded: their facts as the
        record statement will leave them (the customer is locked, so they are exact)."""
        earned = max(customer.total_points_earned + change.earned, 0)
        spent = customer.total_spent
        if change.spent:
            spent = max(spent + change.spent, Decimal(0))
        facts = TierFacts.of(earned, spent, customer.rfm_score)
        tiers = (await self.inputs()).tiers
        return tier_assignment(tiers, customer.id, customer.vip_tier_id, facts)
