"""The points ledger's rules. No web framework here; raises domain errors; never commits.

Invariants kept here (and backed by constraints in Postgres):
- balance = signed sum of the customer's ledger rows, updated in the same transaction;
- balance never goes below zero;
- one idempotency key changes the ledger at most once per merchant.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.ids import new_id
from db.models import Customer, PointsTransaction, PointsTransactionKind
from subgraphs.kit.domain import DomainError
from subgraphs.kit.repository import insert_audit_log
from subgraphs.points.repository import PointsRepository

MAX_POINTS_PER_TRANSACTION = 1_000_000
MAX_REASON_LENGTH = 200
MAX_IDEMPOTENCY_KEY_LENGTH = 255
EMAIL_CONTEXT = "customers.email"


class PointsErrorCode(enum.Enum):
    CUSTOMER_NOT_FOUND = "customer_not_found"
    INVALID_POINTS = "invalid_points"
    INVALID_REASON = "invalid_reason"
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    INVALID_EMAIL = "invalid_email"
    EMAIL_TAKEN = "email_taken"


class PointsError(DomainError):
    """An expected failure the caller can fix; ``field`` names the offending input."""

    code: PointsErrorCode


@dataclass(frozen=True, slots=True)
class EarnPoints:
    customer_id: str
    points: int
    reason: str
    idempotency_key: str
    order_id: str | None = None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    transaction: PointsTransaction
    balance: int
    # True when the idempotency key had been used: nothing changed this time.
    replayed: bool


def _validate_earn(command: EarnPoints) -> None:
    if not 0 < command.points <= MAX_POINTS_PER_TRANSACTION:
        raise PointsError(
            PointsErrorCode.INVALID_POINTS,
            "points",
            f"points must be between 1 and {MAX_POINTS_PER_TRANSACTION}",
        )
    if not command.reason.strip() or len(command.reason) > MAX_REASON_LENGTH:
        raise PointsError(
            PointsErrorCode.INVALID_REASON,
            "reason",
            f"reason must be 1 to {MAX_REASON_LENGTH} characters",
        )
    if (
        not command.idempotency_key.strip()
        or len(command.idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH
    ):
        raise PointsError(
            PointsErrorCode.INVALID_IDEMPOTENCY_KEY,
            "idempotencyKey",
            f"idempotencyKey must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters",
        )


def _same_request(existing: PointsTransaction, command: EarnPoints) -> bool:
    return (
        existing.customer_id == command.customer_id
        and existing.points == command.points
        and existing.kind == PointsTransactionKind.EARN
    )


async def earn_points(session: AsyncSession, merchant_id: str, command: EarnPoints) -> LedgerEntry:
    _validate_earn(command)
    repository = PointsRepository(session, merchant_id)
    # Locking the customer first serializes every ledger write of this customer, so the
    # duplicate check below cannot race with a concurrent request carrying the same key.
    balance = await repository.lock_balance(command.customer_id)
    if balance is None:
        raise PointsError(PointsErrorCode.CUSTOMER_NOT_FOUND, "customerId", "customer not found")
    transaction = await repository.insert_transaction(
        transaction_id=new_id(),
        customer_id=command.customer_id,
        kind=PointsTransactionKind.EARN,
        points=command.points,
        reason=command.reason,
        idempotency_key=command.idempotency_key,
        order_id=command.order_id,
    )
    if transaction is None:
        existing = await repository.transaction_by_idempotency_key(command.idempotency_key)
        assert existing is not None, "a conflicting key implies a committed row"
        if not _same_request(existing, command):
            raise PointsError(
                PointsErrorCode.IDEMPOTENCY_KEY_REUSED,
                "idempotencyKey",
                "this idempotencyKey was already used for a different request",
            )
        return LedgerEntry(transaction=existing, balance=balance, replayed=True)
    new_balance = await repository.apply_to_balance(command.customer_id, command.points)
    await insert_audit_log(
        session,
        merchant_id=merchant_id,
        action="points_earned",
        metadata={
            "customer_id": command.customer_id,
            "transaction_id": transaction.id,
            "points": command.points,
            "reason": command.reason,
        },
    )
    return LedgerEntry(transaction=transaction, balance=new_balance, replayed=False)


async def register_customer(
    session: AsyncSession, merchant_id: str, cipher: FieldCipher, *, email: str
) -> str:
    """Create a customer with an encrypted email; emails are unique per merchant."""
    normalized = email.strip().lower()
    if "@" not in normalized or len(normalized) > 320:
        raise PointsError(PointsErrorCode.INVALID_EMAIL, "email", "not a valid email address")
    repository = PointsRepository(session, merchant_id)
    blind_index = cipher.blind_index(normalized, context=EMAIL_CONTEXT)
    if await repository.customer_id_by_email_index(blind_index) is not None:
        raise PointsError(PointsErrorCode.EMAIL_TAKEN, "email", "a customer has this email")
    customer_id = new_id()
    await repository.insert_customer(
        customer_id=customer_id,
        email_encrypted=cipher.encrypt(normalized, context=EMAIL_CONTEXT),
        email_blind_index=blind_index,
    )
    return customer_id


def customer_email(customer: Customer, cipher: FieldCipher) -> str:
    return cipher.decrypt(customer.email_encrypted, context=EMAIL_CONTEXT)
