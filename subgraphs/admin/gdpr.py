"""GDPR: Shopify's mandatory webhooks (customers/data_request, customers/redact, shop/redact).

The worker calls these inside a tenant unit of work and commits their writes together with
marking the delivery done; nothing here commits. A malformed payload raises
``GdprPayloadError`` (a ValueError: retrying cannot help) whose message names the fields at
fault but never quotes their values, because those values are personal data.

Erasure keeps what the merchant's accounting needs (the ledger's points, kinds, dates and
orders, the balance projection, derived RFM analytics) and removes or replaces everything
that identifies the person or may quote them (free text). See ``handle_customer_redact``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import orjson
import structlog
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import DecryptionError, FieldCipher
from db.ids import new_id
from db.models import Customer, GdprRequest, Merchant
from subgraphs.admin.gdpr_repository import (
    AnonymisedCustomer,
    GdprRepository,
    NewGdprRequest,
    export_by_id,
)
from subgraphs.kit.repository import insert_audit_log

log = structlog.get_logger(__name__)

# Encryption contexts of the columns read or written here. They are the owning modules'
# (points, gateway) constants, repeated because a subgraph may not import another one.
EMAIL_CONTEXT = "customers.email"
PHONE_CONTEXT = "customers.phone"
CODE_CONTEXT = "reward_redemptions.code"
PAYLOAD_CONTEXT = "api_logs.payload"
EXPORT_CONTEXT = "gdpr_requests.export"

RETENTION = timedelta(days=90)
EXPORT_FORMAT = "loyalnest.gdpr_export.v1"
REDACTED = "[redacted]"
# RFC 2606 reserves .invalid: nothing can ever be delivered to it.
REDACTED_EMAIL = "redacted@redacted.invalid"
REDACTED_CODE = "REDACTED"
REDACTED_DELIVERY_ERROR = "redacted"
REDACTED_BLIND_INDEX_PREFIX = "redacted:"

# JSON keys whose values are free text or identify a person, wherever they appear in audit
# metadata or a ledger entry's explanation. Everything else (ids, numbers, rule names, the
# per-line figures a later refund is computed from) is kept unless it quotes the customer.
_FREE_TEXT_KEYS = frozenset(
    {
        "reason",
        "detail",
        "note",
        "notes",
        "message",
        "comment",
        "comments",
        "description",
        "error",
        "previousError",
        "last_error",
        "failure",
        "text",
        "body",
    }
)
_IDENTIFYING_KEYS = frozenset(
    {
        "email",
        "phone",
        "name",
        "first_name",
        "last_name",
        "full_name",
        "company",
        "address",
        "address1",
        "address2",
        "city",
        "zip",
        "province",
        "ip",
        "shopify_customer_id",
        "referral_code",
        "code",
        "discount_code",
    }
)
_MIN_PHONE_DIGITS = 7
_PHONE_SUFFIX_DIGITS = 9
_NON_DIGITS = re.compile(r"\D")


class GdprError(ValueError):
    """A GDPR webhook that cannot be carried out as sent; retrying cannot help."""


class GdprPayloadError(GdprError):
    """The payload is not what Shopify sends for the topic."""


class ShopStillInstalledError(GdprError):
    """shop/redact for a shop with no uninstall on record: erasing it would wipe a live shop."""


class ShopRedactIncompleteError(GdprError):
    """Rows of the merchant survived shop/redact (a table without a cascade): rolled back."""


# --- payloads -------------------------------------------------------------------------------


def _shopify_id(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    raise ValueError("must be a positive integer id")


def _optional_text(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value.strip() or None


ShopifyId = Annotated[str, BeforeValidator(_shopify_id)]
OptionalText = Annotated[str | None, BeforeValidator(_optional_text)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class GdprCustomer(_Payload):
    id: ShopifyId | None = None
    email: OptionalText = None
    phone: OptionalText = None

    @model_validator(mode="after")
    def _identified(self) -> GdprCustomer:
        if self.id is None and self.email is None:
            raise ValueError("needs an id or an email")
        return self

    @property
    def normalized_email(self) -> str | None:
        """The lookup form (as the points subgraph stores it), or None if it is no email."""
        if self.email is None:
            return None
        normalized = self.email.lower()
        if "@" not in normalized or len(normalized) > 320 or "\x00" in normalized:
            return None
        return normalized


def _required_domain(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be the shop's myshopify.com domain")
    return value.strip().lower()


class _ShopPayload(_Payload):
    shop_id: int | None = None
    shop_domain: Annotated[str, BeforeValidator(_required_domain)]


PayloadT = TypeVar("PayloadT", bound=_Payload)


class DataRequestRef(_Payload):
    id: ShopifyId | None = None


class CustomerDataRequestPayload(_ShopPayload):
    customer: GdprCustomer
    orders_requested: list[ShopifyId] = Field(default_factory=list)
    data_request: DataRequestRef | None = None


class CustomerRedactPayload(_ShopPayload):
    customer: GdprCustomer
    orders_to_redact: list[ShopifyId] = Field(default_factory=list)


class ShopRedactPayload(_ShopPayload):
    pass


def parse_payload(model: type[PayloadT], payload: Mapping[str, Any]) -> PayloadT:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        # errors() carries the input values too; only locations and messages are kept.
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'payload'}: {error['msg']}"
            for error in exc.errors()[:5]
        )
        raise GdprPayloadError(f"not a valid {model.__name__}: {problems}") from None


# --- scrubbing ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Needles:
    """What identifies the customer in free text: matched case-insensitively, and phones also
    by their digits, whatever the punctuation."""

    texts: tuple[str, ...] = ()
    digit_runs: tuple[str, ...] = ()

    @classmethod
    def of(cls, texts: Iterable[str | None], phones: Iterable[str | None] = ()) -> Needles:
        unique_texts = {text.strip().lower() for text in texts if text and text.strip()}
        digit_runs = set()
        for phone in phones:
            if phone:
                unique_texts.add(phone.strip().lower())
                # The last digits are in every way of writing the number, with or without
                # the country code or a trunk prefix.
                digits = _NON_DIGITS.sub("", phone)[-_PHONE_SUFFIX_DIGITS:]
                if len(digits) >= _MIN_PHONE_DIGITS:
                    digit_runs.add(digits)
        return cls(tuple(sorted(unique_texts)), tuple(sorted(digit_runs)))

    def found_in(self, value: str) -> bool:
        lowered = value.lower()
        if any(text in lowered for text in self.texts):
            return True
        if self.digit_runs:
            digits = _NON_DIGITS.sub("", value)
            return any(run in digits for run in self.digit_runs)
        return False


def scrub_json(value: Any, needles: Needles, key: str | None = None) -> Any:
    """Free text and identifying values become ``[redacted]``, as does any string quoting the
    customer; structure, numbers and code-defined values stay."""
    if value is not None and key in _FREE_TEXT_KEYS | _IDENTIFYING_KEYS:
        return REDACTED
    if isinstance(value, dict):
        return {name: scrub_json(item, needles, name) for name, item in value.items()}
    if isinstance(value, list):
        return [scrub_json(item, needles, key) for item in value]
    if isinstance(value, str) and needles.found_in(value):
        return REDACTED
    return value


# --- export ---------------------------------------------------------------------------------


def _iso(moment: datetime | date | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _decimal(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def _decrypt(cipher: FieldCipher, token: str | None, context: str) -> str | None:
    return None if token is None else cipher.decrypt(token, context=context)


async def _customer_export(
    repository: GdprRepository, cipher: FieldCipher, customer: Customer
) -> dict[str, Any]:
    ids = [customer.id]
    tiers = await repository.tier_names([customer.vip_tier_id] if customer.vip_tier_id else [])
    return {
        "id": customer.id,
        "shopify_customer_id": customer.shopify_customer_id,
        "email": _decrypt(cipher, customer.email_encrypted, EMAIL_CONTEXT),
        "phone": _decrypt(cipher, customer.phone_encrypted, PHONE_CONTEXT),
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
                "code": _decrypt(cipher, redemption.code_encrypted, CODE_CONTEXT),
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
        "referral_links": [
            {"code": link.code, "clicks": link.click_count, "created_at": _iso(link.created_at)}
            for link in await repository.referral_links_of(ids)
        ],
    }


async def _build_export(
    repository: GdprRepository,
    cipher: FieldCipher,
    request: CustomerDataRequestPayload,
    customers: Sequence[Customer],
    *,
    delivery_id: str,
    now: datetime,
) -> dict[str, Any]:
    shopify_id = request.customer.id
    customer_ids = [customer.id for customer in customers]
    profiles = [await _customer_export(repository, cipher, customer) for customer in customers]
    stored = [profile["email"] for profile in profiles] + [profile["phone"] for profile in profiles]
    mentions = [
        *customer_ids,
        *(value for value in stored if value),
        *(value for value in (request.customer.email, request.customer.phone) if value),
        *([shopify_id] if shopify_id else []),
    ]
    audit = await repository.audit_entries_mentioning(mentions)
    deliveries = [
        delivery
        for delivery in (await repository.deliveries_about(shopify_id) if shopify_id else [])
        if delivery.id != delivery_id
    ]
    earlier = await repository.requests_about(customer_ids, shopify_id)
    held = bool(customers or audit or deliveries or earlier)
    return {
        "format": EXPORT_FORMAT,
        "generated_at": now.isoformat(),
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


# --- handlers -------------------------------------------------------------------------------


async def _checked_repository(
    session: AsyncSession, merchant_id: str, shop_domain: str
) -> tuple[GdprRepository, Merchant | None]:
    """A payload for another shop than the delivery's is refused rather than applied here."""
    repository = GdprRepository(session, merchant_id)
    merchant = await repository.merchant()
    if merchant is not None and merchant.shop_domain != shop_domain:
        raise GdprPayloadError("shop_domain: not the shop this delivery was received for")
    return repository, merchant


