"""A shop's existing Shopify customers enrolled in bulk (the Shopify backfill at install).

The rules of ``customers/create`` (``service._find_or_enrol``), set-based: a customer is found
by Shopify id, else by email (one known by email only, from a guest order, is claimed for the
account), else created with the email encrypted and blind-indexed as ``register_customer``
does. No signup points: these customers signed up long before the program, and crediting a
whole shop at install would hand out a liability the merchant never chose. Runs in the
caller's transaction; three statements per batch whatever its size (plus one per claim).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import CUSTOMERS_EMAIL, CUSTOMERS_PHONE
from db.ids import new_id
from subgraphs.points.customers.repository import CustomerRepository
from subgraphs.points.customers.service import email_index, normalize_email
from subgraphs.points.errors import PointsError
from subgraphs.points.orders.service import _locale
from subgraphs.points.orders.shopify_payloads import ShopifyCustomer


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What a batch did: customers created, claimed (known by email until now), found
    already enrolled, and skipped (no usable email, or an email another account holds)."""

    created: int = 0
    claimed: int = 0
    already_enrolled: int = 0
    skipped: int = 0

    @property
    def enrolled(self) -> int:
        """The batch's customers that are now in the program."""
        return self.created + self.claimed + self.already_enrolled


@dataclass(frozen=True, slots=True)
class _Candidate:
    customer: ShopifyCustomer
    email: str
    index: str


def _candidates(
    customers: Sequence[ShopifyCustomer], cipher: FieldCipher
) -> tuple[dict[str, _Candidate], int]:
    """The batch's customers with a usable email, by Shopify id; and how many had none."""
    usable: dict[str, _Candidate] = {}
    unusable = 0
    for customer in customers:
        try:
            email = normalize_email(customer.email or "")
        except PointsError:
            unusable += 1
            continue
        usable[customer.id] = _Candidate(customer, email, email_index(email, cipher))
    return usable, unusable


def _new_row(candidate: _Candidate, cipher: FieldCipher) -> dict[str, Any]:
    customer = candidate.customer
    return {
        "id": new_id(),
        "shopify_customer_id": customer.id,
        "email_encrypted": cipher.encrypt(candidate.email, context=CUSTOMERS_EMAIL),
        "email_blind_index": candidate.index,
        "phone_encrypted": (
            cipher.encrypt(customer.phone, context=CUSTOMERS_PHONE) if customer.phone else None
        ),
        "locale": _locale(customer.locale),
        "country_code": customer.country_code.upper() if customer.country_code else None,
    }


async def enrol_shopify_customers(
    session: AsyncSession,
    merchant_id: str,
    cipher: FieldCipher,
    customers: Sequence[ShopifyCustomer],
) -> Enrolment:
    """Enrol a batch of Shopify customers; enrolling the same ones again changes nothing."""
    repository = CustomerRepository(session, merchant_id)
    usable, skipped = _candidates(customers, cipher)
    known = await repository.accounts_matching(
        list(usable), [candidate.index for candidate in usable.values()]
    )
    enrolled_accounts = {shopify_id for _, shopify_id, _ in known if shopify_id}
    holder_of_email = {index: (id_, shopify_id) for id_, shopify_id, index in known}
    rows: list[dict[str, Any]] = []
    new_emails: set[str] = set()
    claimed = already = 0
    for shopify_id, candidate in usable.items():
        if shopify_id in enrolled_accounts:
            already += 1
            continue
        holder = holder_of_email.get(candidate.index)
        if holder is not None:
            holder_id, holder_account = holder
            if holder_account is None and await repository.claim(holder_id, shopify_id):
                claimed += 1
            else:
                skipped += 1
            continue
        if candidate.index in new_emails:
            skipped += 1  # two accounts with one email in the batch: the first one has it
            continue
        new_emails.add(candidate.index)
        rows.append(_new_row(candidate, cipher))
    created = await repository.insert_many_new(rows)
    # A row a concurrent webhook enrolled between the read and the insert is theirs.
    return Enrolment(created, claimed, already + len(rows) - created, skipped)
