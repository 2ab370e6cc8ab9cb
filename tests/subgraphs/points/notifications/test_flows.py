"""Messages sent when their event happens, read from what the event committed: points earned,
a reward redeemed, a tier reached, a referral paid; once per event (the event's id is
Klaviyo's unique_id, the same after a crash), retried with backoff, only the message types
the merchant sends and only events from after they switched one on (respx for Klaviyo)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import respx
from sqlalchemy import delete, select

from db.models import NotificationCursor, NotificationDelivery
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.kit.integrations.http_retries import RetryPolicy
from subgraphs.kit.integrations.notifications import KLAVIYO_EVENTS_URL
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.ledger.service import AdjustCommand, PointsChange, adjust, credit_referral
from subgraphs.points.notifications.events import POINTS_FLOWS
from subgraphs.points.notifications.flows import FlowsSummary, run_flows
from subgraphs.points.notifications.message_types import DEFAULT_MESSAGE_TYPES, MessageType
from subgraphs.points.notifications.service import (
    SettingsChanges,
    notification_settings,
    update_notification_settings,
)
from subgraphs.points.program.service import NotificationProvider
from subgraphs.points.rewards.discounts import IssuedDiscount
from subgraphs.points.rewards.redemption import (
    RedeemCommand,
    begin_redemption,
    mark_issued,
    redeem_reward,
    redemption_code,
)
from subgraphs.points.shopify import ShopifyConnector
from subgraphs.points.tiers.rules import TierRules
from subgraphs.points.tiers.service import TierDraft, create_tier
from tests.conftest import StatementCounter, Tenant
from tests.subgraphs.points.test_expiry import earn_purchase
from tests.subgraphs.points.test_expiry_reminders import add_recipient
from tests.subgraphs.points.test_redemption import new_reward

FAST = RetryPolicy(base_delay=0.001)


async def send_through_klaviyo(
    resources: Resources,
    tenant: Tenant,
    api_key: str,
    message_types: Sequence[MessageType] | None = None,
    *,
    provider: NotificationProvider = NotificationProvider.KLAVIYO,
) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await update_notification_settings(
            WriteContext(session, tenant.merchant_id),
            resources.cipher,
            SettingsChanges(provider=provider, api_key=api_key, message_types=message_types),
        )


async def run(
    resources: Resources, tenant: Tenant, http: httpx.AsyncClient, *, later: timedelta = timedelta()
) -> FlowsSummary:
    return await run_flows(
        lambda: tenant_unit_of_work(resources.sessions, tenant.merchant_id),
        tenant.merchant_id,
        resources.cipher,
        POINTS_FLOWS,
        now=datetime.now(UTC) + later,
        http=http,
        retry=FAST,
    )


def events_sent(route: respx.Route, api_key: str) -> list[dict[str, Any]]:
    """The Klaviyo events this test's merchant sent: (metric, unique_id, properties)."""
    sent = []
    for call in route.calls:
        if api_key not in call.request.headers.get("authorization", ""):
            continue
        attributes = json.loads(call.request.content)["data"]["attributes"]
        sent.append(
            {
                "metric": attributes["metric"]["data"]["attributes"]["name"],
                "unique_id": attributes["unique_id"],
                "profile": attributes["profile"]["data"]["attributes"],
                **attributes["properties"],
            }
        )
    return sent


async def deliveries(resources: Resources, tenant: Tenant) -> list[NotificationDelivery]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        result = await session.scalars(
            select(NotificationDelivery).order_by(NotificationDelivery.created_at)
        )
        return list(result)


async def test_points_earned_is_sent_once_keyed_by_its_ledger_entry(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
) -> None:
    route = mock_http.post(KLAVIYO_EVENTS_URL).mock(return_value=httpx.Response(202))
    await send_through_klaviyo(resources, tenant, api_key, [MessageType.POINTS_EARNED])
    customer_id = await add_recipient(resources, tenant, locale="fr")
    entry = await earn_purchase(resources, tenant, customer_id, "12.00", at=datetime.now(UTC))

    first = await run(resources, tenant, http)
    again = await run(resources, tenant, http)

    [event] = events_sent(route, api_key)
    assert (event["metric"], event["unique_id"]) == (
        "LoyalNest Points Earned",
        entry.transaction.id,
    )
    assert event["profile"]["external_id"] == customer_id
    assert event["locale"] == "fr"
    assert f"{entry.transaction.points} " in event["body"]
    assert f"{entry.balance}" in event["body"]
    assert (first.sent, again.sent) == (1, 0)
    [logged] = await deliveries(resources, tenant)
    assert (logged.message_type, logged.event_id, logged.status) == (
        "points_earned",
        entry.transaction.id,
        "sent",
    )


