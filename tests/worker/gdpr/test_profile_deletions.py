"""An erased customer's Klaviyo profile is deleted through Klaviyo's Data Privacy API, by the
worker's keyed job (respx for Klaviyo): the exact Request Profile Deletion, once per customer,
a 429 waited out, nothing for a merchant without Klaviyo, and nothing of the person left in
the database once the job has run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import respx
from sqlalchemy import select, update

from db.encryption_contexts import CUSTOMERS_EMAIL
from db.models import Customer, GdprProfileDeletion
from db.session import tenant_unit_of_work
from subgraphs.admin.gdpr.filed import FiledRequest, FiledRequestKind, file_request
from subgraphs.admin.gdpr.profile_deletions import (
    MAX_ATTEMPTS,
    enqueue_profile_deletions,
    profile_deletion_job_id,
)
from subgraphs.kit.integrations.notifications import KLAVIYO_DELETION_JOBS_URL, KLAVIYO_REVISION
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from tests.conftest import Tenant
from tests.pii_scan import find_pii
from tests.subgraphs.points.notifications.test_flows import FAST, send_through_klaviyo
from tests.subgraphs.points.test_expiry_reminders import add_recipient
from worker.gdpr.profile_deletions import run_profile_deletion


async def email_of(resources: Resources, tenant: Tenant, customer_id: str) -> str:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        customer = await session.get(Customer, (tenant.merchant_id, customer_id))
    assert customer is not None
    return resources.cipher.decrypt(customer.email_encrypted, context=CUSTOMERS_EMAIL)


async def erase(resources: Resources, tenant: Tenant, email: str) -> str:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        request = await file_request(
            WriteContext(session, tenant.merchant_id),
            resources.cipher,
            FiledRequest(FiledRequestKind.ERASURE, email, None),
        )
    return request.id


async def deletions(resources: Resources, tenant: Tenant) -> list[GdprProfileDeletion]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return list(
            await session.scalars(
                select(GdprProfileDeletion).where(
                    GdprProfileDeletion.merchant_id == tenant.merchant_id
                )
            )
        )


async def run_all(
    resources: Resources, tenant: Tenant, http: httpx.AsyncClient
) -> list[str | None]:
    return [
        await run_profile_deletion(resources, http, tenant.merchant_id, deletion.id, retry=FAST)
        for deletion in await deletions(resources, tenant)
    ]


async def erased_klaviyo_customer(resources: Resources, tenant: Tenant, api_key: str) -> str:
    """A customer of a shop sending through Klaviyo, erased; their email."""
    await send_through_klaviyo(resources, tenant, api_key)
    email = await email_of(resources, tenant, await add_recipient(resources, tenant))
    await erase(resources, tenant, email)
    return email


def deletion_requests(route: respx.Route, api_key: str) -> list[httpx.Request]:
    # Other tests' merchants share the mock: count only this test's key.
    return [
        call.request
        for call in route.calls
        if call.request.headers["authorization"] == f"Klaviyo-API-Key {api_key}"
    ]


async def test_an_erased_klaviyo_customer_has_their_profile_deleted_once(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
) -> None:
    route = mock_http.post(KLAVIYO_DELETION_JOBS_URL).mock(return_value=httpx.Response(202))
    await send_through_klaviyo(resources, tenant, api_key)
    customer_id = await add_recipient(resources, tenant)
    email = await email_of(resources, tenant, customer_id)

    request_id = await erase(resources, tenant, email)
    # The erasure is done; only the identifier the job needs is held, encrypted, until it runs.
    assert deletion_requests(route, api_key) == []
    assert {hit.table for hit in await find_pii(resources, tenant.merchant_id, [email])} == {
        "gdpr_profile_deletions"
    }
    assert await enqueue_profile_deletions(resources, tenant.merchant_id, request_id) == 1
    (pending,) = await deletions(resources, tenant)
    job_key = f"arq:job:{profile_deletion_job_id(pending.id, 0)}"
    assert await resources.redis.exists(job_key) == 1
    await resources.redis.zrem("arq:queue", profile_deletion_job_id(pending.id, 0))
    await resources.redis.delete(job_key)

    assert await run_all(resources, tenant, http) == ["requested"]
    # A duplicate erasure finds no customer any more; a second run finds nothing to do.
    await erase(resources, tenant, email)
    assert await run_all(resources, tenant, http) == [None]

    (sent,) = deletion_requests(route, api_key)
    assert sent.headers["revision"] == KLAVIYO_REVISION
    assert sent.headers["content-type"] == "application/vnd.api+json"
    assert json.loads(sent.content) == {
        "data": {
            "type": "data-privacy-deletion-job",
            "attributes": {
                "profile": {"data": {"type": "profile", "attributes": {"email": email}}}
            },
        }
    }
    (done,) = await deletions(resources, tenant)
    assert (done.status, done.identifier_encrypted, done.customer_id) == (
        "requested",
        None,
        customer_id,
    )
    assert await find_pii(resources, tenant.merchant_id, [email]) == []


async def test_a_429_from_klaviyo_is_waited_out(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
) -> None:
    route = mock_http.post(KLAVIYO_DELETION_JOBS_URL).mock(
        side_effect=[httpx.Response(429, headers={"retry-after": "0"}), httpx.Response(202)]
    )
    await erased_klaviyo_customer(resources, tenant, api_key)

    assert await run_all(resources, tenant, http) == ["requested"]
    assert len(deletion_requests(route, api_key)) == 2


async def test_klaviyo_down_is_retried_by_later_runs_then_given_up(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
) -> None:
    route = mock_http.post(KLAVIYO_DELETION_JOBS_URL).mock(return_value=httpx.Response(503))
    await erased_klaviyo_customer(resources, tenant, api_key)

    outcomes = []
    for _ in range(MAX_ATTEMPTS):
        outcomes += await run_all(resources, tenant, http)
        # Straight after a postponement the backoff holds it (after failing, nothing is left):
        # a run does nothing.
        assert await run_all(resources, tenant, http) == [None]
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            await session.execute(
                update(GdprProfileDeletion)
                .where(GdprProfileDeletion.merchant_id == tenant.merchant_id)
                .values(claimed_until=datetime.now(UTC) - timedelta(seconds=1))
            )

    assert outcomes == ["pending"] * (MAX_ATTEMPTS - 1) + ["failed"]
    assert len(deletion_requests(route, api_key)) == MAX_ATTEMPTS * FAST.attempts
    (given_up,) = await deletions(resources, tenant)
    assert (given_up.status, given_up.identifier_encrypted) == ("failed", None)
    assert given_up.last_error is not None
    assert "503" in given_up.last_error


async def test_a_merchant_without_klaviyo_sends_nothing(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
) -> None:
    route = mock_http.post(KLAVIYO_DELETION_JOBS_URL).mock(return_value=httpx.Response(202))
    customer_id = await add_recipient(resources, tenant)
    email = await email_of(resources, tenant, customer_id)
    before = route.call_count

    await erase(resources, tenant, email)

    assert await run_all(resources, tenant, http) == ["skipped"]
    assert route.call_count == before
    (skipped,) = await deletions(resources, tenant)
    assert (skipped.status, skipped.identifier_encrypted) == ("skipped", None)
    assert await find_pii(resources, tenant.merchant_id, [email]) == []
