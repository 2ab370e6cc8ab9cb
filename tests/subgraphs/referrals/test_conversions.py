"""Referrals from attribution to paid rewards, at the service level over real Postgres: a
friend attributed once however often (and however concurrently) the code arrives; their first
qualifying order completes the referral once; the friend's reward is paid at once and the
advocate's after the hold period, each exactly once into the points ledger under
``referral:{id}:{side}`` by the worker's job; a refund inside the hold cancels the advocate's;
tier rewards from the N-th referral; suspicious referrals held until staff decide."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from db.models import AuditLog, Customer, PointsTransaction, ReferralLink, ReferralReward
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.referrals.conversions import service as conversions
from subgraphs.referrals.conversions.fraud import PartyFacts
from subgraphs.referrals.conversions.service import (
    AttributionSource,
    Completion,
    Decision,
    QualifyingOrder,
)
from subgraphs.referrals.program.service import referral_program, update_referral_program
from subgraphs.referrals.service import ReferralError, ReferralErrorCode, create_referral_link
from tests.conftest import Tenant, add_customer
from worker.referrals.jobs import pay_due_referral_rewards

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
HOLD = timedelta(hours=48)


@dataclass(frozen=True)
class Shop:
    tenant: Tenant
    advocate_id: str
    code: str


async def shop_with_advocate(resources: Resources, tenant: Tenant, **program: Any) -> Shop:
    advocate_id = await add_customer(resources, tenant, email="ada.lovelace@example.com")
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        link = await create_referral_link(session, tenant.merchant_id, advocate_id)
        await update_referral_program(
            WriteContext(session, tenant.merchant_id),
            {"hold_hours": HOLD.total_seconds() // 3600, "min_order_amount": "20", **program},
        )
    return Shop(tenant, advocate_id, link.link.code)


async def attribute(
    resources: Resources, shop: Shop, friend_id: str, friend: PartyFacts | None = None
) -> conversions.Attribution:
    async with tenant_unit_of_work(resources.sessions, shop.tenant.merchant_id) as session:
        return await conversions.attribute(
            session,
            shop.tenant.merchant_id,
            shop.code,
            friend_customer_id=friend_id,
            friend=friend or PartyFacts(email=f"{friend_id}@example.org"),
            advocate=PartyFacts(email="ada.lovelace@example.com", ip_hash="advocate-ip"),
            source=AttributionSource.CUSTOMER_CREATE,
            now=NOW,
        )


async def order(
    resources: Resources, shop: Shop, friend_id: str, order_id: str, subtotal: str = "50"
) -> Completion:
    async with tenant_unit_of_work(resources.sessions, shop.tenant.merchant_id) as session:
        return await conversions.complete(
            session,
            shop.tenant.merchant_id,
            friend_id,
            QualifyingOrder(order_id, Decimal(subtotal), NOW),
            now=NOW,
        )


async def refund(resources: Resources, shop: Shop, order_id: str) -> list[ReferralReward]:
    async with tenant_unit_of_work(resources.sessions, shop.tenant.merchant_id) as session:
        return await conversions.cancel_for_order(
            session, shop.tenant.merchant_id, order_id, reason="orders/cancelled"
        )


async def referral_credits(resources: Resources, shop: Shop) -> dict[str, list[int]]:
    """customer id -> the points of each referral credit in their ledger, in the order the
    referrals were made (the ledger key is ``referral:{referral id}:{side}``, and referral ids
    are time-ordered)."""
    async with tenant_unit_of_work(resources.sessions, shop.tenant.merchant_id) as session:
        rows = (
            await session.execute(
                select(PointsTransaction.customer_id, PointsTransaction.points)
                .where(PointsTransaction.kind == "referral")
                .order_by(PointsTransaction.idempotency_key)
            )
        ).all()
    credits: dict[str, list[int]] = {}
    for customer_id, points in rows:
        credits.setdefault(customer_id, []).append(points)
    return credits


async def balance(resources: Resources, shop: Shop, customer_id: str) -> int:
    async with tenant_unit_of_work(resources.sessions, shop.tenant.merchant_id) as session:
        value = await session.scalar(
            select(Customer.points_balance).where(Customer.id == customer_id)
        )
    return int(value or 0)


async def friend(resources: Resources, shop: Shop) -> str:
    return await add_customer(resources, shop.tenant)


async def test_a_friend_is_attributed_once_however_often_the_code_arrives(
    resources: Resources, tenant: Tenant
) -> None:
    shop = await shop_with_advocate(resources, tenant)
    friend_id = await friend(resources, shop)

    results = await asyncio.gather(*(attribute(resources, shop, friend_id) for _ in range(10)))

    assert len({result.referral.id for result in results}) == 1
    assert sum(result.created for result in results) == 1
    assert results[0].referral.status == "pending"
    assert results[0].referral.advocate_customer_id == shop.advocate_id


async def test_self_referral_and_unknown_codes_are_refused(
    resources: Resources, tenant: Tenant
) -> None:
    shop = await shop_with_advocate(resources, tenant)

    with pytest.raises(ReferralError) as own:
        await attribute(resources, shop, shop.advocate_id)
    unknown = Shop(tenant, shop.advocate_id, "NOSUCHCD")
    with pytest.raises(ReferralError) as missing:
        await attribute(resources, unknown, await friend(resources, shop))

    assert own.value.code is ReferralErrorCode.SELF_REFERRAL
    assert missing.value.code is ReferralErrorCode.CODE_NOT_FOUND


async def test_the_first_qualifying_order_completes_it_and_both_sides_are_paid_once(
    resources: Resources, tenant: Tenant
) -> None:
    shop = await shop_with_advocate(resources, tenant)
    friend_id = await friend(resources, shop)
    assert await order(resources, shop, friend_id, "o-0") is Completion.NOT_REFERRED
    await attribute(resources, shop, friend_id)

    assert await order(resources, shop, friend_id, "o-1", subtotal="19.99") is (
        Completion.BELOW_MINIMUM
    )
    # The qualifying order's webhook, replayed ten times at once.
    outcomes = await asyncio.gather(*(order(resources, shop, friend_id, "o-2") for _ in range(10)))
    assert sorted(outcomes).count(Completion.COMPLETED) == 1
    assert set(outcomes) == {Completion.COMPLETED, Completion.ALREADY_COMPLETED}

    # The friend's reward is due at once; the advocate's only after the hold.
    await asyncio.gather(*(pay_due_referral_rewards(resources, now=NOW) for _ in range(3)))
    assert await referral_credits(resources, shop) == {friend_id: [250]}
    await pay_due_referral_rewards(resources, now=NOW + HOLD - timedelta(minutes=1))
    assert shop.advocate_id not in await referral_credits(resources, shop)
    await asyncio.gather(*(pay_due_referral_rewards(resources, now=NOW + HOLD) for _ in range(3)))
    await pay_due_referral_rewards(resources, now=NOW + 2 * HOLD)

    assert await referral_credits(resources, shop) == {friend_id: [250], shop.advocate_id: [500]}
    assert await balance(resources, shop, shop.advocate_id) == 500
    assert await balance(resources, shop, friend_id) == 250


async def test_a_refund_inside_the_hold_cancels_the_advocates_reward_only(
    resources: Resources, tenant: Tenant
) -> None:
    shop = await shop_with_advocate(resources, tenant)
    friend_id = await friend(resources, shop)
    await attribute(resources, shop, friend_id)
    await order(resources, shop, friend_id, "o-9")
    await pay_due_referral_rewards(resources, now=NOW)

    cancelled = await refund(resources, shop, "o-9")
    await pay_due_referral_rewards(resources, now=NOW + 2 * HOLD)

    assert [reward.side for reward in cancelled] == ["advocate"]
    assert await referral_credits(resources, shop) == {friend_id: [250]}
    # Once paid, a later refund changes nothing here (the ledger's own reversal rules apply).
    assert await refund(resources, shop, "o-9") == []


async def test_the_fifth_referral_pays_the_tier_reward_and_the_fourth_does_not(
    resources: Resources, tenant: Tenant
) -> None:
    shop = await shop_with_advocate(
        resources, tenant, tiers=[{"from_count": 5, "points": 1000}], hold_hours=0
    )
    for number in range(5):
        friend_id = await friend(resources, shop)
        await attribute(resources, shop, friend_id)
        assert await order(resources, shop, friend_id, f"tier-{number}") is Completion.COMPLETED

    await pay_due_referral_rewards(resources, now=NOW)

    # Paid in one job, in no particular order: four at the base rate, one at the tier's.
    assert sorted((await referral_credits(resources, shop))[shop.advocate_id]) == [500] * 4 + [1000]


@pytest.mark.parametrize(
    "suspicious",
    [
        pytest.param(PartyFacts(email="ada.lovelace+friend@example.com"), id="plus-addressed"),
        pytest.param(
            PartyFacts(email="someone@mailinator.com", ip_hash="advocate-ip"),
            id="same-ip-and-throw-away-email",
        ),
    ],
)
async def test_a_suspicious_referral_is_held_until_staff_decide(
    resources: Resources, tenant: Tenant, suspicious: PartyFacts
) -> None:
    shop = await shop_with_advocate(resources, tenant, hold_hours=0)
    held_friend, rejected_friend = await friend(resources, shop), await friend(resources, shop)
    attributed = await attribute(resources, shop, held_friend, suspicious)
    rejected = await attribute(resources, shop, rejected_friend, suspicious)

    assert attributed.referral.fraud_score >= Decimal("0.7")
    assert attributed.referral.fraud_reasons
    assert await order(resources, shop, held_friend, "s-1") is Completion.HELD
    assert await order(resources, shop, rejected_friend, "s-2") is Completion.HELD
    await pay_due_referral_rewards(resources, now=NOW)
    assert await referral_credits(resources, shop) == {}

    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        staff = WriteContext(session, tenant.merchant_id, actor_id="s1")
        await conversions.review(staff, attributed.referral.id, Decision.APPROVE)
        await conversions.review(staff, rejected.referral.id, Decision.REJECT)
        with pytest.raises(ReferralError) as again:
            await conversions.review(staff, rejected.referral.id, Decision.APPROVE)
    await pay_due_referral_rewards(resources, now=NOW)

    assert again.value.code is ReferralErrorCode.NOT_HELD
    assert await referral_credits(resources, shop) == {held_friend: [250], shop.advocate_id: [500]}
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        actions = list(await session.scalars(select(AuditLog.action).order_by(AuditLog.created_at)))
    assert actions.count("spoof_detected") == 2
    assert actions.count("referral_reviewed") == 2


async def test_the_program_is_validated_and_versioned(resources: Resources, tenant: Tenant) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        program, version = await referral_program(session, tenant.merchant_id)
        assert (version, program.advocate_reward.points) == (0, 500)
        _, saved = await update_referral_program(
            WriteContext(session, tenant.merchant_id), {"texts": {"en": "Give $10", "ar": "اعط"}}
        )
        invalid_changes: list[tuple[dict[str, Any], str]] = [
            ({"tiers": [{"from_count": 2, "points": 5}, {"from_count": 2, "points": 9}]}, "tiers"),
            ({"texts": {"fr": "Donnez"}}, "texts"),
            ({"friend_reward": {"kind": "percentage", "value": "150"}}, "friend_reward"),
            ({"fraud_threshold": "1.5"}, "fraud_threshold"),
        ]
        for changes, field in invalid_changes:
            with pytest.raises(ReferralError) as invalid:
                await update_referral_program(WriteContext(session, tenant.merchant_id), changes)
            assert invalid.value.code is ReferralErrorCode.INVALID_PROGRAM
            assert invalid.value.field.startswith(field) or field in invalid.value.message
        with pytest.raises(ReferralError) as stale:
            await update_referral_program(
                WriteContext(session, tenant.merchant_id),
                {"hold_hours": 1},
                expected_version=saved - 1,
            )
        program, version = await referral_program(session, tenant.merchant_id)

    assert stale.value.code is ReferralErrorCode.VERSION_CONFLICT
    assert version == saved == 1
    assert program.text("ar") == "اعط"
    assert program.text("he") == "Give $10"


async def test_a_disabled_program_or_an_expired_link_takes_no_new_referral(
    resources: Resources, tenant: Tenant
) -> None:
    shop = await shop_with_advocate(resources, tenant, link_expiry_days=7)
    early, late, never = [await friend(resources, shop) for _ in range(3)]
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        link = await session.scalar(select(ReferralLink).where(ReferralLink.code == shop.code))
    assert link is not None
    created = link.created_at

    async def attribute_at(friend_id: str, at: datetime) -> conversions.Attribution:
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            return await conversions.attribute(
                session,
                tenant.merchant_id,
                shop.code,
                friend_customer_id=friend_id,
                friend=PartyFacts(),
                advocate=PartyFacts(),
                source=AttributionSource.CLAIM,
                now=at,
            )

    with pytest.raises(ReferralError) as expired:
        await attribute_at(late, created + timedelta(days=8))
    # Attributed in time, but the friend orders only after the link expired.
    await attribute_at(early, created + timedelta(days=1))
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        completion = await conversions.complete(
            session,
            tenant.merchant_id,
            early,
            QualifyingOrder("late-order", Decimal(99), created + timedelta(days=9)),
            now=created + timedelta(days=9),
        )
        await update_referral_program(WriteContext(session, tenant.merchant_id), {"enabled": False})
    with pytest.raises(ReferralError) as disabled:
        await attribute_at(never, created + timedelta(hours=1))

    assert expired.value.code is ReferralErrorCode.LINK_EXPIRED
    assert completion is Completion.EXPIRED
    assert disabled.value.code is ReferralErrorCode.PROGRAM_DISABLED
    await pay_due_referral_rewards(resources, now=created + timedelta(days=30))
    assert await referral_credits(resources, shop) == {}
