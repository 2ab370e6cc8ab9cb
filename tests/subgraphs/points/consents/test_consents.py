"""Consents: recorded by the customer (widget) or staff, kept as history with a keyed hash of
the IP, shown on the customer, checked by marketing messages (a revoked newsletter consent
stops expiry reminders and points messages, never the GDPR notice), and exported on a data
request."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx
import respx
from sqlalchemy import select

from db.models import Consent
from db.session import tenant_unit_of_work
from gateway.edge.auth.tokens import mint_customer_token
from subgraphs.kit.resources import Resources
from subgraphs.points.notifications import sending as notifications
from subgraphs.points.notifications.message_types import MessageType
from tests.conftest import SubgraphClient, Tenant
from tests.ids import gid
from tests.subgraphs.admin.gdpr.people import Person, request_data, tell_story
from tests.subgraphs.admin.gdpr.runs import read_export
from tests.subgraphs.points.test_expiry import DAY, earn_purchase
from tests.subgraphs.points.test_expiry_reminders import (
    FAST,
    add_recipient,
    klaviyo_accepts,
    klaviyo_properties,
    notify_through,
    remind,
    requests_with,
)

UPDATE = """
mutation($input: CustomerConsentUpdateInput!) { customerConsentUpdate(input: $input) {
  consents { type status source textVersion updatedAt } userErrors { field message code }
} }
"""
CUSTOMER = "query($id: ID!) { customer(id: $id) { consents { type status source textVersion } } }"


def shopper(resources: Resources, tenant: Tenant, customer_id: str) -> dict[str, str]:
    token = mint_customer_token(
        shop_domain=tenant.shop_domain,
        customer_id=customer_id,
        secret=resources.settings.token_secret,
    )
    return {"authorization": f"Bearer {token}"}


async def change(
    points_client: SubgraphClient,
    customer_id: str,
    consents: list[tuple[str, str]],
    **kw: Any,
) -> dict[str, Any]:
    variables = {
        "input": {
            "customerId": gid("Customer", customer_id),
            "consents": [{"type": t, "status": s} for t, s in consents],
            **kw.pop("fields", {}),
        }
    }
    body = await points_client.execute(UPDATE, variables, **kw)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["customerConsentUpdate"]
    return payload


async def history(resources: Resources, tenant: Tenant, customer_id: str) -> list[Consent]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        result = await session.scalars(
            select(Consent)
            .where(Consent.merchant_id == tenant.merchant_id, Consent.customer_id == customer_id)
            .order_by(Consent.created_at, Consent.id)
        )
        return list(result)


async def test_a_customer_grants_and_revokes_in_the_widget_and_the_history_stays(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_recipient(resources, tenant)
    headers = shopper(resources, tenant, customer_id)

    granted = await change(
        points_client,
        customer_id,
        [("NEWSLETTER", "GRANTED"), ("REFERRALS", "GRANTED")],
        headers=headers,
        fields={"textVersion": "2026-01", "source": "IMPORT"},
    )
    revoked = await change(points_client, customer_id, [("NEWSLETTER", "REVOKED")], headers=headers)

    assert granted["userErrors"] == []
    # A customer token always records WIDGET, whatever it claims.
    assert {(c["type"], c["status"], c["source"]) for c in granted["consents"]} == {
        ("NEWSLETTER", "GRANTED", "WIDGET"),
        ("REFERRALS", "GRANTED", "WIDGET"),
    }
    assert {(c["type"], c["status"]) for c in revoked["consents"]} == {
        ("NEWSLETTER", "REVOKED"),
        ("REFERRALS", "GRANTED"),
    }
    shown = await points_client.execute(
        CUSTOMER, {"id": gid("Customer", customer_id)}, tenant=tenant
    )
    assert sorted((c["type"], c["status"]) for c in shown["data"]["customer"]["consents"]) == [
        ("NEWSLETTER", "REVOKED"),
        ("REFERRALS", "GRANTED"),
    ]
    rows = await history(resources, tenant, customer_id)
    assert [(row.consent_type, row.status) for row in rows] == [
        ("newsletter", "granted"),
        ("referrals", "granted"),
        ("newsletter", "revoked"),
    ] or [(row.consent_type, row.status) for row in rows] == [
        ("referrals", "granted"),
        ("newsletter", "granted"),
        ("newsletter", "revoked"),
    ]
    assert rows[0].text_version == "2026-01"
    # The IP only as a keyed hash: recognisable, not readable.
    assert all(row.ip_hash and "127.0.0.1" not in row.ip_hash for row in rows)
    assert rows[0].ip_hash == resources.cipher.blind_index("127.0.0.1", context="consents.ip")


async def test_a_customer_cannot_change_another_customers_consents(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    mine = await add_recipient(resources, tenant)
    theirs = await add_recipient(resources, tenant)

    body = await points_client.execute(
        UPDATE,
        {
            "input": {
                "customerId": gid("Customer", theirs),
                "consents": [{"type": "NEWSLETTER", "status": "REVOKED"}],
            }
        },
        headers=shopper(resources, tenant, mine),
    )

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await history(resources, tenant, theirs) == []


async def test_staff_record_a_consent_on_request_with_its_source(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_recipient(resources, tenant)

    payload = await change(
        points_client,
        customer_id,
        [("RFM_TRACKING", "REVOKED")],
        tenant=tenant,
        fields={"source": "SHOPIFY_ACCEPTS_MARKETING"},
    )

    assert [(c["type"], c["status"], c["source"]) for c in payload["consents"]] == [
        ("RFM_TRACKING", "REVOKED", "SHOPIFY_ACCEPTS_MARKETING")
    ]
    [row] = await history(resources, tenant, customer_id)
    assert row.ip_hash is None  # staff act on request: not the customer's address


async def test_a_type_twice_is_refused_and_nothing_is_recorded(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_recipient(resources, tenant)

    payload = await change(
        points_client,
        customer_id,
        [("NEWSLETTER", "GRANTED"), ("NEWSLETTER", "REVOKED")],
        tenant=tenant,
    )

    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_CONSENT"]
    assert await history(resources, tenant, customer_id) == []


async def test_a_revoked_newsletter_stops_marketing_but_not_the_gdpr_notice(
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
    t0: datetime,
) -> None:
    route = klaviyo_accepts(mock_http)
    await notify_through(resources, tenant, "klaviyo", api_key)
    declined = await add_recipient(resources, tenant)
    agreed = await add_recipient(resources, tenant)
    for customer_id in (declined, agreed):
        await earn_purchase(resources, tenant, customer_id, "10.00", at=t0)
    await change(points_client, declined, [("NEWSLETTER", "REVOKED")], tenant=tenant)
    await change(points_client, agreed, [("NEWSLETTER", "GRANTED")], tenant=tenant)

    await remind(resources, http, t0 + DAY)

    def sent_to() -> list[str]:
        return [
            request["data"]["attributes"]["profile"]["data"]["attributes"]["external_id"]
            for request in requests_with(route, api_key)
        ]

    assert sent_to() == [agreed]

    async def notify(message_type: MessageType, values: dict[str, str]) -> Any:
        return await notifications.notify_customer(
            lambda: tenant_unit_of_work(resources.sessions, tenant.merchant_id),
            tenant.merchant_id,
            resources.cipher,
            notifications.CustomerMessage(
                message_type, f"event-{message_type}-{declined}", declined, values
            ),
            now=t0 + DAY,
            http=http,
            retry=FAST,
        )

    marketing = await notify(MessageType.POINTS_EARNED, {"points": "5", "balance": "105"})
    notice = await notify(MessageType.GDPR_DONE, {"request_type": "data_request"})

    assert (marketing.status, marketing.reason) == ("skipped", "no_consent")
    assert (notice.status, notice.reason) == ("sent", None)
    assert sent_to() == [agreed, declined]
    gdpr = requests_with(route, api_key)[-1]["data"]["attributes"]
    assert gdpr["metric"]["data"]["attributes"]["name"] == "LoyalNest Privacy Request Completed"
    assert gdpr["unique_id"] == f"event-gdpr_done-{declined}"
    assert "data_request" in klaviyo_properties({"data": {"attributes": gdpr}})["body"]


async def test_the_data_request_export_includes_the_consents(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    person = Person.new()
    story = await tell_story(resources, tenant, person)
    await change(
        points_client,
        story.customer_id,
        [("NEWSLETTER", "GRANTED")],
        tenant=tenant,
        fields={"textVersion": "v3"},
    )
    await change(points_client, story.customer_id, [("NEWSLETTER", "REVOKED")], tenant=tenant)

    request = await request_data(resources, tenant, person)

    export = await read_export(resources, tenant, request.id)
    assert export is not None
    (profile,) = export["customers"]
    assert [
        (c["type"], c["status"], c["source"], c["text_version"]) for c in profile["consents"]
    ] == [
        ("newsletter", "granted", "widget", "2026-01"),  # the story's, in the widget
        ("newsletter", "granted", "staff", "v3"),
        ("newsletter", "revoked", "staff", None),
    ]
    assert "ip_hash" not in json.dumps(profile["consents"])
