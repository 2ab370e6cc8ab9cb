"""Which messages a merchant sends, through GraphQL: all but POINTS_EARNED until they choose,
a chosen list replaces it, a type kept on keeps the moment it was switched on, the Klaviyo
profile sync is on until switched off, and expiry reminders stop when switched off."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from db.models import NotificationSettings
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.points.expiry.service import reminder_setup
from tests.conftest import SubgraphClient, Tenant
from tests.subgraphs.points.notifications.test_settings_and_templates import KEY
from tests.subgraphs.points.test_expiry import configure

FIELDS = "messageTypes klaviyoProfileSync"
SETTINGS = f"{{ notificationSettings {{ {FIELDS} }} }}"
UPDATE = f"""
mutation($input: NotificationSettingsUpdateInput!) {{ notificationSettingsUpdate(input: $input) {{
  notificationSettings {{ {FIELDS} }} userErrors {{ field message code }}
}} }}
"""
DEFAULTS = [
    "REWARD_REDEEMED",
    "TIER_UPGRADED",
    "REFERRAL_COMPLETED",
    "EXPIRY_REMINDER",
    "GDPR_DONE",
]


async def update_settings(
    points_client: SubgraphClient, tenant: Tenant, **fields: Any
) -> dict[str, Any]:
    body = await points_client.execute(UPDATE, {"input": fields}, tenant=tenant)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["notificationSettingsUpdate"]
    return payload


async def stored_types(resources: Resources, tenant: Tenant) -> dict[str, str]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        row = await session.scalar(select(NotificationSettings))
    assert isinstance(row, NotificationSettings)
    return row.message_types


async def test_message_types_default_then_follow_the_merchants_choice(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    before = await points_client.execute(SETTINGS, tenant=tenant)
    assert sorted(before["data"]["notificationSettings"]["messageTypes"]) == sorted(DEFAULTS)
    assert before["data"]["notificationSettings"]["klaviyoProfileSync"] is True

    await update_settings(points_client, tenant, provider="KLAVIYO", apiKey=KEY)
    first = await stored_types(resources, tenant)
    chosen = await update_settings(
        points_client,
        tenant,
        messageTypes=["POINTS_EARNED", "GDPR_DONE"],
        klaviyoProfileSync=False,
    )
    second = await stored_types(resources, tenant)

    settings = chosen["notificationSettings"]
    assert (chosen["userErrors"], settings["klaviyoProfileSync"]) == ([], False)
    assert sorted(settings["messageTypes"]) == ["GDPR_DONE", "POINTS_EARNED"]
    assert sorted(first) == sorted(kind.lower() for kind in DEFAULTS)
    # Kept on: the same moment; switched on now: a later one.
    assert second["gdpr_done"] == first["gdpr_done"]
    assert datetime.fromisoformat(second["points_earned"]) > datetime.fromisoformat(
        first["gdpr_done"]
    )


async def test_expiry_reminders_stop_when_switched_off(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    await configure(resources, tenant, expiry={"kind": "after_earning", "days": 30})
    await update_settings(points_client, tenant, provider="KLAVIYO", apiKey=KEY)

    async def setup_present() -> bool:
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            return await reminder_setup(session, tenant.merchant_id, resources.cipher) is not None

    assert await setup_present()
    await update_settings(points_client, tenant, messageTypes=["GDPR_DONE"])
    assert not await setup_present()
