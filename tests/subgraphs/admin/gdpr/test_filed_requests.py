"""gdprRequestCreate: requests a merchant received outside Shopify (access, erasure, CCPA
opt-out) carried out by the webhooks' own handlers, through the admin subgraph's GraphQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from db.models import Consent, GdprProfileDeletion
from db.session import tenant_unit_of_work
from subgraphs.admin.gdpr.export_runs import export_job_id
from subgraphs.admin.gdpr.profile_deletions import profile_deletion_job_id
from subgraphs.kit.jobs import notification_flows_job_id
from subgraphs.kit.resources import Resources
from tests.conftest import SubgraphClient, Tenant
from tests.ids import row_id
from tests.subgraphs.admin.gdpr.people import Person, tell_story
from tests.subgraphs.admin.gdpr.runs import customer_row, read_export, request_row, run_gdpr_jobs

CREATE = """
mutation($input: GdprRequestCreateInput!) { gdprRequestCreate(input: $input) {
  gdprRequest { id type status completedAt retentionExpiresAt }
  userErrors { field message code }
} }
"""


async def file(admin_client: SubgraphClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body = await admin_client.execute(CREATE, {"input": fields}, tenant=tenant)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["gdprRequestCreate"]
    return payload


async def test_an_access_request_exports_the_customers_data(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    person = Person.new()
    story = await tell_story(resources, tenant, person)

    payload = await file(admin_client, tenant, kind="ACCESS", email=person.email.upper())

    assert payload["userErrors"] == []
    request = payload["gdprRequest"]
    # Accepted at once; the worker's job builds the export, enqueued after the commit.
    assert (request["type"], request["status"], request["completedAt"]) == (
        "DATA_REQUEST",
        "PENDING",
        None,
    )
    job_key = f"arq:job:{export_job_id(row_id(request['id']), 0)}"
    assert await resources.redis.exists(job_key) == 1
    assert await read_export(resources, tenant, row_id(request["id"])) is None

    await run_gdpr_jobs(resources, tenant.merchant_id)

    assert (await request_row(resources, tenant, row_id(request["id"]))).status == "completed"
    export = await read_export(resources, tenant, row_id(request["id"]))
    assert export is not None
    (profile,) = export["customers"]
    assert profile["id"] == story.customer_id
    assert profile["email"] == person.email


async def test_an_erasure_redacts_and_marks_the_customer(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    person = Person.new()
    story = await tell_story(resources, tenant, person)

    payload = await file(
        admin_client, tenant, kind="ERASURE", shopifyCustomerId=str(person.shopify_id)
    )

    assert payload["gdprRequest"]["type"] == "CUSTOMER_REDACT"
    customer = await customer_row(resources, tenant, story.customer_id)
    assert customer.redacted_at is not None
    # Their provider profile's deletion is queued for the worker, after the commit.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        (deletion,) = await session.scalars(
            select(GdprProfileDeletion).where(
                GdprProfileDeletion.merchant_id == tenant.merchant_id,
                GdprProfileDeletion.customer_id == story.customer_id,
            )
        )
    assert deletion.request_id == row_id(payload["gdprRequest"]["id"])
    job_key = f"arq:job:{profile_deletion_job_id(deletion.id, 0)}"
    assert await resources.redis.exists(job_key) == 1
    await resources.redis.zrem("arq:queue", profile_deletion_job_id(deletion.id, 0))
    await resources.redis.delete(job_key)


async def test_a_ccpa_opt_out_revokes_marketing_and_rfm_tracking(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    person = Person.new()
    story = await tell_story(resources, tenant, person)

    payload = await file(admin_client, tenant, kind="CCPA_OPT_OUT", email=person.email)

    assert (payload["gdprRequest"]["type"], payload["gdprRequest"]["status"]) == (
        "CCPA_OPT_OUT",
        "COMPLETED",
    )
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = list(
            await session.scalars(
                select(Consent)
                .where(
                    Consent.merchant_id == tenant.merchant_id,
                    Consent.customer_id == story.customer_id,
                    Consent.status == "revoked",
                )
                .order_by(Consent.consent_type)
            )
        )
    assert [(row.consent_type, row.source) for row in rows] == [
        ("newsletter", "staff"),
        ("rfm_tracking", "staff"),
    ]
    customer = await customer_row(resources, tenant, story.customer_id)
    assert customer.redacted_at is None


async def test_a_request_about_nobody_is_refused(
    admin_client: SubgraphClient, tenant: Tenant
) -> None:
    payload = await file(admin_client, tenant, kind="ACCESS")

    assert payload["gdprRequest"] is None
    assert [error["code"] for error in payload["userErrors"]] == ["INVALID_PAYLOAD"]


async def test_a_filed_request_nudges_the_merchants_notification_flows_after_commit(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    person = Person.new()
    await tell_story(resources, tenant, person)
    job_id = notification_flows_job_id(tenant.merchant_id)
    job_key = f"arq:job:{job_id}"
    # The story's own ledger writes nudged the flows already: start from no queued job.
    await resources.redis.delete(job_key)
    await resources.redis.zrem("arq:queue", job_id)

    await file(admin_client, tenant, kind="CCPA_OPT_OUT", email=person.email)

    assert await resources.redis.exists(job_key) == 1
    await resources.redis.zrem("arq:queue", job_id)
    await resources.redis.delete(job_key)
