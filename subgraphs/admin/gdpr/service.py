"""GDPR requests: what Shopify's mandatory webhooks ask for, and the ``gdpr_requests`` row kept
as the record that each request was carried out.

The handlers are ``export.handle_customer_data_request`` (customers/data_request) and
``redaction.handle_customer_redact`` / ``redaction.handle_shop_redact`` (customers/redact,
shop/redact). The worker calls them inside a tenant unit of work and commits their writes
together with marking the delivery done; nothing here commits. A request that cannot be
carried out as sent raises a ``GdprError`` (retrying cannot help), whose message names the
fields at fault but never quotes their values, because those values are personal data.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import CUSTOMERS_EMAIL
from db.ids import new_id
from db.models import Customer, GdprRequest, Merchant
from subgraphs.admin.gdpr.customer_data_repository import CustomerDataRepository
from subgraphs.admin.gdpr.repository import GdprRequestsRepository, NewGdprRequest
from subgraphs.admin.merchants.repository import MerchantsRepository
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.domain import DomainError
from subgraphs.kit.repository import insert_audit_log

if TYPE_CHECKING:  # payloads raise this module's errors
    from subgraphs.admin.gdpr.payloads import GdprCustomer

# How long a request's record (and a data request's export) is kept.
RETENTION = timedelta(days=90)


class GdprRequestType(enum.StrEnum):
    """gdpr_requests.request_type (each value is its name in lower case)."""

    DATA_REQUEST = enum.auto()
    CUSTOMER_REDACT = enum.auto()
    SHOP_REDACT = enum.auto()
    CCPA_OPT_OUT = enum.auto()


class GdprRequestStatus(enum.StrEnum):
    """gdpr_requests.status."""

    PENDING = enum.auto()
    COMPLETED = enum.auto()
    FAILED = enum.auto()


class GdprErrorCode(enum.StrEnum):
    INVALID_PAYLOAD = enum.auto()
    SHOP_STILL_INSTALLED = enum.auto()
    SHOP_REDACT_INCOMPLETE = enum.auto()


class GdprError(DomainError):
    """A GDPR webhook that cannot be carried out as sent; retrying cannot help."""

    code: GdprErrorCode


class GdprPayloadError(GdprError):
    """The payload is not what Shopify sends for the topic."""

    def __init__(self, message: str, *, field: str = "payload") -> None:
        super().__init__(GdprErrorCode.INVALID_PAYLOAD, field, message)


class ShopStillInstalledError(GdprError):
    """shop/redact for a shop with no uninstall on record: erasing it would wipe a live shop."""

    def __init__(self, message: str) -> None:
        super().__init__(GdprErrorCode.SHOP_STILL_INSTALLED, "shop_domain", message)


class ShopRedactIncompleteError(GdprError):
    """Rows of the merchant survived shop/redact (a table without a cascade): rolled back."""

    def __init__(self, message: str) -> None:
        super().__init__(GdprErrorCode.SHOP_REDACT_INCOMPLETE, "shop_domain", message)


@dataclass(frozen=True, slots=True)
class GdprDelivery:
    """The GDPR webhook delivery a handler carries out: in the worker's unit of work (which
    marks the delivery done and commits), for one merchant, at one moment."""

    session: AsyncSession
    cipher: FieldCipher
    merchant_id: str
    delivery_id: str
    now: datetime


async def merchant_of_request(
    session: AsyncSession, merchant_id: str, shop_domain: str
) -> Merchant | None:
    """The delivery's merchant (None once erased). A payload for another shop than the
    delivery's is refused rather than applied here."""
    merchant = await MerchantsRepository(session).merchant_by_id(merchant_id)
    if merchant is not None and merchant.shop_domain != shop_domain:
        raise GdprPayloadError(
            "shop_domain: not the shop this delivery was received for", field="shop_domain"
        )
    return merchant


async def customers_of(
    repository: CustomerDataRepository, cipher: FieldCipher, customer: GdprCustomer
) -> list[Customer]:
    """The customer's records: by Shopify id first, then by email (see ``customers_matching``)."""
    email = customer.normalized_email
    return await repository.customers_matching(
        shopify_customer_id=customer.id,
        email_blind_index=cipher.blind_index(email, context=CUSTOMERS_EMAIL) if email else None,
    )


def decrypted(cipher: FieldCipher, token: str | None, context: str) -> str | None:
    return None if token is None else cipher.decrypt(token, context=context)


async def record_completed_request(
    delivery: GdprDelivery,
    request_type: GdprRequestType,
    *,
    shopify_customer_id: str | None,
    customer_id: str | None,
    audit_action: AuditAction,
    audit: dict[str, Any],
) -> GdprRequest:
    """The record that the request was carried out (kept for ``RETENTION``), and its audit
    entry: ``audit`` besides the request and delivery ids."""
    row = await GdprRequestsRepository(delivery.session, delivery.merchant_id).insert_request(
        NewGdprRequest(
            id=new_id(),
            request_type=request_type.value,
            status=GdprRequestStatus.COMPLETED.value,
            shopify_customer_id=shopify_customer_id,
            customer_id=customer_id,
            delivery_id=delivery.delivery_id,
            retention_expires_at=delivery.now + RETENTION,
            completed_at=delivery.now,
        )
    )
    await insert_audit_log(
        delivery.session,
        merchant_id=delivery.merchant_id,
        action=audit_action,
        metadata={"request_id": row.id, "delivery_id": delivery.delivery_id, **audit},
    )
    return row


async def record_pending_data_request(
    delivery: GdprDelivery,
    *,
    shopify_customer_id: str | None,
    customer_id: str | None,
    export_spec_encrypted: str,
) -> GdprRequest:
    """A data request accepted: pending until the export job builds its export (and audits
    it); its retention counts from now until then."""
    return await GdprRequestsRepository(delivery.session, delivery.merchant_id).insert_request(
        NewGdprRequest(
            id=new_id(),
            request_type=GdprRequestType.DATA_REQUEST.value,
            status=GdprRequestStatus.PENDING.value,
            shopify_customer_id=shopify_customer_id,
            customer_id=customer_id,
            delivery_id=delivery.delivery_id,
            retention_expires_at=delivery.now + RETENTION,
            export_spec_encrypted=export_spec_encrypted,
        )
    )


async def purge_expired_requests(session: AsyncSession, merchant_id: str, now: datetime) -> int:
    """Delete the merchant's requests past ``RETENTION`` (their exports with them), in the
    caller's transaction, and record how many in the audit trail."""
    deleted = await GdprRequestsRepository(session, merchant_id).delete_expired(now)
    if deleted:
        await insert_audit_log(
            session,
            merchant_id=merchant_id,
            action=AuditAction.GDPR_RETENTION_PURGED,
            metadata={"requests": deleted, "before": now.isoformat()},
        )
    return deleted