async def test_a_send_lost_in_a_crash_is_sent_again_with_the_same_dedupe_key(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
) -> None:
    route = mock_http.post(KLAVIYO_EVENTS_URL).mock(return_value=httpx.Response(202))
    await send_through_klaviyo(resources, tenant, api_key, [MessageType.POINTS_EARNED])
    customer_id = await add_recipient(resources, tenant)
    entry = await earn_purchase(resources, tenant, customer_id, "5.00", at=datetime.now(UTC))
    await run(resources, tenant, http)
    # The worker died after Klaviyo took the event and before its outcome and cursor
    # committed: nothing of the run is left in Postgres.
    async with system_unit_of_work(resources.sessions) as session:
        for model in (NotificationDelivery, NotificationCursor):
            await session.execute(delete(model).where(model.merchant_id == tenant.merchant_id))

    await run(resources, tenant, http)

    sent = events_sent(route, api_key)
    assert [event["unique_id"] for event in sent] == [entry.transaction.id] * 2


async def test_an_unavailable_klaviyo_is_retried_after_a_backoff_then_given_up(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
) -> None:
    route = mock_http.post(KLAVIYO_EVENTS_URL).mock(
        side_effect=[httpx.Response(503)] * 3
        + [httpx.Response(429, headers={"retry-after": "0"}), httpx.Response(202)]
    )
    await send_through_klaviyo(resources, tenant, api_key, [MessageType.POINTS_EARNED])
    customer_id = await add_recipient(resources, tenant)
    entry = await earn_purchase(resources, tenant, customer_id, "5.00", at=datetime.now(UTC))

    failed = await run(resources, tenant, http)
    too_soon = await run(resources, tenant, http)
    retried = await run(resources, tenant, http, later=timedelta(minutes=2))

    assert (failed.failed, too_soon.waiting, retried.sent) == (1, 1, 1)
    # Three HTTP attempts in the first run (all 503), two in the retry (a 429, then taken).
    assert {event["unique_id"] for event in events_sent(route, api_key)} == {entry.transaction.id}
    assert route.call_count == 5
    [logged] = await deliveries(resources, tenant)
    assert (logged.status, logged.attempts) == ("sent", 2)


async def test_a_klaviyo_down_through_every_try_is_given_up_and_the_cursor_moves_on(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
) -> None:
    route = mock_http.post(KLAVIYO_EVENTS_URL).mock(return_value=httpx.Response(502))
    await send_through_klaviyo(resources, tenant, api_key, [MessageType.POINTS_EARNED])
    customer_id = await add_recipient(resources, tenant)
    await earn_purchase(resources, tenant, customer_id, "5.00", at=datetime.now(UTC))

    for minutes in (0, 2, 5, 10):
        await run(resources, tenant, http, later=timedelta(minutes=minutes))

    [logged] = await deliveries(resources, tenant)
    assert (logged.status, logged.reason, logged.attempts) == ("failed", "unavailable", 3)
    assert route.call_count == 9  # three tries of three HTTP attempts, then no more
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        cursor = await session.scalar(select(NotificationCursor.position))
    assert cursor is not None
    assert cursor > logged.created_at


async def test_adjustments_referral_credits_and_empty_earns_are_not_points_earned(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
) -> None:
    route = mock_http.post(KLAVIYO_EVENTS_URL).mock(return_value=httpx.Response(202))
    await send_through_klaviyo(
        resources, tenant, api_key, [MessageType.POINTS_EARNED, MessageType.REFERRAL_COMPLETED]
    )
    advocate = await add_recipient(resources, tenant)
    friend = await add_recipient(resources, tenant)
    referral_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await adjust(
            session,
            tenant.merchant_id,
            AdjustCommand(advocate, 40, "goodwill", f"adjust:{uuid.uuid4()}"),
            now=now,
        )
        await credit_referral(
            session,
            tenant.merchant_id,
            PointsChange(advocate, 500, "referral", f"referral:{referral_id}:advocate"),
            now=now,
        )
        await credit_referral(
            session,
            tenant.merchant_id,
            PointsChange(friend, 100, "referral", f"referral:{referral_id}:friend"),
            now=now,
        )

    nothing = await earn_purchase(resources, tenant, friend, "0.00", at=now)
    assert nothing.transaction.points == 0

    summary = await run(resources, tenant, http)

    [event] = events_sent(route, api_key)
    assert (event["metric"], event["unique_id"]) == ("LoyalNest Referral Completed", referral_id)
    assert event["profile"]["external_id"] == advocate
    assert "500" in event["body"]
    assert summary.sent == 1


async def test_a_type_switched_on_sends_no_backlog_and_a_type_off_sends_nothing(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
) -> None:
    route = mock_http.post(KLAVIYO_EVENTS_URL).mock(return_value=httpx.Response(202))
    await send_through_klaviyo(resources, tenant, api_key)  # the defaults: no POINTS_EARNED
    customer_id = await add_recipient(resources, tenant)
    await earn_purchase(resources, tenant, customer_id, "5.00", at=datetime.now(UTC))
    await run(resources, tenant, http)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        view = await notification_settings(session, tenant.merchant_id, resources.cipher)
    assert set(view.message_types) == DEFAULT_MESSAGE_TYPES
    assert MessageType.POINTS_EARNED not in view.message_types

    await send_through_klaviyo(resources, tenant, api_key, [MessageType.POINTS_EARNED])
    await run(resources, tenant, http)
    assert events_sent(route, api_key) == []

    later = await earn_purchase(resources, tenant, customer_id, "7.00", at=datetime.now(UTC))
    await run(resources, tenant, http)
    assert [event["unique_id"] for event in events_sent(route, api_key)] == [later.transaction.id]


