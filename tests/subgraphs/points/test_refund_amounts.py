"""Long because each refund rule is pinned on its own case, below, at and above its boundary.

What refunds take back, to the point (issue 16): refunds of one line add up to what it
earned, however many; the goal-spend bonus goes back only when the order falls below the goal;
proportional clawback rounds down per line; a refund lowers the customer's spend and earned
points (tiers read them); a reversal takes the order's own points first.

Every customer here holds a large opening balance, so the balance cap (a reversal never takes
the balance below zero) cannot hide a wrong amount. Service level, real Postgres.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import pytest
from sqlalchemy import select, text

from db.ids import new_id
from db.models import Customer, PointsTransaction
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.ledger import service as ledger
from subgraphs.points.orders.reversal import RefundLine, ReverseCommand, reverse_order
from subgraphs.points.program.calculation import EarnAction, Order, OrderLine
from subgraphs.points.program.service import Channel, update_program_config
from tests.conftest import Tenant, add_customer
from tests.subgraphs.points.ledger_helpers import customer_row, ledger_state

OPENING = 10_000  # far more than any order here earns: the balance cap never applies


async def configure(resources: Resources, tenant: Tenant, **changes: Any) -> None:
    """10 points per USD, rounded down, no first-purchase multiplier, unless a test says so."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await update_program_config(
            WriteContext(session, tenant.merchant_id), {"first_purchase": None, **changes}
        )


async def buy(
    resources: Resources, tenant: Tenant, customer_id: str, *lines: tuple[int, str]
) -> tuple[str, list[int], int]:
    """An order of (quantity, amount) lines, earned: its id, each line's points, the bonus."""
    order_id = new_id()
    order = Order(
        order_id=order_id,
        currency="USD",
        lines=tuple(
            OrderLine(f"L{n}", quantity, Decimal(amount))
            for n, (quantity, amount) in enumerate(lines, start=1)
        ),
        channel=Channel.ONLINE,
        placed_at=datetime.now(UTC),
    )
    command = ledger.EarnCommand(customer_id, EarnAction.PURCHASE, f"order:{order_id}:earn", order)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        entry = await ledger.earn(session, tenant.merchant_id, command, now=datetime.now(UTC))
    explanation = entry.transaction.explanation
    return order_id, [line["points"] for line in explanation["lines"]], explanation["bonus_points"]


async def refund(
    resources: Resources,
    tenant: Tenant,
    order_id: str,
    *lines: RefundLine,
    key: str | None = None,
) -> ledger.LedgerEntry:
    """A refund of ``lines`` (a cancellation of the whole order when none are given)."""
    command = ReverseCommand(
        order_id=order_id,
        idempotency_key=key or f"refund:{new_id()}",
        lines=lines or None,
        reason="refund" if lines else "order cancelled",
    )
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return await reverse_order(session, tenant.merchant_id, command, now=datetime.now(UTC))


def proportion(points: int, part: Decimal, whole: Decimal) -> int:
    """The points of ``part`` of a line worth ``whole`` that earned ``points``, rounded down."""
    return int((points * part / whole).to_integral_value(rounding=ROUND_FLOOR))


async def balance(resources: Resources, tenant: Tenant, customer_id: str) -> int:
    state = await ledger_state(resources, tenant, customer_id)
    assert state.consistent, state
    return state.balance


def steps(entry: ledger.LedgerEntry) -> dict[str, dict[str, Any]]:
    return {step["rule"]: step for step in entry.transaction.explanation["trace"]}


# --- refunds of one line in parts -----------------------------------------------------------


async def test_refunding_the_same_line_in_three_parts_takes_back_exactly_what_it_earned(
    resources: Resources, tenant: Tenant
) -> None:
    """Kills `refunded +=` -> `refunded =` and `owed +=` -> `owed =` in `_order_state`: with
    the first the third part takes nothing, with the second it takes two parts' worth."""
    await configure(resources, tenant)
    customer_id = await add_customer(resources, tenant, points=OPENING)
    order_id, [earned], _ = await buy(resources, tenant, customer_id, (3, "99.99"))
    assert earned == 999

    taken = [
        -(
            await refund(resources, tenant, order_id, RefundLine("L1", quantity=1))
        ).transaction.points
        for _ in range(3)
    ]

    third = Decimal("33.33")
    assert taken == [
        proportion(earned, third, Decimal("99.99")),
        proportion(earned, 2 * third, Decimal("99.99")) - taken[0],
        earned - taken[0] - taken[1],
    ]
    assert sum(taken) == earned
    assert await balance(resources, tenant, customer_id) == OPENING
    # A fourth refund of a line already refunded in full takes nothing more.
    fourth = await refund(resources, tenant, order_id, RefundLine("L1", quantity=1))
    assert fourth.transaction.points == 0


