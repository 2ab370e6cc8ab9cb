"""Recording consents and asking whether a customer consented.

Works inside the caller's transaction and never commits. A revocation stops what the type
covers at once. A customer with no record for a type yet (enrolled before consents were
recorded, their opt-in held by the shop) is not refused: ``revoked`` names only those who
withdrew, ``consented`` only those who explicitly agreed.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.models import Consent
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.consents.repository import ConsentRepository, NewConsent
from subgraphs.points.customers.repository import CustomerRepository
from subgraphs.points.errors import PointsError, PointsErrorCode, customer_not_found

# Blind-index context of consent IPs: a keyed hash, so the same address is recognisable and
# none can be read back.
CONSENT_IP = "consents.ip"
MAX_TEXT_VERSION_LENGTH = 64


class ConsentType(enum.StrEnum):
    NEWSLETTER = "newsletter"
    RFM_TRACKING = "rfm_tracking"
    REFERRALS = "referrals"


class ConsentStatus(enum.StrEnum):
    GRANTED = "granted"
    REVOKED = "revoked"


class ConsentSource(enum.StrEnum):
    WIDGET = "widget"
    IMPORT = "import"
    SHOPIFY_ACCEPTS_MARKETING = "shopify_accepts_marketing"
    STAFF = "staff"


@dataclass(frozen=True, slots=True)
class ConsentChange:
    consent_type: ConsentType
    status: ConsentStatus


async def update_consents(
    write: WriteContext,
    cipher: FieldCipher,
    customer_id: str,
    changes: Sequence[ConsentChange],
    *,
    source: ConsentSource,
    text_version: str | None,
    ip: str | None,
) -> list[Consent]:
    """Record the changes (one row each, at ``write.now``) and return the customer's current
    consents."""
    if not changes:
        raise PointsError(PointsErrorCode.INVALID_CONSENT, "consents", "give at least one consent")
    if len({change.consent_type for change in changes}) != len(changes):
        raise PointsError(PointsErrorCode.INVALID_CONSENT, "consents", "one change per type")
    if text_version is not None and not 0 < len(text_version) <= MAX_TEXT_VERSION_LENGTH:
        raise PointsError(
            PointsErrorCode.INVALID_CONSENT,
            "textVersion",
            f"a text version is 1 to {MAX_TEXT_VERSION_LENGTH} characters",
        )
    found = await CustomerRepository(write.session, write.merchant_id).customers_by_ids(
        [customer_id]
    )
    customer = found[0] if found else None
    if customer is None or customer.redacted_at is not None:
        raise customer_not_found()
    ip_hash = None if not ip else cipher.blind_index(ip, context=CONSENT_IP)
    repository = ConsentRepository(write.session, write.merchant_id)
    await repository.record(
        [
            NewConsent(
                customer_id=customer_id,
                consent_type=change.consent_type.value,
                status=change.status.value,
                source=source.value,
                text_version=text_version,
                ip_hash=ip_hash,
                at=write.now,
            )
            for change in changes
        ]
    )
    await write.audit.record_many(
        AuditAction.CONSENT_UPDATED,
        [
            {
                "customer_id": customer_id,
                "consent_type": change.consent_type.value,
                "status": change.status.value,
                "source": source.value,
            }
            for change in changes
        ],
    )
    return await repository.current([customer_id])


async def record_imported_consents(
    write: WriteContext, choices: Mapping[str, ConsentStatus], *, consent_type: ConsentType
) -> int:
    """An import's choices (customer id -> granted or revoked, source IMPORT), set-based: only
    for customers with no choice of the type yet (one they made here outranks an export's).
    Returns how many were recorded; the import's audit entry counts them."""
    repository = ConsentRepository(write.session, write.merchant_id)
    chosen = await repository.customers_with_choice(list(choices), consent_type.value)
    new = [
        NewConsent(
            customer_id=customer_id,
            consent_type=consent_type.value,
            status=status.value,
            source=ConsentSource.IMPORT.value,
            text_version=None,
            ip_hash=None,
            at=write.now,
        )
        for customer_id, status in choices.items()
        if customer_id not in chosen
    ]
    await repository.copy_many(new)
    return len(new)


async def consented(
    session: AsyncSession, merchant_id: str, customer_ids: Sequence[str], consent_type: ConsentType
) -> set[str]:
    """The customers among ``customer_ids`` whose latest choice for the type is a grant."""
    return await _latest_choice_is(
        session, merchant_id, customer_ids, consent_type, ConsentStatus.GRANTED
    )


async def revoked(
    session: AsyncSession, merchant_id: str, customer_ids: Sequence[str], consent_type: ConsentType
) -> set[str]:
    """The customers among ``customer_ids`` whose latest choice for the type is a revocation:
    what marketing messages check before sending."""
    return await _latest_choice_is(
        session, merchant_id, customer_ids, consent_type, ConsentStatus.REVOKED
    )


async def _latest_choice_is(
    session: AsyncSession,
    merchant_id: str,
    customer_ids: Sequence[str],
    consent_type: ConsentType,
    status: ConsentStatus,
) -> set[str]:
    if not customer_ids:
        return set()
    rows = await ConsentRepository(session, merchant_id).current(customer_ids)
    return {
        row.customer_id
        for row in rows
        if row.consent_type == consent_type.value and row.status == status.value
    }
