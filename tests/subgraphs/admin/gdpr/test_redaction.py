"""customers/redact and shop/redact on real Postgres: customers/redact leaves none of the
customer's personal data in any table (found by scanning every table, decrypting every
encrypted value) while the ledger still adds up; shop/redact leaves no row of the shop but the
delivery being processed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from db.ids import new_id
from db.models import Consent
from db.session import tenant_unit_of_work
from subgraphs.admin.gdpr import redaction
from subgraphs.admin.gdpr.service import (
    GdprErrorCode,
    GdprPayloadError,
    ShopStillInstalledError,
)
from subgraphs.admin.merchants.service import record_uninstall
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.domain import DomainError
from subgraphs.kit.repository import insert_audit_log
from subgraphs.kit.resources import Resources
from subgraphs.points.customers.service import register_customer
from subgraphs.points.orders.reversal import ReverseCommand, reverse_order
from tests.conftest import Tenant, add_customer
from tests.pii_scan import UNREADABLE, find_pii, rows_of_merchant
from tests.subgraphs.admin.gdpr.people import (
    SHARED_WITH,
    Person,
    redact,
    request_data,
    tell_story,
)
from tests.subgraphs.admin.gdpr.runs import (
    Handler,
    customer_redact,
    customer_row,
    data_request,
    deliveries,
    everything_of,
    ledger_rows,
    places,
    process,
    read_export,
    receive,
    requests,
    shop_redact,
)


async def test_redacting_a_customer_leaves_none_of_their_data_in_any_table(
    resources: Resources, tenant: Tenant
) -> None:
    person = Person.new()
    story = await tell_story(resources, tenant, person)
    other = await add_customer(resources, tenant, points=250)
    other_before = await everything_of(resources, tenant, other)
    earlier = await request_data(resources, tenant, person)
    unrelated = await receive(
        resources, tenant, "orders/paid", Person.new().order_payload("79"), "4242"
    )
    ledger_before = await ledger_rows(resources, tenant, story.customer_id)
    balance_before = (await customer_row(resources, tenant, story.customer_id)).points_balance
    # The address the customer shared their link with is theirs to erase too.
    needles = [*person.needles, story.code, story.referral_code, SHARED_WITH]

    # The scan sees the customer everywhere the story put them: a clean scan afterwards
    # means something.
    before = await find_pii(resources, tenant.merchant_id, needles)
    assert places(before) >= {
        ("customers", "email_encrypted"),
        ("customers", "phone_encrypted"),
        ("customers", "shopify_customer_id"),
        ("points_transactions", "reason"),
        ("points_transactions", "explanation"),
        ("points_transactions", "idempotency_key"),
        ("reward_redemptions", "code_encrypted"),
        ("expiry_reminders", "error"),
        ("referral_links", "code"),
        ("referral_shares", "body"),
        ("referral_shares", "recipient_encrypted"),
        ("audit_logs", "metadata"),
        ("api_logs", "payload_encrypted"),
        ("api_logs", "last_error"),
        ("api_logs", "shopify_customer_id"),
        ("gdpr_requests", "export_encrypted"),
        ("gdpr_requests", "shopify_customer_id"),
    }

    request = await redact(resources, tenant, person, [story.order_id])

    assert await find_pii(resources, tenant.merchant_id, needles) == []
    # The accounting is intact: the same entries, amounts, kinds, dates and orders.
    assert await ledger_rows(resources, tenant, story.customer_id) == ledger_before
    customer = await customer_row(resources, tenant, story.customer_id)
    assert customer.points_balance == balance_before == sum(p for _, _, p, _, _ in ledger_before)
    assert (customer.shopify_customer_id, customer.phone_encrypted, customer.country_code) == (
        None,
        None,
        None,
    )
    assert resources.cipher.decrypt(customer.email_encrypted, context="customers.email") == (
        redaction.REDACTED_EMAIL
    )
    assert await everything_of(resources, tenant, other) == other_before
    # The consent history goes too: its IP hashes tie it to the person.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        consents = await session.scalars(
            select(Consent).where(
                Consent.merchant_id == tenant.merchant_id,
                Consent.customer_id == story.customer_id,
            )
        )
        assert list(consents) == []

    inbox_rows = await deliveries(resources, tenant)
    for delivery in (story.pending_delivery, story.failed_delivery, story.guest_delivery):
        row = inbox_rows[delivery]
        assert (row.status, row.last_error, row.payload_encrypted) == ("failed", "redacted", None)
    assert inbox_rows[story.done_delivery].status == "done"
    assert inbox_rows[unrelated].status == "pending"
    assert inbox_rows[unrelated].payload_encrypted is not None
    assert request.delivery_id is not None
    assert inbox_rows[request.delivery_id].status == "done"

    assert await read_export(resources, tenant, earlier.id) is None
    recorded = (await requests(resources, tenant))[request.id]
    assert (recorded.request_type, recorded.status) == ("customer_redact", "completed")
    assert (recorded.customer_id, recorded.shopify_customer_id) == (story.customer_id, None)

    # Twice is fine: nothing is left to find, and the record says so.
    again = await redact(resources, tenant, person, [story.order_id])
    assert (again.status, again.customer_id) == ("completed", None)
    assert await find_pii(resources, tenant.merchant_id, needles) == []

    # The redacted record still works as a ledger: a later refund of the order is reversed
    # from the per-line figures its explanation kept.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        reversal = await reverse_order(
            session,
            tenant.merchant_id,
            ReverseCommand(story.order_id, f"refund:{story.order_id}"),
            now=datetime.now(UTC),
        )
    earned = next(p for _, kind, p, _, order in ledger_before if order == story.order_id)
    assert reversal.transaction.points == -earned
    # And the email is free for whoever owns it now.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await register_customer(session, tenant.merchant_id, resources.cipher, email=person.email)


async def test_a_customer_known_only_by_email_is_found_and_redacted(
    resources: Resources, tenant: Tenant
) -> None:
    person = Person.new()
    customer_id = await add_customer(resources, tenant, email=person.email, points=40)

    request = await redact(resources, tenant, person, [])

    assert request.customer_id == customer_id
    assert await find_pii(resources, tenant.merchant_id, person.needles) == []
    assert (await customer_row(resources, tenant, customer_id)).points_balance == 40


# --- shop/redact -----------------------------------------------------------------------------


async def test_shop_redact_leaves_no_row_of_the_shop_but_the_delivery(
    resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    person = Person.new()
    await tell_story(resources, tenant, person)
    await request_data(resources, tenant, person)
    await tell_story(resources, other_tenant, Person.new())
    other_before = await rows_of_merchant(resources, other_tenant.merchant_id)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await record_uninstall(session, tenant.merchant_id, now=datetime.now(UTC))
    payload = {"shop_id": 1, "shop_domain": tenant.shop_domain}
    delivery = await receive(resources, tenant, "shop/redact", payload, None)

    await process(resources, tenant, delivery, shop_redact(resources))

    assert await rows_of_merchant(resources, tenant.merchant_id) == {"api_logs": 1}
    (row,) = (await deliveries(resources, tenant)).values()
    assert (row.id, row.status, row.payload_encrypted) == (delivery, "done", None)
    assert await find_pii(resources, tenant.merchant_id, person.needles) == []
    assert await rows_of_merchant(resources, other_tenant.merchant_id) == other_before


async def test_shop_redact_refuses_a_shop_that_is_installed_or_another_shop(
    resources: Resources, tenant: Tenant
) -> None:
    await add_customer(resources, tenant, points=10)
    before = await rows_of_merchant(resources, tenant.merchant_id)

    with pytest.raises(ShopStillInstalledError):
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            await shop_redact(resources)(
                session,
                tenant.merchant_id,
                {"shop_id": 1, "shop_domain": tenant.shop_domain},
                new_id(),
                datetime.now(UTC),
            )
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await record_uninstall(session, tenant.merchant_id, now=datetime.now(UTC))
    with pytest.raises(GdprPayloadError, match="shop_domain"):
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            await shop_redact(resources)(
                session,
                tenant.merchant_id,
                {"shop_id": 1, "shop_domain": "someone-else.myshopify.com"},
                new_id(),
                datetime.now(UTC),
            )

    after = await rows_of_merchant(resources, tenant.merchant_id)
    assert after["customers"] == before["customers"] == 1


# --- payloads ----------------------------------------------------------------------------------


async def test_malformed_payloads_are_refused_without_quoting_them(
    resources: Resources, tenant: Tenant
) -> None:
    secret = "jane.private@example.com"
    customer = {"id": 5, "email": secret}
    cases: list[tuple[Handler, dict[str, Any], str]] = [
        (data_request(resources), {"customer": customer}, "shop_domain"),
        (data_request(resources), {"shop_domain": tenant.shop_domain}, "customer"),
        (
            customer_redact(resources),
            {"shop_domain": tenant.shop_domain, "customer": {"id": secret}},
            "customer.id",
        ),
        (
            customer_redact(resources),
            {"shop_domain": tenant.shop_domain, "customer": {"phone": secret}},
            "customer",
        ),
        (
            customer_redact(resources),
            {"shop_domain": tenant.shop_domain, "customer": customer, "orders_to_redact": [secret]},
            "orders_to_redact.0",
        ),
        (shop_redact(resources), {"shop_id": 1, "shop_domain": ""}, "shop_domain"),
    ]
    for handler, payload, field in cases:
        with pytest.raises(GdprPayloadError) as raised:
            async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
                await handler(session, tenant.merchant_id, payload, new_id(), datetime.now(UTC))
        assert field in str(raised.value)
        assert secret not in str(raised.value)
        # An expected failure: the worker gives up at once instead of retrying.
        assert isinstance(raised.value, DomainError)
        assert raised.value.code is GdprErrorCode.INVALID_PAYLOAD


async def test_the_scan_reports_what_it_cannot_decrypt(
    resources: Resources, tenant: Tenant
) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await insert_audit_log(
            session,
            merchant_id=tenant.merchant_id,
            action=AuditAction.REFERRAL_CREATED,
            metadata={"blob": resources.cipher.encrypt("x", context="nobody.knows")},
        )

    hits = await find_pii(resources, tenant.merchant_id, ["never-there"])

    assert [(hit.table, hit.snippet) for hit in hits] == [("audit_logs", UNREADABLE)]
