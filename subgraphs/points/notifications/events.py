"""The points program's domain events as notification flows read them (``flows.py``): each from
the audit entry its change committed with, resolved to the customer and the values the
message shows.

- POINTS_EARNED: an earn entry of the ledger (an order, a signup, a review, ...) of more than
  0 points; not a referral credit (REFERRAL_COMPLETED tells that), nor a staff adjustment, an
  import or a campaign's bulk credit, which are not earns a customer expects to hear of.
- REWARD_REDEEMED: a redemption once its code is issued (it waits while Shopify creates the
  discount; a refunded one is no reward to tell of).
- TIER_UPGRADED: a move to a higher tier the customer's own activity caused (the ledger's
  reassignment; tiers moved by a merchant's rule change or the nightly recalculation are not
  told, or a new tier would mail every customer in it at once).
- REFERRAL_COMPLETED: the advocate's reward for a referral, once issued (not while held for
  review, never for one cancelled), whatever its kind: points once credited (their earn
  entry), a discount once its code is created (the referral's REFERRAL_REWARD_ISSUED entry,
  which carries the code encrypted); its event is the referral, so it is told once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import REFERRAL_REWARDS_DISCOUNT_CODE, REWARD_REDEMPTIONS_CODE
from db.models import AuditLog, PointsTransaction, RedemptionStatus
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.repository import audit_entries_after
from subgraphs.points.customers.repository import CustomerRepository
from subgraphs.points.ledger.repository import LedgerRepository
from subgraphs.points.notifications.flows import Flow, FlowEvent, FlowPage, Position, page_of
from subgraphs.points.notifications.message_types import MessageType
from subgraphs.points.rewards.repository import RedemptionRepository
from subgraphs.points.tiers.repository import TierRepository
from subgraphs.points.tiers.rules import localized_name
from subgraphs.points.tiers.service import TIER_CAUSED_BY_ACTIVITY

REFERRAL_SOURCE = "referral"
# ``referral_rewards.side`` of the advocate's reward (the referrals subgraph's ADVOCATE).
ADVOCATE_SIDE = "advocate"


def _metadata(entry: AuditLog) -> dict[str, Any]:
    return entry.metadata_


def _positions(entries: Sequence[AuditLog]) -> list[Position]:
    return [(entry.created_at, entry.id) for entry in entries]


async def _earn_entries(
    session: AsyncSession, merchant_id: str, after: Position, limit: int
) -> list[AuditLog]:
    return await audit_entries_after(
        session, merchant_id, [AuditAction.POINTS_EARNED], after, limit
    )


async def _transactions(
    session: AsyncSession, merchant_id: str, entries: Sequence[AuditLog]
) -> dict[str, PointsTransaction]:
    ids = [str(_metadata(entry)["transaction_id"]) for entry in entries]
    rows = await LedgerRepository(session, merchant_id).get_by_ids(ids)
    return {row.id: row for row in rows}


async def points_earned(
    session: AsyncSession, merchant_id: str, cipher: FieldCipher, after: Position, limit: int
) -> FlowPage:
    entries = await _earn_entries(session, merchant_id, after, limit)
    earns = [
        entry
        for entry in entries
        if _metadata(entry).get("source") != REFERRAL_SOURCE
        and int(_metadata(entry).get("points", 0)) > 0
    ]
    customers = await CustomerRepository(session, merchant_id).customers_by_ids(
        sorted({str(_metadata(entry)["customer_id"]) for entry in earns})
    )
    balances = {customer.id: customer.points_balance for customer in customers}
    events = [
        FlowEvent(
            event_id=str(_metadata(entry)["transaction_id"]),
            customer_id=str(_metadata(entry)["customer_id"]),
            at=entry.created_at,
            values={
                "points": str(_metadata(entry)["points"]),
                "balance": str(balances[_metadata(entry)["customer_id"]]),
            },
        )
        for entry in earns
        if _metadata(entry)["customer_id"] in balances
    ]
    return page_of(events, _positions(entries), limit)


async def reward_redeemed(
    session: AsyncSession, merchant_id: str, cipher: FieldCipher, after: Position, limit: int
) -> FlowPage:
    entries = await audit_entries_after(
        session, merchant_id, [AuditAction.POINTS_REDEEMED], after, limit
    )
    debits = await _transactions(session, merchant_id, entries)
    redemption_of = {
        debit_id: str(debit.explanation["redemption_id"])
        for debit_id, debit in debits.items()
        if "redemption_id" in debit.explanation
    }
    found = {
        item.redemption.id: item
        for item in await RedemptionRepository(session, merchant_id).redemptions_by_ids(
            list(redemption_of.values())
        )
    }
    events = []
    for entry in entries:
        item = found.get(redemption_of.get(str(_metadata(entry)["transaction_id"]), ""))
        if item is None or item.redemption.status == RedemptionStatus.REFUNDED:
            continue
        redemption = item.redemption
        issued = redemption.status == RedemptionStatus.ISSUED
        events.append(
            FlowEvent(
                event_id=redemption.id,
                customer_id=redemption.customer_id,
                at=entry.created_at,
                values={
                    "reward_name": item.reward.title,
                    "code": cipher.decrypt(
                        redemption.code_encrypted, context=REWARD_REDEMPTIONS_CODE
                    )
                    if issued
                    else "",
                    "points": str(redemption.points_spent),
                },
                waiting=not issued,
            )
        )
    return page_of(events, _positions(entries), limit)


async def tier_upgraded(
    session: AsyncSession, merchant_id: str, cipher: FieldCipher, after: Position, limit: int
) -> FlowPage:
    entries = await audit_entries_after(
        session, merchant_id, [AuditAction.TIER_ASSIGNED], after, limit
    )
    tiers = {tier.id: tier for tier in await TierRepository(session, merchant_id).tiers()}
    upgrades = []
    for entry in entries:
        metadata = _metadata(entry)
        if metadata.get("cause") != TIER_CAUSED_BY_ACTIVITY:
            continue
        reached = tiers.get(str(metadata.get("tier_id")))
        left = tiers.get(str(metadata.get("from_tier_id")))
        if reached is None or (left is not None and left.rank >= reached.rank):
            continue  # a downgrade, or a tier deleted since
        upgrades.append((entry, reached))
    customers = await CustomerRepository(session, merchant_id).customers_by_ids(
        sorted({str(_metadata(entry)["customer_id"]) for entry, _ in upgrades})
    )
    locales = {customer.id: customer.locale for customer in customers}
    events = [
        FlowEvent(
            event_id=entry.id,
            customer_id=str(_metadata(entry)["customer_id"]),
            at=entry.created_at,
            values={
                "tier_name": localized_name(tier.name, locales[_metadata(entry)["customer_id"]])
            },
        )
        for entry, tier in upgrades
        if _metadata(entry)["customer_id"] in locales
    ]
    return page_of(events, _positions(entries), limit)


def advocate_referral(idempotency_key: str) -> str | None:
    """The referral of an advocate's credit (``referral:{referral_id}:advocate``), else None."""
    parts = idempotency_key.split(":")
    if len(parts) == 3 and parts[0] == "referral" and parts[2] == "advocate":
        return parts[1]
    return None


