"""The write path's limits at their edges (issue 16, boundaries as a habit): a change of points
is between 1 and 1,000,000 (signed for corrections), never 0; an idempotency key is 1 to 255
characters; credited points expire after the program's days when they expire after earning,
and never otherwise; a correction names who made it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.ledger.service import (
    AdjustCommand,
    PointsChange,
    PointsMovement,
    adjust,
    credit_back,
    credit_referral,
    redeem,
)
from subgraphs.points.ledger.write_path import (
    MAX_IDEMPOTENCY_KEY_LENGTH,
    MAX_POINTS_PER_TRANSACTION,
    check_key,
    check_points,
    credit_expiry,
)
from subgraphs.points.program.service import DEFAULT_CONFIG, ProgramConfig
from tests.conftest import Tenant, add_customer
from tests.subgraphs.points.ledger_helpers import ledger_state

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("points", "allow_negative", "taken"),
    [
        pytest.param(1, False, True, id="one point"),
        pytest.param(MAX_POINTS_PER_TRANSACTION, False, True, id="the maximum"),
        pytest.param(MAX_POINTS_PER_TRANSACTION + 1, False, False, id="one over"),
        pytest.param(0, False, False, id="zero"),
        pytest.param(-1, False, False, id="a debit where none is allowed"),
        pytest.param(-MAX_POINTS_PER_TRANSACTION, True, True, id="the largest correction down"),
        pytest.param(-MAX_POINTS_PER_TRANSACTION - 1, True, False, id="one under"),
        pytest.param(0, True, False, id="a correction of zero"),
        pytest.param(MAX_POINTS_PER_TRANSACTION, True, True, id="the largest correction up"),
    ],
)
def test_a_change_of_points_is_bounded_and_never_zero(
    points: int, allow_negative: bool, taken: bool
) -> None:
    if taken:
        check_points(points, allow_negative=allow_negative)
        return
    with pytest.raises(PointsError) as refused:
        check_points(points, allow_negative=allow_negative)
    low = -MAX_POINTS_PER_TRANSACTION if allow_negative else 1
    assert (refused.value.code, refused.value.field, refused.value.message) == (
        PointsErrorCode.INVALID_POINTS,
        "points",
        f"points must be between {low} and {MAX_POINTS_PER_TRANSACTION}, not 0",
    )


def test_an_idempotency_key_is_one_to_255_characters() -> None:
    check_key("k")
    check_key("k" * MAX_IDEMPOTENCY_KEY_LENGTH)
    for bad in ("", "k" * (MAX_IDEMPOTENCY_KEY_LENGTH + 1)):
        with pytest.raises(PointsError) as refused:
            check_key(bad)
        assert refused.value.code is PointsErrorCode.INVALID_IDEMPOTENCY_KEY
    assert MAX_IDEMPOTENCY_KEY_LENGTH == 255


def expiring(kind: str, days: int | None) -> ProgramConfig:
    return ProgramConfig.model_validate(
        {**DEFAULT_CONFIG.model_dump(), "expiry": {"kind": kind, "days": days}}
    )


def test_credits_expire_after_earning_only_under_that_policy() -> None:
    assert credit_expiry(expiring("after_earning", 30), NOW) == NOW + timedelta(days=30)
    assert credit_expiry(expiring("inactivity", 30), NOW) is None
    assert credit_expiry(expiring("none", None), NOW) is None


async def test_a_correction_says_who_made_it_and_why(resources: Resources, tenant: Tenant) -> None:
    """Kills the adjustment trace's "the merchant" (no staff member named) changed."""
    customer_id = await add_customer(resources, tenant)
    command = AdjustCommand(customer_id, 40, "goodwill", f"adjust:{customer_id}")
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        entry = await adjust(session, tenant.merchant_id, command, now=NOW)

    [step] = entry.transaction.explanation["trace"]
    assert (step["rule"], step["detail"], step["points"]) == (
        "manual_adjustment",
        "+40 by the merchant: goodwill",
        40,
    )


async def _move(
    resources: Resources, tenant: Tenant, operation: str, customer_id: str, points: int
) -> None:
    key = f"{operation}:{customer_id}"
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        if operation == "credit_referral":
            change = PointsChange(customer_id, points, "referral", key)
            await credit_referral(session, tenant.merchant_id, change, now=NOW)
            return
        movement = PointsMovement(customer_id, points, "reward", key, source="reward")
        run = redeem if operation == "redeem" else credit_back
        await run(session, tenant.merchant_id, movement, now=NOW)


@pytest.mark.parametrize("operation", ["redeem", "credit_back", "credit_referral"])
async def test_spending_or_returning_a_negative_number_of_points_is_refused(
    resources: Resources, tenant: Tenant, operation: str
) -> None:
    """Only a correction may be negative. Kills ``check_points``'s ``allow_negative`` default
    turned True (``x_check_points__mutmut_1``): a redemption of -50 then credited 50."""
    customer_id = await add_customer(resources, tenant, points=100)
    before = await ledger_state(resources, tenant, customer_id)
    with pytest.raises(PointsError) as refused:
        await _move(resources, tenant, operation, customer_id, -50)
    assert refused.value.code == PointsErrorCode.INVALID_POINTS
    assert await ledger_state(resources, tenant, customer_id) == before


async def test_a_credit_of_one_point_opens_a_lot_of_one(
    resources: Resources, tenant: Tenant
) -> None:
    """The smallest credit is spendable like any other: balance = open lots. Kills the lot's
    ``points > 0`` turned ``> 1`` (``xǁLedgerWriterǁrecord__mutmut_39``)."""
    customer_id = await add_customer(resources, tenant)
    command = AdjustCommand(customer_id, 1, "goodwill", f"one:{customer_id}")
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        entry = await adjust(session, tenant.merchant_id, command, now=NOW)
    assert entry.transaction.remaining_points == 1
    state = await ledger_state(resources, tenant, customer_id)
    assert (state.balance, state.open_lots) == (1, 1)
