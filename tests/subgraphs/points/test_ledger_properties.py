"""Property: whatever sequence of earn / redeem / adjust / reverse / expire / retried requests a
customer goes through, after every step balance = signed sum of the ledger = unspent lots, and
balance >= 0. Runs on the real database through the service, one transaction per step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.expiry.service import expire_customer_lots
from subgraphs.points.ledger import service as ledger
from subgraphs.points.orders.reversal import RefundLine, ReverseCommand, reverse_order
from subgraphs.points.program.calculation import EarnAction, Order, OrderLine
from subgraphs.points.program.service import Channel, update_program_config
from tests.conftest import Tenant, add_customer
from tests.subgraphs.points.ledger_helpers import ledger_state


@dataclass(frozen=True)
class Earn:
    amounts: tuple[int, ...]  # cents per line


@dataclass(frozen=True)
class Redeem:
    points: int


@dataclass(frozen=True)
class Adjust:
    points: int


@dataclass(frozen=True)
class Reverse:
    order_pick: int
    line_pick: int
    cents: int | None  # None: cancel the whole order


@dataclass(frozen=True)
class Expire:
    days_later: int


@dataclass(frozen=True)
class Retry:
    pick: int


steps = st.lists(
    st.one_of(
        st.builds(Earn, st.lists(st.integers(0, 20_000), min_size=1, max_size=3).map(tuple)),
        st.builds(Redeem, st.integers(1, 3_000)),
        st.builds(Adjust, st.integers(-2_000, 2_000).filter(bool)),
        st.builds(
            Reverse, st.integers(0, 50), st.integers(0, 5), st.none() | st.integers(1, 20_000)
        ),
        st.builds(Expire, st.integers(1, 40)),
        st.builds(Retry, st.integers(0, 50)),
    ),
    min_size=1,
    max_size=14,
)


async def run_step(
    resources: Resources,
    tenant: Tenant,
    customer_id: str,
    command: object,
    now: datetime,
) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        if isinstance(command, ledger.EarnCommand):
            await ledger.earn(session, tenant.merchant_id, command, now=now)
        elif isinstance(command, ledger.PointsMovement):
            await ledger.redeem(session, tenant.merchant_id, command, now=now)
        elif isinstance(command, ledger.AdjustCommand):
            await ledger.adjust(session, tenant.merchant_id, command, now=now)
        elif isinstance(command, ReverseCommand):
            await reverse_order(session, tenant.merchant_id, command, now=now)
        elif command == "expire":
            await expire_customer_lots(session, tenant.merchant_id, customer_id, now=now)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=steps)
async def test_balance_equals_the_ledger_after_every_step(
    resources: Resources, tenant: Tenant, sequence: list[object]
) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await update_program_config(
            WriteContext(session, tenant.merchant_id),
            {"expiry": {"kind": "after_earning", "days": 30}, "first_purchase": None},
        )
    customer_id = await add_customer(resources, tenant)
    now = datetime.now(UTC)
    orders: list[Order] = []
    sent: list[object] = []
    for number, step in enumerate(sequence):
        key = f"{customer_id}:{number}"
        command: object
        if isinstance(step, Earn):
            order = Order(
                order_id=key,
                currency="USD",
                lines=tuple(
                    OrderLine(f"L{i}", 1, Decimal(cents) / 100)
                    for i, cents in enumerate(step.amounts)
                ),
                channel=Channel.ONLINE,
                placed_at=now,
            )
            orders.append(order)
            command = ledger.EarnCommand(customer_id, EarnAction.PURCHASE, key, order=order)
        elif isinstance(step, Redeem):
            command = ledger.PointsMovement(customer_id, step.points, "reward", key, "redemption")
        elif isinstance(step, Adjust):
            command = ledger.AdjustCommand(customer_id, step.points, "correction", key)
        elif isinstance(step, Reverse):
            if not orders:
                continue
            order = orders[step.order_pick % len(orders)]
            line = order.lines[step.line_pick % len(order.lines)]
            lines = (
                None
                if step.cents is None
                else (RefundLine(line.line_id, amount=Decimal(step.cents) / 100),)
            )
            command = ReverseCommand(order.order_id, key, lines=lines)
        elif isinstance(step, Expire):
            now += timedelta(days=step.days_later)
            command = "expire"
        else:
            assert isinstance(step, Retry)
            if not sent:
                continue
            command = sent[step.pick % len(sent)]
        refusal: PointsErrorCode | None = None
        try:
            await run_step(resources, tenant, customer_id, command, now)
        except PointsError as error:
            refusal = error.code
        # The only refusal a valid sequence can meet; it must write nothing.
        assert refusal in (None, PointsErrorCode.INSUFFICIENT_POINTS)
        sent.append(command)
        state = await ledger_state(resources, tenant, customer_id)
        assert state.consistent, (step, state)
