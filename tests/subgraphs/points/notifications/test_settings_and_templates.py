"""Long because each message type, locale and channel (Klaviyo, Postscript) is pinned here.

Notification settings, templates and test sends through the points subgraph's GraphQL:
the API key written once and never read back, templates validated per message type and locale,
previews in every language, and test messages through Klaviyo and Postscript (respx)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select

from db.encryption_contexts import PROGRAM_SETTINGS_NOTIFICATION_API_KEY
from db.models import AuditLog, EmailTemplate, NotificationDelivery, ProgramSettings
from db.session import tenant_unit_of_work
from subgraphs.kit.integrations.notification_templates import MESSAGE_TEMPLATES
from subgraphs.kit.integrations.notifications import KLAVIYO_EVENTS_URL, POSTSCRIPT_MESSAGES_URL
from subgraphs.kit.resources import Resources
from tests.conftest import SubgraphClient, Tenant

SETTINGS_FIELDS = "provider apiKeySet apiKeyLast4 senderName senderEmail channels version"
SETTINGS = f"{{ notificationSettings {{ {SETTINGS_FIELDS} }} }}"
UPDATE_SETTINGS = f"""
mutation($input: NotificationSettingsUpdateInput!) {{ notificationSettingsUpdate(input: $input) {{
  notificationSettings {{ {SETTINGS_FIELDS} }} userErrors {{ field message code }}
}} }}
"""
TEMPLATES = """
query($type: NotificationMessageType) { emailTemplates(messageType: $type) {
  messageType locale subject body rtl custom
} }
"""
UPDATE_TEMPLATES = """
mutation($input: EmailTemplatesUpdateInput!) { emailTemplatesUpdate(input: $input) {
  emailTemplates { locale subject body rtl custom } userErrors { field message code }
} }
"""
PREVIEW = """
query($type: NotificationMessageType!, $locale: NotificationLocale!, $subject: String,
      $body: String) {
  emailTemplatePreview(messageType: $type, locale: $locale, subject: $subject, body: $body) {
    locale subject body rtl
  }
}
"""
TEST = """
mutation($input: NotificationTestInput!) { notificationTest(input: $input) {
  delivery { id messageType status reason provider locale eventId customerId sentAt }
  userErrors { field message code }
} }
"""
DELIVERIES = """
{ notificationDeliveries(first: 10) { nodes { id messageType status reason } } }
"""
KEY = "pk_live_1234567890abcdWXYZ"
LOCALES = ("EN", "ES", "FR", "AR", "HE")


async def update_settings(
    points_client: SubgraphClient, tenant: Tenant, **fields: Any
) -> dict[str, Any]:
    body = await points_client.execute(UPDATE_SETTINGS, {"input": fields}, tenant=tenant)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["notificationSettingsUpdate"]
    return payload


async def program_row(resources: Resources, tenant: Tenant) -> ProgramSettings | None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return await session.scalar(
            select(ProgramSettings).where(ProgramSettings.merchant_id == tenant.merchant_id)
        )


# --- settings -------------------------------------------------------------------------------


async def test_the_api_key_is_stored_encrypted_and_only_its_end_is_shown(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    before = await points_client.execute(SETTINGS, tenant=tenant)
    assert before["data"]["notificationSettings"] == {
        "provider": "NONE",
        "apiKeySet": False,
        "apiKeyLast4": None,
        "senderName": None,
        "senderEmail": None,
        "channels": ["EMAIL"],
        "version": 0,
    }

    payload = await update_settings(
        points_client,
        tenant,
        provider="KLAVIYO",
        apiKey=KEY,
        senderName="Cool Socks",
        senderEmail="Hello@CoolSocks.example",
        channels=["EMAIL", "SMS"],
    )

    assert payload["userErrors"] == []
    assert payload["notificationSettings"] == {
        "provider": "KLAVIYO",
        "apiKeySet": True,
        "apiKeyLast4": "WXYZ",
        "senderName": "Cool Socks",
        "senderEmail": "hello@coolsocks.example",
        "channels": ["EMAIL", "SMS"],
        "version": 1,
    }
    row = await program_row(resources, tenant)
    assert row is not None
    assert row.notification_api_key_encrypted is not None
    assert KEY not in row.notification_api_key_encrypted
    assert (
        resources.cipher.decrypt(
            row.notification_api_key_encrypted, context=PROGRAM_SETTINGS_NOTIFICATION_API_KEY
        )
        == KEY
    )
    assert row.config["notifications"] == "klaviyo"
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        audited = list(
            await session.scalars(
                select(AuditLog.metadata_).where(
                    AuditLog.merchant_id == tenant.merchant_id,
                    AuditLog.action == "notification_settings_updated",
                )
            )
        )
    assert audited
    assert KEY not in json.dumps(audited)


async def test_a_provider_without_a_key_is_refused_and_nothing_is_saved(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    payload = await update_settings(points_client, tenant, provider="POSTSCRIPT", senderName="Shop")

    assert payload["notificationSettings"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("API_KEY_REQUIRED", ["input", "apiKey"])
    ]
    after = await points_client.execute(SETTINGS, tenant=tenant)
    assert after["data"]["notificationSettings"]["provider"] == "NONE"
    assert after["data"]["notificationSettings"]["senderName"] is None


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        (
            {"provider": "POSTSCRIPT", "apiKey": KEY, "channels": ["EMAIL"]},
            "INVALID_NOTIFICATION_SETTINGS",
            "channels",
        ),
        ({"channels": []}, "INVALID_NOTIFICATION_SETTINGS", "channels"),
        ({"apiKey": "has a space"}, "INVALID_NOTIFICATION_SETTINGS", "apiKey"),
        ({"senderEmail": "not-an-address"}, "INVALID_NOTIFICATION_SETTINGS", "senderEmail"),
        ({"senderName": "   "}, "INVALID_NOTIFICATION_SETTINGS", "senderName"),
        ({"expectedVersion": 7, "senderName": "x"}, "VERSION_CONFLICT", "expectedVersion"),
    ],
)
async def test_invalid_settings_are_refused_with_their_field(
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    fields: dict[str, Any],
    code: str,
    field: str,
) -> None:
    payload = await update_settings(points_client, tenant, **fields)

    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, ["input", field])]
    row = await program_row(resources, tenant)
    assert row is None or row.notification_api_key_encrypted is None


async def test_postscript_sends_sms_only(points_client: SubgraphClient, tenant: Tenant) -> None:
    payload = await update_settings(points_client, tenant, provider="POSTSCRIPT", apiKey=KEY)

    assert payload["notificationSettings"]["channels"] == ["SMS"]


# --- templates ------------------------------------------------------------------------------


def five(subject: str, body: str) -> list[dict[str, str]]:
    return [{"locale": locale, "subject": subject, "body": body} for locale in LOCALES]


async def test_every_type_has_a_built_in_template_in_all_five_locales(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    body = await points_client.execute(TEMPLATES, tenant=tenant)

    templates = body["data"]["emailTemplates"]
    assert len(templates) == len(MESSAGE_TEMPLATES) * 5
    assert {(t["messageType"], t["locale"]) for t in templates} == {
        (kind.upper(), locale) for kind in MESSAGE_TEMPLATES for locale in LOCALES
    }
    assert {t["locale"] for t in templates if t["rtl"]} == {"AR", "HE"}
    assert not any(t["custom"] for t in templates)


@pytest.mark.parametrize(
    ("locale", "word", "rtl"),
    [
        ("EN", "earned", False),
        ("ES", "Ganaste", False),
        ("FR", "gagné", False),
        ("AR", "ربحت", True),
        ("HE", "צברת", True),
    ],
)
async def test_a_preview_renders_in_each_locale(
    points_client: SubgraphClient, tenant: Tenant, locale: str, word: str, rtl: bool
) -> None:
    body = await points_client.execute(
        PREVIEW, {"type": "POINTS_EARNED", "locale": locale}, tenant=tenant
    )

    preview = body["data"]["emailTemplatePreview"]
    assert preview["locale"] == locale
    assert preview["rtl"] is rtl
    assert word in preview["subject"] + preview["body"]
    assert "250" in preview["body"]
    assert "{{" not in preview["body"]
    # Right-to-left text isolates the values, so a number does not reorder the words.
    assert ("\u2068250\u2069" in preview["body"]) is rtl


async def test_a_merchant_template_replaces_the_built_in_one(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    body = await points_client.execute(
        UPDATE_TEMPLATES,
        {
            "input": {
                "messageType": "TIER_UPGRADED",
                "templates": five(
                    "{{ tier_name }}!", "Welcome to {{ tier_name }} at {{ shop_name }}"
                ),
            }
        },
        tenant=tenant,
    )

    payload = body["data"]["emailTemplatesUpdate"]
    assert payload["userErrors"] == []
    assert [t["custom"] for t in payload["emailTemplates"]] == [True] * 5
    preview = await points_client.execute(
        PREVIEW, {"type": "TIER_UPGRADED", "locale": "FR"}, tenant=tenant
    )
    assert preview["data"]["emailTemplatePreview"]["body"] == (
        "Welcome to Gold at example.myshopify.com"
    )


@pytest.mark.parametrize(
    ("subject", "body", "code"),
    [
        ("Hi", "You reached a new tier", "MISSING_PLACEHOLDER"),
        ("Hi {{ tier_name }}", "Your email is {{ email }}", "UNKNOWN_PLACEHOLDER"),
        ("Hi {{ tier_name }}", "{% for x in y %}", "INVALID_TEMPLATE"),
        ("Hi {{ tier_name }}", "{{ tier_name.__class__ }}", "INVALID_TEMPLATE"),
    ],
)
async def test_a_bad_template_is_refused_and_nothing_is_saved(
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    subject: str,
    body: str,
    code: str,
) -> None:
    templates = five("{{ tier_name }}", "Welcome to {{ tier_name }}")
    templates[3] = {"locale": "AR", "subject": subject, "body": body}

    answer = await points_client.execute(
        UPDATE_TEMPLATES,
        {"input": {"messageType": "TIER_UPGRADED", "templates": templates}},
        tenant=tenant,
    )

    [error] = answer["data"]["emailTemplatesUpdate"]["userErrors"]
    assert error["code"] == code
    assert error["field"][:3] == ["input", "templates", "3"]
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        saved = await session.scalars(
            select(EmailTemplate).where(EmailTemplate.merchant_id == tenant.merchant_id)
        )
        assert list(saved) == []


async def test_every_locale_is_required(points_client: SubgraphClient, tenant: Tenant) -> None:
    answer = await points_client.execute(
        UPDATE_TEMPLATES,
        {
            "input": {
                "messageType": "TIER_UPGRADED",
                "templates": five("{{ tier_name }}", "{{ tier_name }}")[:4],
            }
        },
        tenant=tenant,
    )

    [error] = answer["data"]["emailTemplatesUpdate"]["userErrors"]
    assert error["code"] == "MISSING_LOCALE"
    assert "he" in error["message"]


async def test_a_draft_preview_is_checked_too(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    answer = await points_client.execute(
        PREVIEW,
        {"type": "GDPR_DONE", "locale": "EN", "subject": "Done", "body": "All done"},
        tenant=tenant,
    )

    assert answer["data"] is None or answer["data"]["emailTemplatePreview"] is None
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "request_type" in answer["errors"][0]["message"]


# --- test sends -----------------------------------------------------------------------------


async def test_a_test_message_goes_through_klaviyo_and_is_logged(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    await update_settings(points_client, tenant, provider="KLAVIYO", apiKey=KEY)
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post(KLAVIYO_EVENTS_URL).mock(return_value=httpx.Response(202))
        answer = await points_client.execute(
            TEST,
            {
                "input": {
                    "messageType": "REWARD_REDEEMED",
                    "locale": "HE",
                    "email": "me@shop.example",
                }
            },
            tenant=tenant,
        )

    payload = answer["data"]["notificationTest"]
    assert payload["userErrors"] == []
    delivery = payload["delivery"]
    assert (delivery["status"], delivery["provider"], delivery["locale"]) == (
        "SENT",
        "KLAVIYO",
        "HE",
    )
    assert delivery["customerId"] is None
    assert delivery["sentAt"] is not None
    [call] = route.calls
    assert call.request.headers["authorization"] == f"Klaviyo-API-Key {KEY}"
    event = json.loads(call.request.content)["data"]["attributes"]
    assert event["unique_id"] == delivery["eventId"]
    assert event["properties"]["rtl"] is True
    assert "LOYAL-5OFF-EXAMPLE" in event["properties"]["body"]
    log = await points_client.execute(DELIVERIES, tenant=tenant)
    assert [d["id"] for d in log["data"]["notificationDeliveries"]["nodes"]] == [delivery["id"]]
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = list(
            await session.scalars(
                select(NotificationDelivery).where(
                    NotificationDelivery.merchant_id == tenant.merchant_id
                )
            )
        )
    # The test address is not kept anywhere.
    assert "me@shop.example" not in repr([vars(row) for row in rows])


async def test_a_refused_test_message_is_logged_failed_with_a_code(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    await update_settings(points_client, tenant, provider="POSTSCRIPT", apiKey=KEY)
    with respx.mock(assert_all_mocked=True) as mock:
        mock.post(POSTSCRIPT_MESSAGES_URL).mock(
            return_value=httpx.Response(400, json={"error": "+15555550100 is not valid"})
        )
        answer = await points_client.execute(
            TEST,
            {"input": {"messageType": "GDPR_DONE", "locale": "EN", "phone": "+15555550100"}},
            tenant=tenant,
        )

    delivery = answer["data"]["notificationTest"]["delivery"]
    assert (delivery["status"], delivery["reason"]) == ("FAILED", "rejected_400")


async def test_no_provider_no_test(points_client: SubgraphClient, tenant: Tenant) -> None:
    answer = await points_client.execute(
        TEST,
        {"input": {"messageType": "GDPR_DONE", "locale": "EN", "email": "me@shop.example"}},
        tenant=tenant,
    )

    [error] = answer["data"]["notificationTest"]["userErrors"]
    assert error["code"] == "NOTIFICATIONS_OFF"


async def test_a_customer_token_cannot_read_or_change_the_settings(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    answer = await points_client.execute(
        UPDATE_SETTINGS,
        {"input": {"apiKey": KEY}},
        headers={"authorization": "Bearer not-a-token"},
    )

    assert answer["errors"][0]["extensions"]["code"] in {"UNAUTHENTICATED", "FORBIDDEN"}