async def test_three_partial_refunds_leave_the_points_of_what_the_customer_kept(
    resources: Resources, tenant: Tenant
) -> None:
    """Kills inflating the stored refunded amount (`"refunded_amount": str(cumulative)` instead
    of `str(newly_refunded)`): the third refund would count 10.00 refunded twice and take 100
    points too many. Also kills both `+=` -> `=` mutants without reaching the line's end."""
    await configure(resources, tenant)
    customer_id = await add_customer(resources, tenant, points=OPENING)
    order_id, [earned], _ = await buy(resources, tenant, customer_id, (1, "60.00"))
    parts = [Decimal("10.00"), Decimal("20.00"), Decimal("15.00")]

    taken = [
        -(
            await refund(resources, tenant, order_id, RefundLine("L1", amount=part))
        ).transaction.points
        for part in parts
    ]

    kept = Decimal("60.00") - sum(parts)
    assert sum(taken) == earned - proportion(earned, kept, Decimal("60.00"))
    assert taken == [proportion(earned, part, Decimal("60.00")) for part in parts]
    assert await balance(resources, tenant, customer_id) == OPENING + earned - sum(taken)


async def test_a_refund_and_a_cancellation_arriving_together_take_back_the_order_once(
    resources: Resources, tenant: Tenant
) -> None:
    """Kills breaking the re-read of earlier reversals under the customer's lock (`_reversal`
    deciding from the order history read before the lock): both reversals read the history
    while a third transaction holds the lock, so the second would take the whole order again."""
    await configure(resources, tenant)
    customer_id = await add_customer(resources, tenant, points=OPENING)
    order_id, [first, second], _ = await buy(
        resources, tenant, customer_id, (1, "40.00"), (1, "12.50")
    )

    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as holder:
        await holder.execute(
            select(Customer.id)
            .where(Customer.merchant_id == tenant.merchant_id, Customer.id == customer_id)
            .with_for_update()
        )
        both = asyncio.gather(
            refund(resources, tenant, order_id, RefundLine("L1", quantity=1)),
            refund(resources, tenant, order_id),
        )
        await waiting_for_locks(resources, 2)
    entries = await both

    assert sorted(-entry.transaction.points for entry in entries) in (
        sorted([first, second]),  # the refund went first: the cancellation takes the rest
        [0, first + second],  # the cancellation went first: the refund finds nothing left
    )
    assert sum(entry.transaction.points for entry in entries) == -(first + second)
    assert sorted(str(entry.transaction.source) for entry in entries) == ["cancellation", "refund"]
    assert await balance(resources, tenant, customer_id) == OPENING


