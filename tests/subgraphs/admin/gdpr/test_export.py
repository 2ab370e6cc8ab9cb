"""customers/data_request on real Postgres: the export holds everything held about the
customer, and says so when nothing is."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from db.models import AuditLog
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant, add_customer
from tests.subgraphs.admin.gdpr.people import Person, request_data, tell_story
from tests.subgraphs.admin.gdpr.runs import (
    ledger_rows,
    read_export,
)


async def test_a_data_request_exports_everything_held_about_the_customer(
    resources: Resources, tenant: Tenant
) -> None:
    person = Person.new()
    story = await tell_story(resources, tenant, person)
    held_ledger = await ledger_rows(resources, tenant, story.customer_id)

    request = await request_data(resources, tenant, person)

    assert (request.request_type, request.status) == ("data_request", "completed")
    assert request.customer_id == story.customer_id
    assert request.shopify_customer_id == person.shopify_id
    assert request.completed_at is not None
    assert request.retention_expires_at - request.completed_at == timedelta(days=90)
    export = await read_export(resources, tenant, request.id)
    assert export is not None
    assert export["data_held"] is True
    (profile,) = export["customers"]
    assert (profile["email"], profile["phone"]) == (person.email, person.phone)
    assert (profile["country_code"], profile["locale"]) == ("GB", "en")
    assert profile["points_balance"] == sum(points for _, _, points, _, _ in held_ledger)
    assert [
        (entry["id"], entry["kind"], entry["points"]) for entry in profile["points_ledger"]
    ] == [(row_id, kind, points) for row_id, kind, points, _, _ in held_ledger]
    goodwill = next(entry for entry in profile["points_ledger"] if entry["kind"] == "adjust")
    assert person.email in goodwill["reason"]
    assert goodwill["explanation"]["trace"][0]["rule"] == "manual_adjustment"
    (redemption,) = profile["reward_redemptions"]
    assert (redemption["code"], redemption["reward_title"]) == (story.code, "$5 off")
    assert [reminder["channel"] for reminder in profile["expiry_reminders"]] == ["klaviyo"]
    assert [link["code"] for link in profile["referral_links"]] == [story.referral_code]
    actions = {entry["action"] for entry in export["audit_log"]}
    assert {
        "tier_assigned",
        "expiry_notification_failed",
        "points_adjusted",
        "referral_created",
    } <= actions
    assert {delivery["id"] for delivery in export["webhook_deliveries"]} == {
        story.pending_delivery,
        story.failed_delivery,
        story.done_delivery,
    }
    assert export["request"]["orders_requested"] == ["299938"]
    json.dumps(export)  # JSON all the way down

    # The audit trail says whom the request was for, not who they are.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        (metadata,) = await session.scalars(
            select(AuditLog.metadata_).where(
                AuditLog.merchant_id == tenant.merchant_id, AuditLog.action == "gdpr_data_request"
            )
        )
    assert metadata["request_id"] == request.id
    assert metadata["customer_ids"] == [story.customer_id]
    text = json.dumps(metadata).lower()
    assert not [needle for needle in [*person.needles, story.code] if needle.lower() in text]


async def test_a_data_request_about_an_unknown_customer_says_nothing_is_held(
    resources: Resources, tenant: Tenant
) -> None:
    await add_customer(resources, tenant, points=10)
    stranger = Person.new()

    request = await request_data(resources, tenant, stranger)

    assert (request.status, request.customer_id) == ("completed", None)
    export = await read_export(resources, tenant, request.id)
    assert export["data_held"] is False
    assert export["customers"] == []
    assert export["audit_log"] == []
    assert export["webhook_deliveries"] == []
    assert "no data" in export["summary"]