async def _customers_of(
    repository: GdprRepository, cipher: FieldCipher, customer: GdprCustomer
) -> list[Customer]:
    email = customer.normalized_email
    return await repository.customers_matching(
        shopify_customer_id=customer.id,
        email_blind_index=cipher.blind_index(email, context=EMAIL_CONTEXT) if email else None,
    )


async def handle_customer_data_request(
    session: AsyncSession,
    cipher: FieldCipher,
    merchant_id: str,
    payload: Mapping[str, Any],
    *,
    delivery_id: str,
    now: datetime,
) -> GdprRequest:
    """customers/data_request: everything held about the customer, as one JSON document
    stored encrypted on a completed ``gdpr_requests`` row (kept 90 days, or until the customer
    is redacted) for the merchant to hand over. An unknown customer gets an export that says
    nothing is held."""
    request = parse_payload(CustomerDataRequestPayload, payload)
    repository, _ = await _checked_repository(session, merchant_id, request.shop_domain)
    customers = await _customers_of(repository, cipher, request.customer)
    export = await _build_export(
        repository, cipher, request, customers, delivery_id=delivery_id, now=now
    )
    row = await repository.insert_request(
        NewGdprRequest(
            id=new_id(),
            request_type="data_request",
            status="completed",
            shopify_customer_id=request.customer.id,
            customer_id=customers[0].id if customers else None,
            delivery_id=delivery_id,
            export_encrypted=cipher.encrypt(orjson.dumps(export).decode(), context=EXPORT_CONTEXT),
            retention_expires_at=now + RETENTION,
            completed_at=now,
        )
    )
    await insert_audit_log(
        session,
        merchant_id=merchant_id,
        action="gdpr_data_request",
        metadata={
            "request_id": row.id,
            "delivery_id": delivery_id,
            "customer_ids": [customer.id for customer in customers],
            "data_held": export["data_held"],
            "orders_requested": len(request.orders_requested),
        },
    )
    log.info("gdpr_data_request_exported", merchant_id=merchant_id, request_id=row.id)
    return row


