"""customers/data_request: everything LoyalNest holds about a customer, as one JSON document
stored encrypted on the request's record for the merchant to hand over, and read back.

A data request is accepted at once (``handle_customer_data_request``: a pending record of
what was asked, the ``ExportSpec``, encrypted); the export job (``export_runs``) builds the
document with ``build_export``, which reads each of the customer's lists in pages of
``page_size`` rows, serialises each page as it goes, and keeps no more rows than one page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import (
    CUSTOMERS_EMAIL,
    CUSTOMERS_PHONE,
    GDPR_REQUESTS_EXPORT,
    GDPR_REQUESTS_EXPORT_SPEC,
    REWARD_REDEMPTIONS_CODE,
)
from db.models import Customer, GdprRequest
from subgraphs.admin.audit.repository import AuditLogRepository
from subgraphs.admin.deliveries.repository import WebhookDeliveriesRepository
from subgraphs.admin.gdpr.customer_data_repository import CustomerDataRepository, Position
from subgraphs.admin.gdpr.payloads import CustomerDataRequestPayload, parse_payload
from subgraphs.admin.gdpr.repository import GdprRequestsRepository
from subgraphs.admin.gdpr.service import (
    GdprDelivery,
    customers_of,
    decrypted,
    merchant_of_request,
    record_pending_data_request,
)

log = structlog.get_logger(__name__)

EXPORT_FORMAT = "loyalnest.gdpr_export.v1"
# Rows read per statement while building an export.
EXPORT_PAGE = 500
RowT = TypeVar("RowT")
# Told the running count of pages read: the job's progress.
PageHook = Callable[[int], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ExportSpec:
    """What a data request asked for, as received: the job builds the export from it."""

    delivery_id: str
    shop_domain: str
    shopify_customer_id: str | None
    email: str | None
    phone: str | None
    data_request_id: str | None
    orders_requested: list[str]
    customer_ids: list[str]

    def encrypted(self, cipher: FieldCipher) -> str:
        return cipher.encrypt(
            orjson.dumps(asdict(self)).decode(), context=GDPR_REQUESTS_EXPORT_SPEC
        )

    @classmethod
    def decrypted(cls, cipher: FieldCipher, token: str) -> ExportSpec:
        return cls(**orjson.loads(cipher.decrypt(token, context=GDPR_REQUESTS_EXPORT_SPEC)))


async def handle_customer_data_request(
    delivery: GdprDelivery, payload: Mapping[str, Any]
) -> GdprRequest:
    """Accept the request: a pending ``gdpr_requests`` row holding what to export (encrypted),
    which the export job turns into a completed one with the export (kept 90 days, or until
    the customer is redacted). The caller enqueues the job once this commits
    (``export_runs.enqueue_export_after_commit``); the sweeper does if that is lost."""
    session, cipher, merchant_id = delivery.session, delivery.cipher, delivery.merchant_id
    request = parse_payload(CustomerDataRequestPayload, payload)
    await merchant_of_request(session, merchant_id, request.shop_domain)
    customers = await customers_of(
        CustomerDataRepository(session, merchant_id), cipher, request.customer
    )
    spec = ExportSpec(
        delivery_id=delivery.delivery_id,
        shop_domain=request.shop_domain,
        shopify_customer_id=request.customer.id,
        email=request.customer.email,
        phone=request.customer.phone,
        data_request_id=request.data_request.id if request.data_request else None,
        orders_requested=list(request.orders_requested),
        customer_ids=[customer.id for customer in customers],
    )
    row = await record_pending_data_request(
        delivery,
        shopify_customer_id=request.customer.id,
        customer_id=customers[0].id if customers else None,
        export_spec_encrypted=spec.encrypted(cipher),
    )
    log.info("gdpr_data_request_accepted", merchant_id=merchant_id, request_id=row.id)
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


class _Pages:
    """Reads lists page by page and serialises each page at once, so no more than one page of
    rows is held; ``pages`` counts the statements, for the progress hook."""

    def __init__(self, page_size: int, on_page: PageHook | None) -> None:
        self.page_size = page_size
        self.pages = 0
        self._on_page = on_page

    async def json_list(
        self,
        fetch: Callable[[Position | None, int], Awaitable[Sequence[RowT]]],
        position: Callable[[RowT], Position],
        render: Callable[[RowT], dict[str, Any]],
        keep: Callable[[RowT], bool] = lambda _row: True,
    ) -> tuple[orjson.Fragment, int]:
        """The list as JSON (spliced into the document as it is) of the rows ``keep``
        accepts, and its length."""
        out = bytearray(b"[")
        count = 0
        after: Position | None = None
        while True:
            rows = await fetch(after, self.page_size)
            self.pages += 1
            if self._on_page is not None:
                await self._on_page(self.pages)
            for row in rows:
                if not keep(row):
                    continue
                if count:
                    out += b","
                out += orjson.dumps(render(row))
                count += 1
            if len(rows) < self.page_size:
                break
            after = position(rows[-1])
        out += b"]"
        return orjson.Fragment(bytes(out)), count


def _created(row: Any) -> Position:
    return (row.created_at, row.id)


async def _customer_export(
    repository: CustomerDataRepository, cipher: FieldCipher, customer: Customer, pages: _Pages
) -> dict[str, Any]:
    ids = [customer.id]
    tiers = await repository.tier_names([customer.vip_tier_id] if customer.vip_tier_id else [])
    ledger, _ = await pages.json_list(
        lambda after, limit: repository.ledger_of(ids, after=after, limit=limit),
        _created,
        lambda entry: {
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
        },
    )
    redemptions, _ = await pages.json_list(
        lambda after, limit: repository.redemptions_of(ids, after=after, limit=limit),
        lambda pair: _created(pair[0]),
        lambda pair: {
            "id": pair[0].id,
            "created_at": _iso(pair[0].created_at),
            "reward_id": pair[0].reward_id,
            "reward_title": pair[1],
            "status": pair[0].status,
            "points_spent": pair[0].points_spent,
            "code": decrypted(cipher, pair[0].code_encrypted, REWARD_REDEMPTIONS_CODE),
            "sandbox": pair[0].sandbox,
            "value_amount": _decimal(pair[0].value_amount),
            "currency_code": pair[0].currency_code,
            "failure": pair[0].failure,
        },
    )
    reminders, _ = await pages.json_list(
        lambda after, limit: repository.reminders_of(ids, after=after, limit=limit),
        lambda reminder: (reminder.expires_on, reminder.id),
        lambda reminder: {
            "expires_on": _iso(reminder.expires_on),
            "points": reminder.points,
            "channel": reminder.channel,
            "status": reminder.status,
            "sent_at": _iso(reminder.sent_at),
            "created_at": _iso(reminder.created_at),
        },
    )
    consents, _ = await pages.json_list(
        lambda after, limit: repository.consents_of(ids, after=after, limit=limit),
        _created,
        lambda consent: {
            "type": consent.consent_type,
            "status": consent.status,
            "source": consent.source,
            "text_version": consent.text_version,
            "at": _iso(consent.created_at),
        },
    )
    links, _ = await pages.json_list(
        lambda after, limit: repository.referral_links_of(ids, after=after, limit=limit),
        _created,
        lambda link: {
            "code": link.code,
            "clicks": link.click_count,
            "created_at": _iso(link.created_at),
        },
    )
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
        "points_ledger": ledger,
        "reward_redemptions": redemptions,
        "expiry_reminders": reminders,
        "consents": consents,
        "referral_links": links,
    }


@dataclass(frozen=True, slots=True)
class BuiltExport:
    document: bytes
    data_held: bool
    pages: int


async def build_export(
    session: AsyncSession,
    cipher: FieldCipher,
    merchant_id: str,
    request_id: str,
    spec: ExportSpec,
    *,
    now: datetime,
    page_size: int = EXPORT_PAGE,
    on_page: PageHook | None = None,
) -> BuiltExport:
    """The export document (JSON bytes) of request ``request_id`` asking ``spec``, read in
    the caller's transaction, every list in pages of ``page_size`` rows. Writes nothing."""
    shopify_id = spec.shopify_customer_id
    data = CustomerDataRepository(session, merchant_id)
    pages = _Pages(page_size, on_page)
    customers = await data.customers_by_ids(spec.customer_ids)
    profiles = [await _customer_export(data, cipher, customer, pages) for customer in customers]
    stored = [profile["email"] for profile in profiles] + [profile["phone"] for profile in profiles]
    mentions = [
        *(customer.id for customer in customers),
        *(value for value in stored if value),
        *(value for value in (spec.email, spec.phone) if value),
        *([shopify_id] if shopify_id else []),
    ]
    audit_repository = AuditLogRepository(session, merchant_id)
    audit, audit_count = await pages.json_list(
        lambda after, limit: audit_repository.entries_mentioning(
            mentions, after=after, limit=limit
        ),
        _created,
        lambda entry: {
            "id": entry.id,
            "created_at": _iso(entry.created_at),
            "action": entry.action,
            "metadata": entry.metadata_,
        },
    )
    inbox = WebhookDeliveriesRepository(session, merchant_id)

    async def deliveries_page(after: Position | None, limit: int) -> Sequence[Any]:
        if not shopify_id:
            return []
        return await inbox.deliveries_about(shopify_id, after=after, limit=limit)

    deliveries, deliveries_count = await pages.json_list(
        deliveries_page,
        _created,
        lambda received: {
            "id": received.id,
            "topic": received.topic,
            "status": received.status,
            "received_at": _iso(received.created_at),
        },
        # The request's own delivery is the request, not data held.
        keep=lambda received: received.id != spec.delivery_id,
    )
    earlier = await GdprRequestsRepository(session, merchant_id).requests_about(
        spec.customer_ids, shopify_id
    )
    earlier = [request for request in earlier if request.id != request_id]
    held = bool(customers or audit_count or deliveries_count or earlier)
    document = {
        "format": EXPORT_FORMAT,
        "generated_at": now.isoformat(),
        "shop_domain": spec.shop_domain,
        "request": {
            "shopify_customer_id": shopify_id,
            "data_request_id": spec.data_request_id,
            "orders_requested": spec.orders_requested,
        },
        "data_held": held,
        "summary": (
            "LoyalNest holds the loyalty-program data below about this customer."
            if held
            else "LoyalNest holds no data about this customer."
        ),
        "customers": profiles,
        "audit_log": audit,
        "webhook_deliveries": deliveries,
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
    return BuiltExport(orjson.dumps(document), held, pages.pages)