async def waiting_for_locks(resources: Resources, count: int) -> None:
    """Until ``count`` sessions of this database wait for a row lock."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(500):
        async with resources.sessions() as session:
            if (await session.scalar(query)) == count:
                return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} sessions never waited for the lock")


# --- goal-spend bonus -----------------------------------------------------------------------


async def test_a_partial_refund_takes_the_goal_bonus_back_only_below_the_goal(
    resources: Resources, tenant: Tenant
) -> None:
    """An order of 80 + 40 met a 100 USD goal (50 bonus points). Refunding 15 keeps it above
    the goal, refunding 20 exactly at it: the bonus stays. Refunding one more cent drops it
    below: the bonus goes back, once. Kills `kept < threshold` -> `<=` / `>`, the bonus taken
    on every refund (`not bonus_claimed` dropped), and the bonus never taken."""
    await configure(resources, tenant, earning={"goal_spend": {"threshold": "100", "points": 50}})
    customer_id = await add_customer(resources, tenant, points=OPENING)
    order_id, [big, small], bonus = await buy(
        resources, tenant, customer_id, (1, "80.00"), (1, "40.00")
    )
    assert bonus == 50

    above = await refund(resources, tenant, order_id, RefundLine("L2", amount=Decimal("15.00")))
    at = await refund(resources, tenant, order_id, RefundLine("L2", amount=Decimal("5.00")))
    below = await refund(resources, tenant, order_id, RefundLine("L2", amount=Decimal("0.01")))
    rest = await refund(resources, tenant, order_id, RefundLine("L2", amount=Decimal("19.99")))

    line = Decimal("40.00")
    assert -above.transaction.points == proportion(small, Decimal("15.00"), line)
    assert "goal_spend_bonus" not in steps(above)
    assert -at.transaction.points == proportion(small, Decimal("20.00"), line) - proportion(
        small, Decimal("15.00"), line
    )
    assert "goal_spend_bonus" not in steps(at)
    assert -below.transaction.points == bonus + proportion(
        small, Decimal("20.01"), line
    ) - proportion(small, Decimal("20.00"), line)
    assert steps(below)["goal_spend_bonus"]["detail"] == (
        "order kept 99.99, below the 100 goal: bonus 50 taken back"
    )
    assert steps(below)["goal_spend_bonus"]["points"] == -bonus
    assert steps(below)["goal_spend_bonus"]["applied"] is True
    assert -rest.transaction.points == small - proportion(small, Decimal("20.01"), line)
    assert "goal_spend_bonus" not in steps(rest)
    assert await balance(resources, tenant, customer_id) == OPENING + big


async def test_refunding_a_line_of_an_order_under_its_goal_takes_no_bonus(
    resources: Resources, tenant: Tenant
) -> None:
    """An order below the goal earned no bonus, so a refund has none to take back."""
    await configure(resources, tenant, earning={"goal_spend": {"threshold": "100", "points": 50}})
    customer_id = await add_customer(resources, tenant, points=OPENING)
    order_id, [first, _], bonus = await buy(
        resources, tenant, customer_id, (1, "50.00"), (1, "30.00")
    )
    assert bonus == 0

    entry = await refund(resources, tenant, order_id, RefundLine("L1", quantity=1))

    assert -entry.transaction.points == first
    assert "goal_spend_bonus" not in steps(entry)


# --- rounding -------------------------------------------------------------------------------


async def test_proportional_clawback_rounds_each_line_down_and_still_adds_up(
    resources: Resources, tenant: Tenant
) -> None:
    """A 7.25 line earned 72 points; refunding 3.00 of it takes floor(72 x 3 / 7.25) = 29, the
    rest takes the other 43. Kills ROUND_FLOOR -> another rounding, `share` computed from the
    new part only, `target - state.owed` -> `target`, and the clawback step's applied, points
    or the entry's source changed."""
    await configure(resources, tenant)
    customer_id = await add_customer(resources, tenant, points=OPENING)
    order_id, [earned], _ = await buy(resources, tenant, customer_id, (1, "7.25"))
    assert earned == 72

    part = await refund(resources, tenant, order_id, RefundLine("L1", amount=Decimal("3.00")))
    rest = await refund(resources, tenant, order_id, RefundLine("L1", amount=Decimal("4.25")))

    assert -part.transaction.points == proportion(earned, Decimal("3.00"), Decimal("7.25"))
    assert -part.transaction.points + -rest.transaction.points == earned
    assert steps(part)["line:L1"]["detail"] == (
        "refunded 3.00 of 7.25: 29 of 72 points; 0 taken back before, 29 now"
    )
    assert steps(rest)["line:L1"]["detail"] == (
        "refunded 7.25 of 7.25: 72 of 72 points; 29 taken back before, 43 now"
    )
    assert steps(rest)["clawback"]["detail"] == f"owed 43, balance {OPENING + 72 - 29}: took 43"
    assert (steps(rest)["clawback"]["applied"], steps(rest)["clawback"]["points"]) == (True, -43)
    assert (part.transaction.source, part.transaction.reason) == ("refund", "refund")