def _advocate_discount(entry: AuditLog, cipher: FieldCipher) -> FlowEvent | None:
    """A REFERRAL_REWARD_ISSUED entry of an advocate's discount reward, as its event."""
    metadata = _metadata(entry)
    encrypted = metadata.get("discount_code_encrypted")
    if metadata.get("side") != ADVOCATE_SIDE or not encrypted or not metadata.get("customer_id"):
        return None  # a friend's reward, or points: their earn entry tells them
    return FlowEvent(
        event_id=str(metadata["referral_id"]),
        customer_id=str(metadata["customer_id"]),
        at=entry.created_at,
        values={
            "points": "",
            "code": cipher.decrypt(str(encrypted), context=REFERRAL_REWARDS_DISCOUNT_CODE),
        },
    )


async def referral_completed(
    session: AsyncSession, merchant_id: str, cipher: FieldCipher, after: Position, limit: int
) -> FlowPage:
    entries = await audit_entries_after(
        session,
        merchant_id,
        [AuditAction.POINTS_EARNED, AuditAction.REFERRAL_REWARD_ISSUED],
        after,
        limit,
    )
    credits = [
        entry
        for entry in entries
        if entry.action == AuditAction.POINTS_EARNED
        and _metadata(entry).get("source") == REFERRAL_SOURCE
    ]
    transactions = await _transactions(session, merchant_id, credits)
    events = []
    for entry in entries:
        if entry.action == AuditAction.REFERRAL_REWARD_ISSUED:
            if (discount := _advocate_discount(entry, cipher)) is not None:
                events.append(discount)
            continue
        transaction = transactions.get(str(_metadata(entry).get("transaction_id")))
        referral_id = (
            None if transaction is None else advocate_referral(transaction.idempotency_key)
        )
        if transaction is None or referral_id is None:
            continue
        events.append(
            FlowEvent(
                event_id=referral_id,
                customer_id=transaction.customer_id,
                at=entry.created_at,
                values={"points": str(transaction.points), "code": ""},
            )
        )
    return page_of(events, _positions(entries), limit)


POINTS_FLOWS = (
    Flow(MessageType.POINTS_EARNED, points_earned),
    Flow(MessageType.REWARD_REDEEMED, reward_redeemed),
    Flow(MessageType.TIER_UPGRADED, tier_upgraded),
    Flow(MessageType.REFERRAL_COMPLETED, referral_completed),
)
