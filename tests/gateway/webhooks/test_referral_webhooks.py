"""Referrals end to end through the edge app and the worker's processing: the friend's signup
(customers/create with the code) creates a pending referral; their paid order completes it; the
friend's reward is paid at once and the advocate's after the hold, each exactly once however
often Shopify resends the deliveries (ten copies at once); a cancellation of the qualifying
order inside the hold cancels the advocate's reward."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from db.models import PointsTransaction, Referral
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.referrals.program.service import update_referral_program
from subgraphs.referrals.service import create_referral_link
from tests.conftest import Tenant
from tests.gateway.webhooks.shopify import (
    customer_payload,
    deliver,
    inbox,
    order_payload,
    process_pending,
)
from worker.referrals.jobs import pay_due_referral_rewards
from worker.webhooks.processing import process_delivery

HOLD = timedelta(hours=24)


async def customer_id(resources: Resources, tenant: Tenant, shopify_id: int) -> str:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        found = await session.scalar(
            select(PointsTransaction.customer_id).where(
                PointsTransaction.idempotency_key == f"customer:{shopify_id}:signup"
            )
        )
    assert found is not None
    return str(found)


async def advocate_link(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> tuple[str, str]:
    """(advocate id, their code) for a shop whose program holds the advocate's reward."""
    await deliver(
        edge,
        "customers/create",
        customer_payload(1, "ada.lovelace@example.com"),
        shop=tenant.shop_domain,
    )
    await process_pending(resources, tenant.merchant_id)
    advocate = await customer_id(resources, tenant, 1)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        link = await create_referral_link(session, tenant.merchant_id, advocate)
        await update_referral_program(
            WriteContext(session, tenant.merchant_id), {"hold_hours": 24, "min_order_amount": "25"}
        )
    return advocate, link.link.code


def friends_signup(code: str) -> dict[str, Any]:
    return {**customer_payload(2, "grace@example.org"), "note": f"referral_code: {code}"}


def friends_order(order_id: int) -> dict[str, Any]:
    return order_payload(
        order_id, lines=[(1, 2, "20.00")], customer_id=2, email="grace@example.org"
    )


async def deliver_copies(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant, topic: str, payload: Any
) -> None:
    """Ten copies of one event, as Shopify resends it (each its own webhook id), processed at
    once by ten workers."""
    for _ in range(10):
        response = await deliver(
            edge, topic, payload, shop=tenant.shop_domain, webhook_id=str(uuid.uuid4())
        )
        assert response.status_code == 200, response.text
    # Copies racing for one row may wait on each other's locks; process until each is done
    # (a copy the worker would retry is picked up again here).
    for _ in range(20):
        pending = [
            row["id"]
            for row in await inbox(resources, tenant.merchant_id)
            if row["status"] == "pending"
        ]
        if not pending:
            break
        await asyncio.gather(
            *(process_delivery(resources, tenant.merchant_id, row_id) for row_id in pending)
        )
        await asyncio.sleep(0.3)
    assert {row["status"] for row in await inbox(resources, tenant.merchant_id)} == {"done"}


async def referral_credits(resources: Resources, tenant: Tenant) -> dict[str, list[int]]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = (
            await session.execute(
                select(PointsTransaction.customer_id, PointsTransaction.points).where(
                    PointsTransaction.kind == "referral"
                )
            )
        ).all()
    credits: dict[str, list[int]] = {}
    for owner, points in rows:
        credits.setdefault(owner, []).append(points)
    return credits


async def the_referral(resources: Resources, tenant: Tenant) -> Referral:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        referral: Referral | None = await session.scalar(select(Referral))
    assert referral is not None
    return referral


async def test_signup_then_paid_order_completes_and_pays_each_side_once(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    advocate, code = await advocate_link(edge, resources, tenant)

    await deliver_copies(edge, resources, tenant, "customers/create", friends_signup(code))
    friend = await customer_id(resources, tenant, 2)
    referral = await the_referral(resources, tenant)
    assert (referral.status, referral.friend_customer_id) == ("pending", friend)
    assert referral.advocate_customer_id == advocate

    await deliver_copies(edge, resources, tenant, "orders/paid", friends_order(5001))
    now = datetime.now(UTC)
    await asyncio.gather(*(pay_due_referral_rewards(resources, now=now) for _ in range(3)))
    assert await referral_credits(resources, tenant) == {friend: [250]}
    assert (await the_referral(resources, tenant)).status == "completed"

    await asyncio.gather(*(pay_due_referral_rewards(resources, now=now + HOLD) for _ in range(3)))
    assert await referral_credits(resources, tenant) == {friend: [250], advocate: [500]}


async def test_a_cancelled_qualifying_order_cancels_the_advocates_reward(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    advocate, code = await advocate_link(edge, resources, tenant)
    await deliver_copies(edge, resources, tenant, "customers/create", friends_signup(code))
    await deliver_copies(edge, resources, tenant, "orders/paid", friends_order(6001))
    await pay_due_referral_rewards(resources, now=datetime.now(UTC))

    cancelled = {**friends_order(6001), "cancelled_at": datetime.now(UTC).isoformat()}
    await deliver_copies(edge, resources, tenant, "orders/cancelled", cancelled)
    await pay_due_referral_rewards(resources, now=datetime.now(UTC) + 2 * HOLD)

    credits = await referral_credits(resources, tenant)
    assert advocate not in credits
    assert list(credits.values()) == [[250]]


async def test_a_small_order_does_not_complete_and_a_later_one_does(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    _, code = await advocate_link(edge, resources, tenant)
    await deliver_copies(edge, resources, tenant, "customers/create", friends_signup(code))
    small = order_payload(7001, lines=[(1, 1, "9.99")], customer_id=2, email="grace@example.org")

    await deliver_copies(edge, resources, tenant, "orders/paid", small)
    assert (await the_referral(resources, tenant)).status == "pending"
    await deliver_copies(edge, resources, tenant, "orders/paid", friends_order(7002))
    referral = await the_referral(resources, tenant)

    assert (referral.status, referral.qualifying_order_id) == ("completed", "7002")