async def test_refunding_part_of_a_quantity_takes_that_share_of_the_line(
    resources: Resources, tenant: Tenant
) -> None:
    """Two of seven units of a 43.75 line: 12.50 refunded, floor(437 x 12.50 / 43.75) points.
    Kills `amount * quantity / state.quantity` mutated (times, the wrong divisor)."""
    await configure(resources, tenant)
    customer_id = await add_customer(resources, tenant, points=OPENING)
    order_id, [earned], _ = await buy(resources, tenant, customer_id, (7, "43.75"))

    entry = await refund(resources, tenant, order_id, RefundLine("L1", quantity=2))

    refunded = (Decimal("43.75") * 2 / 7).quantize(Decimal("0.01"))
    assert -entry.transaction.points == proportion(earned, refunded, Decimal("43.75"))
    assert entry.transaction.explanation["reversal"]["lines"]["L1"]["refunded_amount"] == str(
        refunded
    )


# --- what tiers read ------------------------------------------------------------------------


async def test_a_refund_lowers_what_the_customer_spent_and_earned(
    resources: Resources, tenant: Tenant
) -> None:
    """Spend- and points-based tiers read total_spent and total_points_earned: a refund of 15.00
    of a 60.00 order lowers them by 15.00 and 150 points. Kills `spent=-claim.refunded_base`
    and `earned=-owed_total` negated or dropped, and `refunded_base +=` -> `=`."""
    await configure(resources, tenant)
    customer_id = await add_customer(resources, tenant, points=OPENING)
    before = await customer_row(resources, tenant, customer_id)
    order_id, [first, second], _ = await buy(
        resources, tenant, customer_id, (1, "60.00"), (2, "20.00")
    )
    bought = await customer_row(resources, tenant, customer_id)
    assert bought.total_spent == before.total_spent + Decimal("80.00")

    entry = await refund(
        resources,
        tenant,
        order_id,
        RefundLine("L1", amount=Decimal("15.00")),
        RefundLine("L2", quantity=1),
    )

    after = await customer_row(resources, tenant, customer_id)
    taken = proportion(first, Decimal("15.00"), Decimal("60.00")) + proportion(
        second, Decimal("10.00"), Decimal("20.00")
    )
    assert -entry.transaction.points == taken
    assert after.total_spent == bought.total_spent - Decimal("25.00")
    assert after.total_points_earned == bought.total_points_earned - taken
    assert after.points_balance == bought.points_balance - taken


# --- which points go back -------------------------------------------------------------------


async def test_a_reversal_takes_the_orders_own_points_before_older_ones(
    resources: Resources, tenant: Tenant
) -> None:
    """The customer's older points (the opening balance) stay whole; the refund comes out of
    the order's own lot. Kills `preferred_lot=earned.id` dropped (the oldest lot would pay)."""
    await configure(resources, tenant)
    customer_id = await add_customer(resources, tenant, points=OPENING)
    order_id, [earned], _ = await buy(resources, tenant, customer_id, (1, "30.00"))

    entry = await refund(resources, tenant, order_id, RefundLine("L1", amount=Decimal("10.00")))

    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        lots = dict(
            (
                await session.execute(
                    select(PointsTransaction.order_id, PointsTransaction.remaining_points).where(
                        PointsTransaction.merchant_id == tenant.merchant_id,
                        PointsTransaction.customer_id == customer_id,
                        PointsTransaction.points > 0,
                    )
                )
            ).all()
        )
    assert lots == {None: OPENING, order_id: earned + entry.transaction.points}


# --- edges of a refund ----------------------------------------------------------------------


async def test_half_of_a_one_dollar_line_takes_back_half_its_points(
    resources: Resources, tenant: Tenant
) -> None:
    """Kills the whole-line share used when the line's amount is exactly 1 (instead of 0)."""
    await configure(resources, tenant)
    customer_id = await add_customer(resources, tenant, points=OPENING)
    order_id, [earned], _ = await buy(resources, tenant, customer_id, (1, "1.00"))

    entry = await refund(resources, tenant, order_id, RefundLine("L1", amount=Decimal("0.50")))

    assert -entry.transaction.points == proportion(earned, Decimal("0.50"), Decimal("1.00"))


