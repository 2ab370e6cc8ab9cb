"""customers/data_request: everything LoyalNest holds about a customer, as one JSON document
stored encrypted on the request's record for the merchant to hand over, and read back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import (
    CUSTOMERS_EMAIL,
    CUSTOMERS_PHONE,
    GDPR_REQUESTS_EXPORT,
    REWARD_REDEMPTIONS_CODE,
)
from db.models import Customer, GdprRequest
from subgraphs.admin.audit.repository import AuditLogRepository
from subgraphs.admin.deliveries.repository import WebhookDeliveriesRepository
from subgraphs.admin.gdpr.customer_data_repository import CustomerDataRepository
from subgraphs.admin.gdpr.payloads import CustomerDataRequestPayload, parse_payload
from subgraphs.admin.gdpr.repository import GdprRequestsRepository
from subgraphs.admin.gdpr.service import (
    GdprDelivery,
    GdprRequestType,
    customers_of,
    decrypted,
    merchant_of_request,
    record_completed_request,
)
from subgraphs.kit.audit import AuditAction

log = structlog.get_logger(__name__)

EXPORT_FORMAT = "loyalnest.gdpr_export.v1"


async def handle_customer_data_request(
    delivery: GdprDelivery, payload: Mapping[str, Any]
) -> GdprRequest:
    """Everything held about the customer, as one JSON document stored encrypted on a
    completed ``gdpr_requests`` row (kept 90 days, or until the customer is redacted) for the
    merchant to hand over. An unknown customer gets an export that says nothing is held."""
    session, cipher, merchant_id = delivery.session, delivery.cipher, delivery.merchant_id
    request = parse_payload(CustomerDataRequestPayload, payload)
    await merchant_of_request(session, merchant_id, request.shop_domain)
    customers = await customers_of(
        CustomerDataRepository(session, merchant_id), cipher, request.customer
    )
    export = await _build_export(delivery, request, customers)
    row = await record_completed_request(
        delivery,
        GdprRequestType.DATA_REQUEST,
        shopify_customer_id=request.customer.id,
        customer_id=customers[0].id if customers else None,
        export_encrypted=cipher.encrypt(
            orjson.dumps(export).decode(), context=GDPR_REQUESTS_EXPORT
        ),
        audit_action=AuditAction.GDPR_DATA_REQUEST,
        audit={
            "customer_ids": [customer.id for customer in customers],
            "data_held": export["data_held"],
            "orders_requested": len(request.orders_requested),
        },
    )
    log.info("gdpr_data_request_exported", merchant_id=merchant_id, request_id=row.id)
    return row


async def read_export(
    session: AsyncSession, cipher: FieldCipher, merchant_id: str, request_id: str
) -> dict[str, Any] | None:
    """A data request's export, read in the merchant's tenant unit of work. None when there is
    no such request or a later redact erased its export."""
    token = await GdprRequestsRepository(session, merchant_id).export_by_id(request_id)
    if token is None:
        return None
    export: dict[str, Any] = orjson.loads(cipher.decrypt(token, context=GDPR_REQUESTS_EXPORT))
    return export


def _iso(moment: datetime | date | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _decimal(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


async def _customer_export(
    repository: CustomerDataRepository, cipher: FieldCipher, customer: Customer
) -> dict[str, Any]:
    ids = [customer.id]
    tiers = await repository.tier_names([customer.vip_tier_id] if customer.vip_tier_id else [])
    return {
        "id": customer.id,
        "shopify_customer_id": customer.shopify_customer_id,
        "email": decrypted(cipher, customer.email_encrypted, CUSTOMERS_EMAIL),
        "phone": decrypted(cipher, customer.phone_encrypted, CUSTOMERS_PHONE),
        "locale": customer.locale,
        "country_code": customer.country_code,
        "enrolled_at": _iso(customer.created_at),
        "points_balance": customer.points_balance,
        "total_points_earned": customer.total_points_earned,
        "total_spent": _decimal(customer.total_spent),
        "orders_count": customer.orders_count,
        "first_order_at": _iso(customer.first_order_at),
        "last_activity_at": _iso(customer.last_activity_at),
        "rfm": {"score": customer.rfm_score, "segment": customer.rfm_segment},
        "vip_tier": (
            {"id": customer.vip_tier_id, "name": tiers.get(customer.vip_tier_id)}
            if customer.vip_tier_id
            else None
        ),
        "points_ledger": [
            {
                "id": entry.id,
                "created_at": _iso(entry.created_at),
                "kind": entry.kind,
                "points": entry.points,
                "reason": entry.reason,
                "order_id": entry.order_id,
                "source": entry.source,
                "currency": entry.currency,
                "explanation": entry.explanation,
                "unspent_points": entry.remaining_points,
                "expires_at": _iso(entry.expires_at),
            }
            for entry in await repository.ledger_of(ids)
        ],
        "reward_redemptions": [
            {
                "id": redemption.id,
                "created_at": _iso(redemption.created_at),
                "reward_id": redemption.reward_id,
                "reward_title": title,
                "status": redemption.status,
                "points_spent": redemption.points_spent,
                "code": decrypted(cipher, redemption.code_encrypted, REWARD_REDEMPTIONS_CODE),
                "sandbox": redemption.sandbox,
                "value_amount": _decimal(redemption.value_amount),
                "currency_code": redemption.currency_code,
                "failure": redemption.failure,
            }
            for redemption, title in await repository.redemptions_of(ids)
        ],
        "expiry_reminders": [
            {
                "expires_on": _iso(reminder.expires_on),
                "points": reminder.points,
                "channel": reminder.channel,
                "status": reminder.status,
                "sent_at": _iso(reminder.sent_at),
                "created_at": _iso(reminder.created_at),
            }
            for reminder in await repository.reminders_of(ids)
        ],
        "consents": [
            {
                "type": consent.consent_type,
                "status": consent.status,
                "source": consent.source,
                "text_version": consent.text_version,
                "at": _iso(consent.created_at),
            }
            for consent in await repository.consents_of(ids)
        ],
        "referral_links": [
            {"code": link.code, "clicks": link.click_count, "created_at": _iso(link.created_at)}
            for link in await repository.referral_links_of(ids)
        ],
    }


async def _build_export(
    delivery: GdprDelivery, request: CustomerDataRequestPayload, customers: Sequence[Customer]
) -> dict[str, Any]:
    session, cipher, merchant_id = delivery.session, delivery.cipher, delivery.merchant_id
    shopify_id = request.customer.id
    customer_ids = [customer.id for customer in customers]
    data = CustomerDataRepository(session, merchant_id)
    profiles = [await _customer_export(data, cipher, customer) for customer in customers]
    stored = [profile["email"] for profile in profiles] + [profile["phone"] for profile in profiles]
    mentions = [
        *customer_ids,
        *(value for value in stored if value),
        *(value for value in (request.customer.email, request.customer.phone) if value),
        *([shopify_id] if shopify_id else []),
    ]
    audit = await AuditLogRepository(session, merchant_id).entries_mentioning(mentions)
    deliveries = [
        received
        for received in (
            await WebhookDeliveriesRepository(session, merchant_id).deliveries_about(shopify_id)
            if shopify_id
            else []
        )
        if received.id != delivery.delivery_id
    ]
    earlier = await GdprRequestsRepository(session, merchant_id).requests_about(
        customer_ids, shopify_id
    )
    held = bool(customers or audit or deliveries or earlier)
    return {
        "format": EXPORT_FORMAT,
        "generated_at": delivery.now.isoformat(),
        "shop_domain": request.shop_domain,
        "request": {
            "shopify_customer_id": shopify_id,
            "data_request_id": request.data_request.id if request.data_request else None,
            "orders_requested": list(request.orders_requested),
        },
        "data_held": held,
        "summary": (
            "LoyalNest holds the loyalty-program data below about this customer."
            if held
            else "LoyalNest holds no data about this customer."
        ),
        "customers": profiles,
        "audit_log": [
            {
                "id": entry.id,
                "created_at": _iso(entry.created_at),
                "action": entry.action,
                "metadata": entry.metadata_,
            }
            for entry in audit
        ],
        "webhook_deliveries": [
            {
                "id": delivery.id,
                "topic": delivery.topic,
                "status": delivery.status,
                "received_at": _iso(delivery.created_at),
            }
            for delivery in deliveries
        ],
        "gdpr_requests": [
            {
                "id": earlier_request.id,
                "request_type": earlier_request.request_type,
                "status": earlier_request.status,
                "created_at": _iso(earlier_request.created_at),
                "completed_at": _iso(earlier_request.completed_at),
            }
            for earlier_request in earlier
        ],
    }
