"""GDPR and CCPA requests a merchant received outside Shopify (by email, by phone), filed with
``gdprRequestCreate`` and carried out by the same handlers as Shopify's webhooks: an access
request is a data request (accepted, its export built by the worker), an erasure is a customer
redact, and a CCPA opt-out revokes the customer's newsletter and RFM tracking consents.
``file_request`` runs in the caller's unit of work and never commits; ``after_filing`` runs
after the commit.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import structlog

from db.crypto import FieldCipher
from db.encryption_contexts import CUSTOMERS_EMAIL
from db.ids import new_id
from db.models import GdprRequest
from subgraphs.admin.gdpr.customer_data_repository import CustomerDataRepository
from subgraphs.admin.gdpr.export import handle_customer_data_request
from subgraphs.admin.gdpr.export_runs import enqueue_export
from subgraphs.admin.gdpr.payloads import CustomerRedactPayload, parse_payload
from subgraphs.admin.gdpr.profile_deletions import enqueue_profile_deletions
from subgraphs.admin.gdpr.redaction import handle_customer_redact
from subgraphs.admin.gdpr.service import (
    GdprDelivery,
    GdprPayloadError,
    GdprRequestStatus,
    GdprRequestType,
    customers_of,
    record_completed_request,
)
from subgraphs.admin.merchants.repository import MerchantsRepository
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.jobs import job_queue, nudge_notification_flows
from subgraphs.kit.redis_calls import RedisUnavailable
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext

log = structlog.get_logger(__name__)

# What a CCPA opt-out of the sale of personal data withdraws.
OPT_OUT_CONSENTS = ("newsletter", "rfm_tracking")


class FiledRequestKind(enum.StrEnum):
    ACCESS = "access"
    ERASURE = "erasure"
    CCPA_OPT_OUT = "ccpa_opt_out"


@dataclass(frozen=True, slots=True)
class FiledRequest:
    kind: FiledRequestKind
    email: str | None
    shopify_customer_id: str | None
    orders: Sequence[str] = ()


async def file_request(
    write: WriteContext, cipher: FieldCipher, filed: FiledRequest
) -> GdprRequest:
    """Carry the request out as its webhook would be, and record who filed it."""
    session, merchant_id = write.session, write.merchant_id
    merchant = await MerchantsRepository(session).merchant_by_id(merchant_id)
    if merchant is None:
        raise GdprPayloadError("the shop is not installed", field="shop_domain")
    customer: dict[str, object] = {}
    shopify_id = filed.shopify_customer_id
    if shopify_id is None and filed.email is not None:
        # Webhooks match an email only to a customer without a Shopify account (it may be
        # someone else's record); a request the merchant verified names the person, whose
        # account the email then leads to.
        shopify_id = await CustomerDataRepository(session, merchant_id).shopify_id_by_email(
            cipher.blind_index(filed.email.strip().lower(), context=CUSTOMERS_EMAIL)
        )
    if shopify_id is not None:
        customer["id"] = shopify_id
    if filed.email is not None:
        customer["email"] = filed.email
    payload = {"shop_domain": merchant.shop_domain, "customer": customer}
    # Not a webhook: the request's own id stands where a delivery id would.
    delivery = GdprDelivery(session, cipher, merchant_id, f"filed:{new_id()}", write.now)
    if filed.kind is FiledRequestKind.ACCESS:
        row = await handle_customer_data_request(
            delivery, {**payload, "orders_requested": list(filed.orders)}
        )
    elif filed.kind is FiledRequestKind.ERASURE:
        row = await handle_customer_redact(
            delivery, {**payload, "orders_to_redact": list(filed.orders)}
        )
    else:
        row = await _opt_out(delivery, payload)
    await write.audit.record(
        AuditAction.GDPR_REQUEST_CREATED, {"request_id": row.id, "kind": filed.kind.value}
    )
    return row


async def after_filing(resources: Resources, request: GdprRequest) -> None:
    """After the commit: the worker builds an access request's export (and then tells the
    customer's flows), or deletes an erased customer's provider profile; a request carried out
    already is news for the merchant's flows now. Redis away or hung costs the reply nothing:
    the sweepers enqueue what this could not."""

    async def enqueue() -> None:
        if request.status == GdprRequestStatus.PENDING:
            await enqueue_export(job_queue(resources.redis), request.merchant_id, request.id, 0)
        elif request.request_type == GdprRequestType.CUSTOMER_REDACT:
            await enqueue_profile_deletions(resources, request.merchant_id, request.id)

    try:
        await resources.redis_calls.run("gdpr_enqueue", enqueue)
    except RedisUnavailable as error:
        log.warning("gdpr_enqueue_failed", request_id=request.id, error=str(error))
    if request.status != GdprRequestStatus.PENDING:
        await nudge_notification_flows(
            resources.redis, request.merchant_id, calls=resources.redis_calls
        )


async def _opt_out(delivery: GdprDelivery, payload: Mapping[str, object]) -> GdprRequest:
    request = parse_payload(CustomerRedactPayload, payload)
    repository = CustomerDataRepository(delivery.session, delivery.merchant_id)
    customers = await customers_of(repository, delivery.cipher, request.customer)
    customer_ids = [customer.id for customer in customers]
    revoked = await repository.revoke_consents(customer_ids, OPT_OUT_CONSENTS, delivery.now)
    return await record_completed_request(
        delivery,
        GdprRequestType.CCPA_OPT_OUT,
        shopify_customer_id=request.customer.id,
        customer_id=customer_ids[0] if customer_ids else None,
        audit_action=AuditAction.GDPR_OPTED_OUT,
        audit={"customer_ids": customer_ids, "consents_revoked": revoked},
    )
