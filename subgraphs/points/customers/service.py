"""Customers: enrolment, the encrypted email and phone, the `customers(query:)` search syntax,
and a customer as the facts the points calculation reads."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal, cast

from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import CUSTOMERS_EMAIL, CUSTOMERS_PHONE
from db.ids import new_id
from db.models import Customer
from subgraphs.kit.global_ids import local_id
from subgraphs.kit.repository import Comparison
from subgraphs.points.customers import repository as customer_filters
from subgraphs.points.customers.repository import CustomerRepository
from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.program.calculation import CustomerFacts

MAX_QUERY_LENGTH = 200
_TERM = re.compile(r"(\w+):(\S+)")


@dataclass(frozen=True, slots=True)
class NewCustomer:
    email: str
    shopify_customer_id: str | None = None
    locale: str = "en"
    country_code: str | None = None


def normalize_email(email: str) -> str:
    normalized = email.strip().lower()
    if "@" not in normalized or len(normalized) > 320 or "\x00" in normalized:
        raise PointsError(PointsErrorCode.INVALID_EMAIL, "email", "not a valid email address")
    return normalized


async def register_customer(
    session: AsyncSession,
    merchant_id: str,
    cipher: FieldCipher,
    *,
    email: str,
    shopify_customer_id: str | None = None,
    locale: str = "en",
    country_code: str | None = None,
) -> str:
    """Create a customer with an encrypted email; emails are unique per merchant."""
    normalized = normalize_email(email)
    repository = CustomerRepository(session, merchant_id)
    blind_index = email_index(normalized, cipher)
    if await repository.by_email_index(blind_index) is not None:
        raise PointsError(PointsErrorCode.EMAIL_TAKEN, "email", "a customer has this email")
    customer = await repository.insert_new(
        {
            "id": new_id(),
            "email_encrypted": cipher.encrypt(normalized, context=CUSTOMERS_EMAIL),
            "email_blind_index": blind_index,
            "shopify_customer_id": shopify_customer_id,
            "locale": locale,
            "country_code": country_code.upper() if country_code else None,
        }
    )
    if customer is None:
        # A concurrent request enrolled them first (same email or Shopify id): it committed,
        # and this insert waited for it and did nothing.
        raise PointsError(PointsErrorCode.EMAIL_TAKEN, "email", "a customer has this email")
    return customer.id


def email_index(normalized_email: str, cipher: FieldCipher) -> str:
    """The blind index emails are looked up (and kept unique) by."""
    return cipher.blind_index(normalized_email, context=CUSTOMERS_EMAIL)


def customer_email(customer: Customer, cipher: FieldCipher) -> str:
    return cipher.decrypt(customer.email_encrypted, context=CUSTOMERS_EMAIL)


def customer_phone(customer: Customer, cipher: FieldCipher) -> str | None:
    if customer.phone_encrypted is None:
        return None
    return cipher.decrypt(customer.phone_encrypted, context=CUSTOMERS_PHONE)


async def customer_by_id(
    session: AsyncSession, merchant_id: str, customer_id: str
) -> Customer | None:
    found = await CustomerRepository(session, merchant_id).customers_by_ids([customer_id])
    return found[0] if found else None


def customer_facts(customer: Customer) -> CustomerFacts:
    """What the points calculation reads of a customer."""
    return CustomerFacts(
        created_at=customer.created_at,
        orders_count=customer.orders_count,
        rfm_segment=customer.rfm_segment,
        country_code=customer.country_code,
    )


def _invalid_query(message: str) -> PointsError:
    return PointsError(PointsErrorCode.INVALID_QUERY, "query", message)


def parse_customer_query(query: str, cipher: FieldCipher) -> Sequence[Comparison]:
    """Shopify-style search: ``email:ann@example.com``, ``points_balance:>=500``,
    ``total_spent:>=100``, ``tier:<VipTier global ID>``, ``segment:Champions``; terms combine
    with AND."""
    if len(query) > MAX_QUERY_LENGTH:
        raise _invalid_query(f"query is longer than {MAX_QUERY_LENGTH} characters")
    terms = _TERM.findall(query)
    leftover = _TERM.sub("", query).strip()
    if leftover:
        raise _invalid_query(f"cannot read {leftover!r}: use field:value terms")
    filters: list[Comparison] = []
    for name, value in terms:
        if name == "email":
            blind = email_index(normalize_email(value), cipher)
            filters.append(customer_filters.email_index_is(blind))
        elif name == "tier":
            filters.append(customer_filters.in_tier(local_id(value, "VipTier")))
        elif name == "segment":
            filters.append(customer_filters.in_segment(value))
        elif name in ("points_balance", "total_spent"):
            filters.append(_comparison(name, value))
        else:
            raise _invalid_query(
                f"unknown field {name!r}: use email, points_balance, total_spent, tier, segment"
            )
    return filters


def _comparison(name: str, value: str) -> Comparison:
    match = re.fullmatch(r"(>=|<=)?(\d+(?:\.\d+)?)", value)
    if match is None:
        raise _invalid_query(f"{name}: expected a number with optional >= or <=, not {value!r}")
    operator, number = match.groups()
    try:
        amount = Decimal(number)
    except InvalidOperation:
        raise _invalid_query(f"{name}: {number!r} is not a number") from None
    return customer_filters.compare(name, cast(Literal["<=", ">="] | None, operator), amount)
