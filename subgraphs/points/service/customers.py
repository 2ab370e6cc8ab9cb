"""Customers: enrolment, the encrypted email, and the `customers(query:)` search syntax."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from db.crypto import FieldCipher
from db.ids import new_id
from db.models import Customer
from subgraphs.points.repository import customers as customer_filters
from subgraphs.points.repository.customers import CustomerRepository
from subgraphs.points.service.errors import PointsError, PointsErrorCode

EMAIL_CONTEXT = "customers.email"
PHONE_CONTEXT = "customers.phone"
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
    blind_index = cipher.blind_index(normalized, context=EMAIL_CONTEXT)
    if await repository.customer_id_by_email_index(blind_index) is not None:
        raise PointsError(PointsErrorCode.EMAIL_TAKEN, "email", "a customer has this email")
    customer_id = new_id()
    await repository.insert_customer(
        customer_id=customer_id,
        email_encrypted=cipher.encrypt(normalized, context=EMAIL_CONTEXT),
        email_blind_index=blind_index,
        shopify_customer_id=shopify_customer_id,
        locale=locale,
        country_code=country_code.upper() if country_code else None,
    )
    return customer_id


def customer_email(customer: Customer, cipher: FieldCipher) -> str:
    return cipher.decrypt(customer.email_encrypted, context=EMAIL_CONTEXT)


def customer_phone(customer: Customer, cipher: FieldCipher) -> str | None:
    if customer.phone_encrypted is None:
        return None
    return cipher.decrypt(customer.phone_encrypted, context=PHONE_CONTEXT)


def _invalid_query(message: str) -> PointsError:
    return PointsError(PointsErrorCode.INVALID_QUERY, "query", message)


def parse_customer_query(query: str, cipher: FieldCipher) -> Sequence[ColumnElement[bool]]:
    """Shopify-style search: ``email:ann@example.com``, ``points_balance:>=500``,
    ``total_spent:>=100``, ``tier:<id>``, ``segment:Champions``; terms combine with AND."""
    if len(query) > MAX_QUERY_LENGTH:
        raise _invalid_query(f"query is longer than {MAX_QUERY_LENGTH} characters")
    terms = _TERM.findall(query)
    leftover = _TERM.sub("", query).strip()
    if leftover:
        raise _invalid_query(f"cannot read {leftover!r}: use field:value terms")
    filters: list[ColumnElement[bool]] = []
    for name, value in terms:
        if name == "email":
            blind = cipher.blind_index(normalize_email(value), context=EMAIL_CONTEXT)
            filters.append(customer_filters.email_index_is(blind))
        elif name == "tier":
            filters.append(customer_filters.in_tier(value))
        elif name == "segment":
            filters.append(customer_filters.in_segment(value))
        elif name in ("points_balance", "total_spent"):
            filters.append(_comparison(name, value))
        else:
            raise _invalid_query(
                f"unknown field {name!r}: use email, points_balance, total_spent, tier, segment"
            )
    return filters


def _comparison(name: str, value: str) -> ColumnElement[bool]:
    match = re.fullmatch(r"(>=|<=)?(\d+(?:\.\d+)?)", value)
    if match is None:
        raise _invalid_query(f"{name}: expected a number with optional >= or <=, not {value!r}")
    operator, number = match.groups()
    try:
        amount = Decimal(number)
    except InvalidOperation:
        raise _invalid_query(f"{name}: {number!r} is not a number") from None
    return customer_filters.compare(name, operator, amount)