async def read_export(
    session: AsyncSession, cipher: FieldCipher, request_id: str
) -> dict[str, Any] | None:
    """A data request's export, read in the merchant's tenant unit of work (row-level security
    decides whose requests are visible). None when there is no such request or a later
    redact erased its export."""
    token = await export_by_id(session, request_id)
    if token is None:
        return None
    export: dict[str, Any] = orjson.loads(cipher.decrypt(token, context=EXPORT_CONTEXT))
    return export


def _try_decrypt(cipher: FieldCipher, token: str | None, context: str) -> str | None:
    try:
        return _decrypt(cipher, token, context)
    except DecryptionError:
        return None


@dataclass(slots=True)
class _RedactionCounts:
    customers: int = 0
    ledger_entries: int = 0
    redemptions: int = 0
    reminders: int = 0
    referral_links: int = 0
    audit_entries: int = 0
    deliveries: int = 0
    exports: int = 0

    def as_metadata(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}


async def handle_customer_redact(
    session: AsyncSession,
    cipher: FieldCipher,
    merchant_id: str,
    payload: Mapping[str, Any],
    *,
    delivery_id: str,
    now: datetime,
) -> GdprRequest:
    """customers/redact: irreversibly anonymise the customer, keeping the accounting.

    - customers: the row (id, balance, totals, RFM, tier) stays; the email becomes a
      placeholder with a random blind index (no lookup can find it again), phone, country and
      the Shopify id go.
    - points_transactions: points, kinds, dates, orders and lots stay; reasons, the free text
      of explanations, and idempotency keys (they may quote ids or client text) are replaced.
      Also for the ``orders_to_redact``, whoever they were credited to.
    - reward_redemptions: codes, failure texts and idempotency keys are replaced.
    - expiry_reminders: provider errors go. referral_links: a new code, so a link the
      customer once shared no longer leads to the record.
    - audit_logs: entries about the customer or quoting them are scrubbed.
    - api_logs: undone deliveries about the customer (by Shopify id, or whose payload quotes
      their email or phone) lose the payload and fail as "redacted"; every delivery forgets
      whom it was about.
    - gdpr_requests: earlier exports are erased.
    Idempotent: a second run finds no customer and nothing left to scrub.
    """
    request = parse_payload(CustomerRedactPayload, payload)
    repository, _ = await _checked_repository(session, merchant_id, request.shop_domain)
    customers = await _customers_of(repository, cipher, request.customer)
    customer_ids = [customer.id for customer in customers]
    shopify_id = request.customer.id
    counts = _RedactionCounts(customers=len(customers))

    # Everything that identifies the person, gathered before any of it is overwritten.
    redemptions = await repository.redemptions_of(customer_ids) if customers else []
    links = await repository.referral_links_of(customer_ids) if customers else []
    emails = [request.customer.email] + [
        _try_decrypt(cipher, customer.email_encrypted, EMAIL_CONTEXT) for customer in customers
    ]
    phones = [request.customer.phone] + [
        _try_decrypt(cipher, customer.phone_encrypted, PHONE_CONTEXT) for customer in customers
    ]
    codes = [link.code for link in links] + [
        _try_decrypt(cipher, redemption.code_encrypted, CODE_CONTEXT)
        for redemption, _ in redemptions
    ]
    needles = Needles.of([*emails, shopify_id, *codes], phones)
    # Whole payloads are matched on text only: their digits, run together, would match any
    # phone number by chance.
    contact = Needles(texts=Needles.of(emails, phones).texts)

    if customers:
        await repository.anonymise_customers(
            [
                AnonymisedCustomer(
                    customer_id=customer.id,
                    email_encrypted=cipher.encrypt(REDACTED_EMAIL, context=EMAIL_CONTEXT),
                    email_blind_index=REDACTED_BLIND_INDEX_PREFIX + secrets.token_hex(32),
                )
                for customer in customers
            ]
        )
    order_ids = list(request.orders_to_redact)
    if customers or order_ids:
        explanations = [
            (row_id, scrubbed)
            for row_id, explanation in await repository.ledger_explanations(customer_ids, order_ids)
            if (scrubbed := scrub_json(explanation, needles)) != explanation
        ]
        counts.ledger_entries = await repository.scrub_ledger(
            customer_ids, order_ids, reason=REDACTED, explanations=explanations
        )
    if customers:
        counts.redemptions = await repository.erase_redemption_codes(
            customer_ids,
            code_encrypted=cipher.encrypt(REDACTED_CODE, context=CODE_CONTEXT),
            failure=REDACTED,
        )
        counts.reminders = await repository.scrub_reminders(customer_ids)
        await repository.replace_referral_codes(
            {link.id: f"REDACTED-{secrets.token_hex(8).upper()}" for link in links}
        )
        counts.referral_links = len(links)

    mentions = [*customer_ids, *needles.texts]
    rewritten = [
        (entry, scrubbed)
        for entry in await repository.audit_entries_mentioning(mentions)
        if (scrubbed := scrub_json(entry.metadata_, needles)) != entry.metadata_
    ]
    await repository.rewrite_audit_metadata(rewritten)
    counts.audit_entries = len(rewritten)

    quoting = [
        (stored.id, stored.created_at)
        for stored in await repository.undone_payloads(
            except_delivery_id=delivery_id, not_about=shopify_id
        )
        if (plain := _try_decrypt(cipher, stored.payload_encrypted, PAYLOAD_CONTEXT))
        and contact.found_in(plain)
    ]
    counts.deliveries = await repository.redact_deliveries(
        shopify_customer_id=shopify_id,
        also=quoting,
        errors_mentioning=needles.texts,
        except_delivery_id=delivery_id,
        error=REDACTED_DELIVERY_ERROR,
    )
    counts.exports = await repository.erase_exports(customer_ids, shopify_id)

    row = await repository.insert_request(
        NewGdprRequest(
            id=new_id(),
            request_type="customer_redact",
            status="completed",
            # The record that the erasure happened must not tie the person to it again.
            shopify_customer_id=None,
            customer_id=customer_ids[0] if customer_ids else None,
            delivery_id=delivery_id,
            export_encrypted=None,
            retention_expires_at=now + RETENTION,
            completed_at=now,
        )
    )
    await insert_audit_log(
        session,
        merchant_id=merchant_id,
        action="gdpr_customer_redacted",
        metadata={
            "request_id": row.id,
            "delivery_id": delivery_id,
            "customer_ids": customer_ids,
            "orders_to_redact": len(order_ids),
            **counts.as_metadata(),
        },
    )
    log.info(
        "gdpr_customer_redacted", merchant_id=merchant_id, request_id=row.id, **counts.as_metadata()
    )
    return row


