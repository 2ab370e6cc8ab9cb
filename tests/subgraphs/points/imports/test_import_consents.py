"""Shopify's "Accepts Email Marketing" column, recorded as newsletter consents (source IMPORT)
through the consents service; a choice the customer made here is never overwritten."""

from __future__ import annotations

from sqlalchemy import select

from db.models import Consent, Customer, DataImportSource
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.consents.service import (
    ConsentChange,
    ConsentSource,
    ConsentStatus,
    ConsentType,
    update_consents,
)
from tests.conftest import Tenant, add_customer
from tests.subgraphs.points.imports.helpers import run

HEADER = "Customer ID,Email,Accepts Email Marketing\n"


async def _newsletter(resources: Resources, tenant: Tenant) -> dict[str, list[tuple[str, str]]]:
    """Each customer's newsletter rows (status, source), oldest first, by email."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.execute(
            select(Customer.email_encrypted, Consent.status, Consent.source)
            .join(
                Consent,
                (Consent.merchant_id == Customer.merchant_id)
                & (Consent.customer_id == Customer.id),
            )
            .where(Consent.consent_type == ConsentType.NEWSLETTER.value)
            .order_by(Consent.created_at, Consent.id)
        )
        found: dict[str, list[tuple[str, str]]] = {}
        for encrypted, status, source in rows:
            email = resources.cipher.decrypt(encrypted, context="customers.email")
            found.setdefault(email, []).append((status, source))
        return found


async def test_accepts_email_marketing_becomes_the_newsletter_consent(
    resources: Resources, tenant: Tenant
) -> None:
    chose = await add_customer(resources, tenant, email="chose@example.com")
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await update_consents(
            WriteContext(session, tenant.merchant_id),
            resources.cipher,
            chose,
            [ConsentChange(ConsentType.NEWSLETTER, ConsentStatus.GRANTED)],
            source=ConsentSource.WIDGET,
            text_version="v1",
            ip=None,
        )
    await add_customer(resources, tenant, email="existing@example.com")
    content = (
        HEADER + "'1,yes@example.com,yes\n'2,no@example.com,no\n'3,blank@example.com,\n"
        "'4,existing@example.com,yes\n'5,chose@example.com,no\n"
    ).encode()
    outcome = await run(resources, tenant, DataImportSource.SHOPIFY, content, dry_run=False)
    assert outcome.data_import.error_count == 0
    assert await _newsletter(resources, tenant) == {
        "yes@example.com": [("granted", "import")],
        "no@example.com": [("revoked", "import")],
        "existing@example.com": [("granted", "import")],
        # Their own choice, made here, outranks the export's.
        "chose@example.com": [("granted", "widget")],
    }


async def test_an_unreadable_marketing_answer_is_reported_at_its_row_and_column(
    resources: Resources, tenant: Tenant
) -> None:
    content = (HEADER + "'1,ok@example.com,yes\n'2,odd@example.com,maybe\n").encode()
    outcome = await run(resources, tenant, DataImportSource.SHOPIFY, content)
    assert [
        (entry["row"], entry["column"], entry["code"]) for entry in outcome.data_import.error_log
    ] == [(3, "Accepts Email Marketing", "invalid_marketing_consent")]
