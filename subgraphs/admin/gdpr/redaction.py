"""customers/redact and shop/redact: erasure.

It keeps what the merchant's accounting needs (the ledger's points, kinds, dates and orders,
the balance projection, derived RFM analytics) and removes or replaces everything that
identifies the person or may quote them (free text). See ``handle_customer_redact``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from db.crypto import DecryptionError, FieldCipher
from db.encryption_contexts import (
    API_LOGS_PAYLOAD,
    CUSTOMERS_EMAIL,
    CUSTOMERS_PHONE,
    REWARD_REDEMPTIONS_CODE,
)
from db.models import GdprRequest
from subgraphs.admin.audit.repository import AuditLogRepository
from subgraphs.admin.deliveries.repository import INBOX_TABLE, WebhookDeliveriesRepository
from subgraphs.admin.deliveries.service import REDACTED_DELIVERY_ERROR
from subgraphs.admin.gdpr.customer_data_repository import (
    AnonymisedCustomer,
    CustomerDataRepository,
)
from subgraphs.admin.gdpr.payloads import CustomerRedactPayload, ShopRedactPayload, parse_payload
from subgraphs.admin.gdpr.profile_deletions import identifier_of, record_profile_deletions
from subgraphs.admin.gdpr.repository import GdprRequestsRepository
from subgraphs.admin.gdpr.service import (
    GdprDelivery,
    GdprRequestType,
    ShopRedactIncompleteError,
    ShopStillInstalledError,
    customers_of,
    decrypted,
    merchant_of_request,
    record_completed_request,
)
from subgraphs.admin.merchants.repository import MerchantsRepository
from subgraphs.kit.audit import AuditAction

log = structlog.get_logger(__name__)

REDACTED = "[redacted]"
# RFC 2606 reserves .invalid: nothing can ever be delivered to it.
REDACTED_EMAIL = "redacted@redacted.invalid"
REDACTED_CODE = "REDACTED"
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


# --- handlers -------------------------------------------------------------------------------


def _try_decrypt(cipher: FieldCipher, token: str | None, context: str) -> str | None:
    try:
        return decrypted(cipher, token, context)
    except DecryptionError:
        return None


@dataclass(slots=True)
class _RedactionCounts:
    customers: int = 0
    ledger_entries: int = 0
    redemptions: int = 0
    reminders: int = 0
    consents: int = 0
    referral_shares: int = 0
    referral_links: int = 0
    audit_entries: int = 0
    deliveries: int = 0
    exports: int = 0

    def as_metadata(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}


async def handle_customer_redact(delivery: GdprDelivery, payload: Mapping[str, Any]) -> GdprRequest:
    """customers/redact: irreversibly anonymise the customer, keeping the accounting.

    - customers: the row (id, balance, totals, RFM, tier) stays; the email becomes a
      placeholder with a random blind index (no lookup can find it again), phone, country and
      the Shopify id go.
    - points_transactions: points, kinds, dates, orders and lots stay; reasons, the free text
      of explanations, and idempotency keys (they may quote ids or client text) are replaced.
      Also for the ``orders_to_redact``, whoever they were credited to.
    - reward_redemptions: codes, failure texts and idempotency keys are replaced.
    - expiry_reminders: provider errors go. referral_links: a new code, so a link the
      customer once shared no longer leads to the record. referral_shares: deleted (each
      holds an address the customer gave us and quotes the old code).
    - audit_logs: entries about the customer or quoting them are scrubbed.
    - api_logs: undone deliveries about the customer (by Shopify id, or whose payload quotes
      their email or phone) lose the payload and fail as "redacted"; every delivery forgets
      whom it was about.
    - gdpr_requests: earlier exports are erased.
    - gdpr_profile_deletions: the customer's Klaviyo profile is to be deleted, by a worker job
      after the commit (``profile_deletions``); its identifier is kept (encrypted) until then.
    Idempotent: a second run finds no customer and nothing left to scrub.
    """
    session, cipher, merchant_id = delivery.session, delivery.cipher, delivery.merchant_id
    delivery_id = delivery.delivery_id
    request = parse_payload(CustomerRedactPayload, payload)
    await merchant_of_request(session, merchant_id, request.shop_domain)
    repository = CustomerDataRepository(session, merchant_id)
    customers = await customers_of(repository, cipher, request.customer)
    customer_ids = [customer.id for customer in customers]
    shopify_id = request.customer.id
    counts = _RedactionCounts(customers=len(customers))

    # Everything that identifies the person, gathered before any of it is overwritten.
    redemptions = await repository.redemptions_of(customer_ids) if customers else []
    links = await repository.referral_links_of(customer_ids) if customers else []
    emails = [request.customer.email] + [
        _try_decrypt(cipher, customer.email_encrypted, CUSTOMERS_EMAIL) for customer in customers
    ]
    phones = [request.customer.phone] + [
        _try_decrypt(cipher, customer.phone_encrypted, CUSTOMERS_PHONE) for customer in customers
    ]
    codes = [link.code for link in links] + [
        _try_decrypt(cipher, redemption.code_encrypted, REWARD_REDEMPTIONS_CODE)
        for redemption, _ in redemptions
    ]
    # Captured now, before the email is overwritten: the provider's profile to delete.
    provider_identifiers = {
        customer.id: identifier
        for customer in customers
        if (
            identifier := identifier_of(
                _try_decrypt(cipher, customer.email_encrypted, CUSTOMERS_EMAIL),
                _try_decrypt(cipher, customer.phone_encrypted, CUSTOMERS_PHONE),
            )
        )
        and identifier.get("email") != REDACTED_EMAIL
    }
    needles = Needles.of([*emails, shopify_id, *codes], phones)
    # Whole payloads are matched on text only: their digits, run together, would match any
    # phone number by chance.
    contact = Needles(texts=Needles.of(emails, phones).texts)

    if customers:
        now = datetime.now(UTC)
        await repository.anonymise_customers(
            [
                AnonymisedCustomer(
                    customer_id=customer.id,
                    email_encrypted=cipher.encrypt(REDACTED_EMAIL, context=CUSTOMERS_EMAIL),
                    email_blind_index=REDACTED_BLIND_INDEX_PREFIX + secrets.token_hex(32),
                    redacted_at=now,
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
            code_encrypted=cipher.encrypt(REDACTED_CODE, context=REWARD_REDEMPTIONS_CODE),
            failure=REDACTED,
        )
        counts.reminders = await repository.scrub_reminders(customer_ids)
        counts.consents = await repository.delete_consents(customer_ids)
        counts.referral_shares = await repository.delete_referral_shares(customer_ids)
        await repository.replace_referral_codes(
            {link.id: f"REDACTED-{secrets.token_hex(8).upper()}" for link in links}
        )
        counts.referral_links = len(links)

    mentions = [*customer_ids, *needles.texts]
    audit = AuditLogRepository(session, merchant_id)
    rewritten = [
        (entry, scrubbed)
        for entry in await audit.entries_mentioning(mentions)
        if (scrubbed := scrub_json(entry.metadata_, needles)) != entry.metadata_
    ]
    await audit.rewrite_metadata(rewritten)
    counts.audit_entries = len(rewritten)

    inbox = WebhookDeliveriesRepository(session, merchant_id)
    quoting = [
        (stored.id, stored.created_at)
        for stored in await inbox.undone_payloads(
            except_delivery_id=delivery_id, not_about=shopify_id
        )
        if (plain := _try_decrypt(cipher, stored.payload_encrypted, API_LOGS_PAYLOAD))
        and contact.found_in(plain)
    ]
    counts.deliveries = await inbox.redact_deliveries(
        shopify_customer_id=shopify_id,
        also=quoting,
        errors_mentioning=needles.texts,
        except_delivery_id=delivery_id,
        error=REDACTED_DELIVERY_ERROR,
    )
    counts.exports = await GdprRequestsRepository(session, merchant_id).erase_exports(
        customer_ids, shopify_id
    )

    row = await record_completed_request(
        delivery,
        GdprRequestType.CUSTOMER_REDACT,
        # The record that the erasure happened must not tie the person to it again.
        shopify_customer_id=None,
        customer_id=customer_ids[0] if customer_ids else None,
        audit_action=AuditAction.GDPR_CUSTOMER_REDACTED,
        audit={
            "customer_ids": customer_ids,
            "orders_to_redact": len(order_ids),
            **counts.as_metadata(),
        },
    )
    await record_profile_deletions(session, cipher, merchant_id, row.id, provider_identifiers)
    log.info(
        "gdpr_customer_redacted", merchant_id=merchant_id, request_id=row.id, **counts.as_metadata()
    )
    return row


async def handle_shop_redact(delivery: GdprDelivery, payload: Mapping[str, Any]) -> None:
    """shop/redact (48 hours after an uninstall): every row of the merchant goes, in every
    table, except the delivery being processed, which the worker marks done in this
    transaction. Refused for a shop with no uninstall on record. Idempotent: a second run
    finds no merchant and deletes what is left, if anything."""
    session, merchant_id, delivery_id = delivery.session, delivery.merchant_id, delivery.delivery_id
    request = parse_payload(ShopRedactPayload, payload)
    merchant = await merchant_of_request(session, merchant_id, request.shop_domain)
    if merchant is not None and merchant.uninstalled_at is None:
        raise ShopStillInstalledError(
            "shop/redact for a shop that is installed (no app/uninstalled on record): "
            "nothing was erased"
        )
    deliveries = await WebhookDeliveriesRepository(session, merchant_id).delete_all_but(delivery_id)
    audit_entries = await AuditLogRepository(session, merchant_id).delete_all()
    customers = await CustomerDataRepository(session, merchant_id).delete_customers()
    merchants = await MerchantsRepository(session).delete_merchant(merchant_id)
    remaining = await GdprRequestsRepository(session, merchant_id).remaining_rows(
        kept={INBOX_TABLE: delivery_id}
    )
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
        uninstalled_at=(
            merchant.uninstalled_at.isoformat() if merchant and merchant.uninstalled_at else None
        ),
        at=delivery.now.isoformat(),
    )
