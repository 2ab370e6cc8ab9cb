"""REFERRAL_COMPLETED tells the advocate of their reward once it is issued, whatever its kind
(Klaviyo and Shopify's Admin API mocked with respx): a discount reward's message carries its
code, a points reward's its points, each exactly once however often the flows run, and the
friend's reward is not a referral completed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest_asyncio
import respx

from db.session import tenant_unit_of_work
from subgraphs.kit.integrations.message_rendering import render_message, template_problems
from subgraphs.kit.integrations.notification_templates import (
    MESSAGE_TEMPLATES,
    REFERRAL_COMPLETED,
    SUPPORTED_LOCALES,
)
from subgraphs.kit.integrations.notifications import KLAVIYO_EVENTS_URL
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.consents.service import (
    ConsentChange,
    ConsentSource,
    ConsentStatus,
    ConsentType,
    update_consents,
)
from subgraphs.points.notifications.message_types import MessageType
from subgraphs.points.shopify import ShopifyConnector
from subgraphs.referrals.conversions.payouts import discount_code
from tests.conftest import Tenant
from tests.subgraphs.points.notifications.test_flows import events_sent, send_through_klaviyo
from tests.subgraphs.points.notifications.test_flows import run as run_flows
from tests.subgraphs.points.test_expiry_reminders import api_key, http
from tests.subgraphs.points.test_redemption import connect_shopify
from tests.subgraphs.referrals.test_conversions import NOW, attribute, friend, order
from tests.subgraphs.referrals.test_conversions import shop_with_advocate as referral_shop
from tests.worker.referrals.test_discount_rewards import (
    answering,
    completed_referral,
    created,
    mock_http,
    shopify,
)
from tests.worker.referrals.test_discount_rewards import rewards_of as referral_rewards
from worker.referrals.jobs import pay_due_referral_rewards

__all__ = ["api_key", "http", "mock_http", "shopify"]

METRIC = "LoyalNest Referral Completed"


@pytest_asyncio.fixture(loop_scope="session")
async def klaviyo(
    resources: Resources, tenant: Tenant, mock_http: respx.MockRouter, api_key: str
) -> respx.Route:
    """The merchant sends REFERRAL_COMPLETED through Klaviyo, which takes every event."""
    route = mock_http.post(KLAVIYO_EVENTS_URL).mock(return_value=httpx.Response(202))
    await send_through_klaviyo(resources, tenant, api_key, [MessageType.REFERRAL_COMPLETED])
    return route


async def _advocate_paid_a_discount(
    resources: Resources,
    tenant: Tenant,
    shopify: ShopifyConnector,
    mock_http: respx.MockRouter,
    *,
    before_payout: Callable[[str], Awaitable[None]] | None = None,
) -> tuple[str, str]:
    """(referral, advocate) of a referral whose rewards the worker issued as discount codes
    (the advocate's free shipping): ``before_payout`` is given the advocate first."""
    referral_id, advocate, _ = await completed_referral(resources, tenant)
    if before_payout is not None:
        await before_payout(advocate)
    url = await connect_shopify(resources, tenant)
    answering(
        mock_http,
        url,
        {
            "discountCodeBasicCreate": [created("discountCodeBasicCreate", "gid://shopify/D/1")],
            "discountCodeFreeShippingCreate": [
                created("discountCodeFreeShippingCreate", "gid://shopify/D/2")
            ],
        },
    )
    await pay_due_referral_rewards(resources, now=NOW + timedelta(days=1), shopify=shopify)
    rewards = await referral_rewards(resources, tenant, referral_id)
    assert {side: row.status for side, row in rewards.items()} == {
        "friend": "issued",
        "advocate": "issued",
    }

    return referral_id, advocate


async def test_an_advocate_paid_with_a_discount_is_told_its_code_once(
    resources: Resources,
    tenant: Tenant,
    shopify: ShopifyConnector,
    mock_http: respx.MockRouter,
    http: httpx.AsyncClient,
    api_key: str,
    klaviyo: respx.Route,
) -> None:
    referral_id, advocate = await _advocate_paid_a_discount(resources, tenant, shopify, mock_http)

    assert (await run_flows(resources, tenant, http)).sent == 1
    [event] = events_sent(klaviyo, api_key)
    assert (event["metric"], event["unique_id"]) == (METRIC, referral_id)
    assert event["profile"]["external_id"] == advocate
    code = discount_code(resources.cipher, f"referral:{referral_id}:advocate")
    assert code in event["body"]
    assert discount_code(resources.cipher, f"referral:{referral_id}:friend") not in event["body"]

    # The flows run again (a sweep, a nudge): nothing new.
    again = await run_flows(resources, tenant, http)
    assert (again.sent, again.failed) == (0, 0)
    assert len(events_sent(klaviyo, api_key)) == 1


async def test_an_advocate_paid_in_points_is_told_once_not_once_per_entry(
    resources: Resources,
    tenant: Tenant,
    shopify: ShopifyConnector,
    mock_http: respx.MockRouter,
    http: httpx.AsyncClient,
    api_key: str,
    klaviyo: respx.Route,
) -> None:
    shop = await referral_shop(
        resources,
        tenant,
        hold_hours=0,
        friend_reward={"kind": "points", "points": 100},
        advocate_reward={"kind": "points", "points": 700},
    )
    friend_id = await friend(resources, shop)
    referral = (await attribute(resources, shop, friend_id)).referral
    await order(resources, shop, friend_id, "o-1")
    # The credit writes its earn entry and the reward's issue entry: one referral, one message.
    await pay_due_referral_rewards(resources, now=NOW + timedelta(days=1), shopify=shopify)

    assert (await run_flows(resources, tenant, http)).sent == 1
    [event] = events_sent(klaviyo, api_key)
    assert (event["metric"], event["unique_id"]) == (METRIC, referral.id)
    assert event["profile"]["external_id"] == shop.advocate_id
    assert "700" in event["body"]
    assert (await run_flows(resources, tenant, http)).sent == 0
    assert len(events_sent(klaviyo, api_key)) == 1


async def test_an_advocate_without_newsletter_consent_is_not_told(
    resources: Resources,
    tenant: Tenant,
    shopify: ShopifyConnector,
    mock_http: respx.MockRouter,
    http: httpx.AsyncClient,
    api_key: str,
    klaviyo: respx.Route,
) -> None:
    async def revoke_newsletter(advocate: str) -> None:
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            await update_consents(
                WriteContext(session, tenant.merchant_id),
                resources.cipher,
                advocate,
                [ConsentChange(ConsentType.NEWSLETTER, ConsentStatus.REVOKED)],
                source=ConsentSource.WIDGET,
                text_version=None,
                ip=None,
            )

    await _advocate_paid_a_discount(
        resources, tenant, shopify, mock_http, before_payout=revoke_newsletter
    )
    summary = await run_flows(resources, tenant, http)
    assert (summary.sent, summary.skipped) == (0, 1)
    assert events_sent(klaviyo, api_key) == []


def test_the_built_in_texts_say_the_code_or_the_points_in_every_language() -> None:
    for locale in SUPPORTED_LOCALES:
        assert (
            template_problems(REFERRAL_COMPLETED, MESSAGE_TEMPLATES[REFERRAL_COMPLETED][locale])
            == []
        )
        discount = render_message(
            REFERRAL_COMPLETED,
            locale,
            {"points": "", "points_name": "Points", "code": "LNR-ABCDEFGHJKLM", "shop_name": "s"},
        )
        points = render_message(
            REFERRAL_COMPLETED,
            locale,
            {"points": "700", "points_name": "Points", "code": "", "shop_name": "s"},
        )
        # Right-to-left languages isolate each value; an empty one stays empty, so the
        # texts' choice between code and points holds there too.
        assert "LNR-ABCDEFGHJKLM" in discount.body
        assert "Points" not in discount.body + discount.subject
        assert "700" in points.body
        assert "700" in points.subject