async def handle_shop_redact(
    session: AsyncSession,
    merchant_id: str,
    payload: Mapping[str, Any],
    *,
    delivery_id: str,
    now: datetime,
) -> None:
    """shop/redact (48 hours after an uninstall): every row of the merchant goes, in every
    table, except the delivery being processed, which the worker marks done in this
    transaction. Refused for a shop with no uninstall on record. Idempotent: a second run
    finds no merchant and deletes what is left, if anything."""
    request = parse_payload(ShopRedactPayload, payload)
    repository, merchant = await _checked_repository(session, merchant_id, request.shop_domain)
    if merchant is not None and merchant.uninstalled_at is None:
        raise ShopStillInstalledError(
            "shop/redact for a shop that is installed (no app/uninstalled on record): "
            "nothing was erased"
        )
    deliveries, audit_entries = await repository.delete_logs(except_delivery_id=delivery_id)
    customers = await repository.delete_customers()
    merchants = await repository.delete_merchant()
    remaining = await repository.remaining_rows(except_delivery_id=delivery_id)
    if remaining:
        raise ShopRedactIncompleteError(
            "rows of the shop would survive in: " + ", ".join(sorted(remaining))
        )
    log.info(
        "gdpr_shop_redacted",
        merchant_id=merchant_id,
        delivery_id=delivery_id,
        merchants=merchants,
        customers=customers,
        deliveries=deliveries,
        audit_entries=audit_entries,
        uninstalled_at=_iso(merchant.uninstalled_at if merchant else None),
        at=now.isoformat(),
    )
