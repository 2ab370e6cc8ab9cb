"""Referral rules. No web framework here; raises domain errors; never commits."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from db.ids import new_id
from db.models import ReferralLink
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.domain import DomainError
from subgraphs.kit.repository import insert_audit_log
from subgraphs.referrals.repository import ReferralsRepository

# No 0/O or 1/I/L: codes are read aloud and typed on phones.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
_MAX_CODE_ATTEMPTS = 5


class ReferralErrorCode(enum.StrEnum):
    CUSTOMER_NOT_FOUND = enum.auto()
    INVALID_PROGRAM = enum.auto()
    VERSION_CONFLICT = enum.auto()
    CODE_NOT_FOUND = enum.auto()
    SELF_REFERRAL = enum.auto()
    REFERRAL_NOT_FOUND = enum.auto()
    NOT_HELD = enum.auto()
    NOT_A_SHOPPER = enum.auto()
    PROGRAM_DISABLED = enum.auto()
    LINK_EXPIRED = enum.auto()
    SHARE_LIMIT_REACHED = enum.auto()
    INVALID_RECIPIENT = enum.auto()
    CHANNEL_DISABLED = enum.auto()


class ReferralError(DomainError):
    code: ReferralErrorCode


@dataclass(frozen=True, slots=True)
class ReferralLinkResult:
    link: ReferralLink
    created: bool


def new_referral_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def referral_url(template: str, *, shop_domain: str, code: str) -> str:
    return template.format(shop=shop_domain, code=code)


async def create_referral_link(
    session: AsyncSession, merchant_id: str, customer_id: str
) -> ReferralLinkResult:
    """Each customer has one link: asking again returns the one they already share."""
    repository = ReferralsRepository(session, merchant_id)
    if not await repository.customer_exists(customer_id):
        raise ReferralError(
            ReferralErrorCode.CUSTOMER_NOT_FOUND, "customerId", "customer not found"
        )
    for _ in range(_MAX_CODE_ATTEMPTS):
        link = await repository.insert_link(
            link_id=new_id(), customer_id=customer_id, code=new_referral_code()
        )
        if link is not None:
            await insert_audit_log(
                session,
                merchant_id=merchant_id,
                action=AuditAction.REFERRAL_CREATED,
                metadata={"customer_id": customer_id, "referral_code": link.code},
            )
            return ReferralLinkResult(link=link, created=True)
        existing = await repository.links_by_advocates([customer_id])
        if existing:
            return ReferralLinkResult(link=existing[0], created=False)
        # Otherwise the random code collided with another customer's: draw again.
    raise RuntimeError("could not draw an unused referral code")


async def advocate_of(session: AsyncSession, merchant_id: str, code: str) -> str | None:
    """The customer whose link has ``code``; None when no link has it."""
    links = await ReferralsRepository(session, merchant_id).links_by_codes([code.strip().upper()])
    return links[0].advocate_customer_id if links else None
