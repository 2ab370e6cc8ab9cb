"""Taking back an order's points: the whole order (a cancellation) or refunded lines, in
proportion to the refunded part of each line, through the ledger's write path.

Each reversal stores what it claimed per line (``explanation.reversal``), so a later refund of
the same order takes back only what earlier ones left: refunds of one order add up to at most
what the order earned, whatever their order or number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Customer, PointsTransaction, PointsTransactionKind
from subgraphs.points.customers.repository import CustomerChange
from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.ledger.write_path import LedgerDraft, LedgerEntry, LedgerWriter, check_key
from subgraphs.points.program.calculation import TraceStep, to_base_amount
from subgraphs.points.program.service import ProgramConfig

CENT = Decimal("0.01")


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


@dataclass
class _LineState:
    points: int
    amount: Decimal
    quantity: int
    base_amount: Decimal
    refunded: Decimal = Decimal(0)
    owed: int = 0


def _invalid_line(line_id: str, problem: str) -> PointsError:
    return PointsError(PointsErrorCode.INVALID_ORDER, "lines", f"line {line_id}{problem}")


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
            raise _invalid_line(line_id, ": negative refund amount")
        return refund.amount
    if refund.quantity is None or refund.quantity <= 0:
        raise _invalid_line(line_id, ": give a positive quantity or an amount")
    return (state.amount * refund.quantity / state.quantity).quantize(CENT)


def _requested(command: ReverseCommand, lines: dict[str, _LineState]) -> dict[str, RefundLine]:
    """What is refunded per line: every line in full for a cancellation."""
    if command.lines is None:
        return {
            line_id: RefundLine(line_id, amount=state.amount) for line_id, state in lines.items()
        }
    requested: dict[str, RefundLine] = {}
    for refund in command.lines:
        if refund.line_id not in lines:
            raise _invalid_line(refund.line_id, f" is not part of order {command.order_id}")
        requested[refund.line_id] = refund
    return requested


@dataclass
class _Claim:
    """What this reversal takes back, line by line, and why (the trace)."""

    trace: list[TraceStep]
    lines: dict[str, dict[str, Any]]
    owed: int = 0
    refunded_base: Decimal = Decimal(0)


def _claim_lines(
    command: ReverseCommand,
    config: ProgramConfig,
    earned: PointsTransaction,
    lines: dict[str, _LineState],
    refunded_after: dict[str, Decimal],
) -> _Claim:
    claim = _Claim(trace=[], lines={})
    for line_id, refund in _requested(command, lines).items():
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
        claim.owed += owed
        claim.refunded_base += to_base_amount(
            config, earned.currency or config.currencies.base, newly_refunded
        )
        claim.lines[line_id] = {"refunded_amount": str(newly_refunded), "owed": owed}
        claim.trace.append(
            TraceStep(
                f"line:{line_id}",
                owed > 0,
                f"refunded {cumulative} of {state.amount}: {target} of {state.points}"
                f" points; {state.owed} taken back before, {owed} now",
                points=-owed,
            )
        )
    return claim


async def reverse_order(
    session: AsyncSession, merchant_id: str, command: ReverseCommand, *, now: datetime
) -> LedgerEntry:
    """Take back the points of a cancelled order or of refunded lines. Never takes the balance
    below zero: what was already spent is recorded in the trace as not recoverable."""
    check_key(command.idempotency_key)
    writer = LedgerWriter(session, merchant_id)
    history = await writer.ledger.order_transactions(command.order_id)
    earned = next((row for row in history if row.kind == PointsTransactionKind.EARN), None)
    if earned is None:
        raise PointsError(
            PointsErrorCode.ORDER_NOT_EARNED,
            "orderId",
            f"order {command.order_id} has not earned points",
        )

    def matches(existing: PointsTransaction) -> bool:
        return (
            existing.kind == PointsTransactionKind.REVERSE and existing.order_id == command.order_id
        )

    async def decide(customer: Customer) -> LedgerDraft:
        return await _reversal(command, writer, earned, customer)

    return await writer.write(earned.customer_id, command.idempotency_key, matches, decide)


async def _reversal(
    command: ReverseCommand,
    writer: LedgerWriter,
    earned: PointsTransaction,
    customer: Customer,
) -> LedgerDraft:
    """What this reversal takes back from the (locked) customer, line by line."""
    # Re-read under the lock: a concurrent refund of the same order may just have committed.
    history = await writer.ledger.order_transactions(command.order_id)
    reversals = [row for row in history if row.kind == PointsTransactionKind.REVERSE]
    lines, bonus_points, bonus_claimed = _order_state(earned, reversals)
    config = (await writer.inputs()).config
    refunded_after = {line_id: state.refunded for line_id, state in lines.items()}
    claim = _claim_lines(command, config, earned, lines, refunded_after)
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
            claim.trace.append(
                TraceStep(
                    "goal_spend_bonus",
                    True,
                    f"order kept {kept.quantize(CENT)}, below the"
                    f" {threshold} goal: bonus {bonus_points} taken back",
                    points=-bonus_points,
                )
            )
    owed_total = claim.owed + bonus_owed
    taken = min(owed_total, customer.points_balance)
    shortfall = owed_total - taken
    lost = f"; {shortfall} already spent, not recoverable (balance kept at 0)" if shortfall else ""
    claim.trace.append(
        TraceStep(
            "clawback",
            taken > 0,
            f"owed {owed_total}, balance {customer.points_balance}: took {taken}{lost}",
            points=-taken,
        )
    )
    return LedgerDraft(
        kind=PointsTransactionKind.REVERSE,
        points=-taken,
        reason=command.reason,
        idempotency_key=command.idempotency_key,
        source="cancellation" if command.lines is None else "refund",
        explanation={
            "reversal": {"lines": claim.lines, "bonus_owed": bonus_owed, "owed": owed_total},
            "shortfall": shortfall,
            "trace": [step.to_json() for step in claim.trace],
        },
        change=CustomerChange(earned=-owed_total, spent=-claim.refunded_base),
        order_id=command.order_id,
        currency=earned.currency,
        preferred_lot=earned.id,
    )