async def test_a_redeemed_reward_sends_its_code(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
) -> None:
    route = mock_http.post(KLAVIYO_EVENTS_URL).mock(return_value=httpx.Response(202))
    await send_through_klaviyo(resources, tenant, api_key, [MessageType.REWARD_REDEEMED])
    customer_id = await add_recipient(resources, tenant)
    await earn_purchase(resources, tenant, customer_id, "30.00", at=datetime.now(UTC))
    reward_id = await new_reward(resources, tenant, title="Free tote")
    outcome = await redeem_reward(
        resources,
        ShopifyConnector.for_process(resources),
        tenant.merchant_id,
        RedeemCommand(customer_id, reward_id, f"redeem:{uuid.uuid4()}"),
    )

    await run(resources, tenant, http)

    [event] = events_sent(route, api_key)
    assert (event["metric"], event["unique_id"]) == (
        "LoyalNest Reward Redeemed",
        outcome.redemption.id,
    )
    assert "Free tote" in event["subject"] + event["body"]
    assert redemption_code(outcome.redemption, resources.cipher) in event["body"]


async def test_a_redemption_waits_for_its_code_before_it_is_told(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
) -> None:
    route = mock_http.post(KLAVIYO_EVENTS_URL).mock(return_value=httpx.Response(202))
    await send_through_klaviyo(resources, tenant, api_key, [MessageType.REWARD_REDEEMED])
    customer_id = await add_recipient(resources, tenant)
    await earn_purchase(resources, tenant, customer_id, "30.00", at=datetime.now(UTC))
    reward_id = await new_reward(resources, tenant)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        started = await begin_redemption(
            session,
            tenant.merchant_id,
            RedeemCommand(customer_id, reward_id, f"redeem:{uuid.uuid4()}"),
            resources.cipher,
            now=datetime.now(UTC),
        )

    pending = await run(resources, tenant, http)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await mark_issued(session, tenant.merchant_id, started.redemption.id, IssuedDiscount(None))
    issued = await run(resources, tenant, http)

    assert (pending.waiting, pending.sent, issued.sent) == (1, 0, 1)
    [event] = events_sent(route, api_key)
    assert event["unique_id"] == started.redemption.id


async def test_a_tier_reached_by_earning_is_told_and_one_given_by_a_new_tier_is_not(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
) -> None:
    route = mock_http.post(KLAVIYO_EVENTS_URL).mock(return_value=httpx.Response(202))
    await send_through_klaviyo(resources, tenant, api_key, [MessageType.TIER_UPGRADED])
    already_there = await add_recipient(resources, tenant)
    await earn_purchase(resources, tenant, already_there, "20.00", at=datetime.now(UTC))
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        # Creating the tier moves the customer who already qualifies: the merchant's doing.
        await create_tier(
            WriteContext(session, tenant.merchant_id),
            TierDraft(
                names=[("en", "Gold"), ("es", "Oro")],
                rank=1,
                rules=TierRules(min_points_earned=100),
            ),
            idempotency_key=f"tier:{uuid.uuid4()}",
        )
    earner = await add_recipient(resources, tenant, locale="es")
    await earn_purchase(resources, tenant, earner, "20.00", at=datetime.now(UTC))

    await run(resources, tenant, http)

    [event] = events_sent(route, api_key)
    assert event["metric"] == "LoyalNest Tier Upgraded"
    assert event["profile"]["external_id"] == earner
    assert "Oro" in event["subject"] + event["body"]


async def test_the_award_path_runs_no_extra_statement_with_every_flow_on(
    resources: Resources, tenant: Tenant, other_tenant: Tenant, count_statements: StatementCounter
) -> None:
    await send_through_klaviyo(resources, tenant, f"key_{uuid.uuid4().hex}", list(MessageType))
    notified = await add_recipient(resources, tenant)
    quiet = await add_recipient(resources, other_tenant)  # a shop that sends nothing

    async def statements_of_an_award(shop: Tenant, customer_id: str) -> int:
        before = count_statements.count
        await earn_purchase(resources, shop, customer_id, "5.00", at=datetime.now(UTC))
        return count_statements.count - before

    # The customer locked with the key's replay, the program, the campaigns, the entry with
    # its projection and audit (one statement), the tiers: nothing for the flows, which read
    # the audit entry later.
    assert await statements_of_an_award(tenant, notified) == 5
    assert await statements_of_an_award(other_tenant, quiet) == 5