async def test_a_refund_taking_one_point_shows_as_applied_and_one_taking_none_does_not(
    resources: Resources, tenant: Tenant
) -> None:
    """The trace a customer is shown says, line by line, how many points each refund takes
    back, and the clawback counts as applied from 1 point taken. Kills `owed > 0` -> `owed >= 0`
    and -> `owed > 1` in the line's step, its `points=-owed` made None, `+owed` or dropped, and
    the clawback's `taken > 0` -> `taken > 1`."""
    await configure(resources, tenant)
    customer_id = await add_customer(resources, tenant, points=OPENING)
    order_id, _, _ = await buy(resources, tenant, customer_id, (1, "5.00"))

    one = await refund(resources, tenant, order_id, RefundLine("L1", amount=Decimal("0.10")))
    rest = await refund(resources, tenant, order_id, RefundLine("L1", amount=Decimal("4.90")))
    none = await refund(resources, tenant, order_id, RefundLine("L1", amount=Decimal("1.00")))

    assert [entry.transaction.points for entry in (one, rest, none)] == [-1, -49, 0]
    assert [steps(entry)["clawback"]["applied"] for entry in (one, rest, none)] == [
        True,
        True,
        False,
    ]
    assert [steps(entry)["line:L1"]["applied"] for entry in (one, rest, none)] == [
        True,
        True,
        False,
    ]
    assert [steps(entry)["line:L1"]["points"] for entry in (one, rest, none)] == [-1, -49, 0]


async def test_a_refund_in_another_currency_lowers_the_spend_in_the_shops_currency(
    resources: Resources, tenant: Tenant
) -> None:
    """A CAD order (1.25 CAD per USD): refunding 25.00 CAD lowers total_spent by 20.00 USD.
    Kills `earned.currency or base` -> `and` (the refund would count CAD as USD), the program
    read for another merchant, and the reversal's currency dropped."""
    await configure(resources, tenant, currencies={"base": "USD", "rates": {"CAD": "1.25"}})
    customer_id = await add_customer(resources, tenant, points=OPENING)
    order_id = new_id()
    order = Order(
        order_id, "CAD", (OrderLine("L1", 1, Decimal("50.00")),), Channel.ONLINE, datetime.now(UTC)
    )
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await ledger.earn(
            session,
            tenant.merchant_id,
            ledger.EarnCommand(customer_id, EarnAction.PURCHASE, f"order:{order_id}:earn", order),
            now=datetime.now(UTC),
        )
    bought = await customer_row(resources, tenant, customer_id)

    entry = await refund(resources, tenant, order_id, RefundLine("L1", amount=Decimal("25.00")))

    assert entry.transaction.currency == "CAD"
    after = await customer_row(resources, tenant, customer_id)
    assert bought.total_spent - after.total_spent == Decimal("25.00") / Decimal("1.25")


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(RefundLine("L1", quantity=0), id="zero quantity"),
        pytest.param(RefundLine("L1", quantity=-1), id="negative quantity"),
        pytest.param(RefundLine("L1"), id="neither quantity nor amount"),
    ],
)
async def test_a_refund_line_without_a_positive_quantity_or_an_amount_is_refused(
    resources: Resources, tenant: Tenant, line: RefundLine
) -> None:
    """Kills `quantity is None or quantity <= 0` -> `and`, `<= 0` -> `< 0`, and the message's
    text or line id changed."""
    await configure(resources, tenant)
    customer_id = await add_customer(resources, tenant, points=OPENING)
    order_id, [earned], _ = await buy(resources, tenant, customer_id, (2, "5.00"))

    with pytest.raises(PointsError) as refused:
        await refund(resources, tenant, order_id, line)

    assert (refused.value.code, refused.value.field, refused.value.message) == (
        PointsErrorCode.INVALID_ORDER,
        "lines",
        "line L1: give a positive quantity or an amount",
    )
    assert await balance(resources, tenant, customer_id) == OPENING + earned


async def test_a_refund_key_used_for_another_order_is_refused(
    resources: Resources, tenant: Tenant
) -> None:
    """A refund's key names one reversal of one order: reused for another order of the same
    customer it is refused, not replayed. Kills the replay match's `and` -> `or`."""
    await configure(resources, tenant)
    customer_id = await add_customer(resources, tenant, points=OPENING)
    first, _, _ = await buy(resources, tenant, customer_id, (1, "5.00"))
    second, [earned], _ = await buy(resources, tenant, customer_id, (1, "7.00"))
    await refund(resources, tenant, first, RefundLine("L1", quantity=1), key="refund:shared")

    with pytest.raises(PointsError) as refused:
        await refund(resources, tenant, second, RefundLine("L1", quantity=1), key="refund:shared")

    assert refused.value.code is PointsErrorCode.IDEMPOTENCY_KEY_REUSED
    assert await balance(resources, tenant, customer_id) == OPENING + earned
