"""Merchant referrals: every shop has a merchant referral code; a shop that installs
LoyalNest for the first time with another shop's code completes a merchant referral, and
both shops are credited (a recorded entitlement: LoyalNest's billing is not here yet).

No web framework here; never commits. The install path calls ``complete_at_install`` in the
OAuth callback's transaction, inside a savepoint of its own: a referral is never a reason for
an install to fail, so a code that is malformed, unknown, the shop's own, or arrives on a
reinstall is ignored (and logged), never an error.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
import uuid

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from db.ids import new_id
from db.models import Merchant, MerchantReferral
from subgraphs.admin.merchant_referrals.repository import MerchantReferralsRepository
from subgraphs.admin.merchants.repository import MerchantsRepository
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.write_context import WriteContext

log = structlog.get_logger(__name__)

# The configured reward: months of LoyalNest credit for each side of a completed referral.
ADVOCATE_REWARD_MONTHS = 1
REFERRED_REWARD_MONTHS = 1

# A code is the merchant's id (a UUID) in unpadded base32: every shop has one from the moment
# it exists, with nothing stored or generated (queries never write), it is unique by
# construction and names its merchant without a cross-tenant index. It is public by design.
_CODE = re.compile(r"^[A-Z2-7]{26}$")
# The link a merchant shares: the edge app keeps the code in a cookie and sends the visitor
# to the app's listing, whose install reaches /auth/install signed by Shopify (a link to
# /auth/install itself would be refused: Shopify must sign that request).
REFERRAL_LANDING_PATH = "/m"


class MerchantReferralStatus(enum.StrEnum):
    PENDING = enum.auto()
    COMPLETED = enum.auto()
    EXPIRED = enum.auto()


def referral_code_of(merchant_id: str) -> str:
    return base64.b32encode(uuid.UUID(merchant_id).bytes).decode().rstrip("=")


def merchant_named_by(code: str) -> str | None:
    """The merchant id a well-formed code names (it may name no merchant); None if malformed."""
    normalized = code.strip().upper()
    if not _CODE.match(normalized):
        return None
    try:
        return str(uuid.UUID(bytes=base64.b32decode(normalized + "======")))
    except (binascii.Error, ValueError):
        return None


def well_formed_code(code: str | None) -> str | None:
    """The code as the install link should carry it, or None (absent or malformed)."""
    if code is None or merchant_named_by(code) is None:
        return None
    return code.strip().upper()


def install_url(app_url: str, merchant_id: str) -> str:
    """The link a merchant shares (``REFERRAL_LANDING_PATH``), carrying their code."""
    return f"{app_url.rstrip('/')}{REFERRAL_LANDING_PATH}/{referral_code_of(merchant_id)}"


class ReferralIgnored(enum.StrEnum):
    """Why an install's code completed no referral (logged, never shown to the installer)."""

    MALFORMED = enum.auto()
    UNKNOWN = enum.auto()
    SELF_REFERRAL = enum.auto()
    NOT_FIRST_INSTALL = enum.auto()
    ALREADY_REFERRED = enum.auto()


async def is_first_install(session: AsyncSession, shop_domain: str) -> bool:
    """Asked by the install before it writes: whether the shop has never completed an install
    (unknown to LoyalNest, or registered without a token and never uninstalled)."""
    before = await MerchantsRepository(session).merchant_by_shop(shop_domain)
    return before is None or (before.api_token_encrypted is None and before.uninstalled_at is None)


async def complete_at_install(
    write: WriteContext, referred: Merchant, code: str, *, first_install: bool
) -> MerchantReferral | None:
    """Complete the merchant referral ``code`` makes for the shop ``referred`` that has just
    installed (``write`` is the referred shop's, in the install's transaction), crediting both
    sides and auditing it in each shop's log. Returns None, and changes nothing, when the code
    refers no one; a database failure is rolled back to before the referral and logged."""
    try:
        async with write.session.begin_nested():
            outcome = await _complete(write, referred, code, first_install=first_install)
    except SQLAlchemyError:
        # Rolled back to the savepoint: the install goes on without its referral.
        log.exception("merchant_referral_failed", merchant_id=referred.id, code=code)
        return None
    if isinstance(outcome, ReferralIgnored):
        log.info("merchant_referral_ignored", merchant_id=referred.id, reason=outcome.value)
        return None
    log.info("merchant_referral_completed", merchant_id=referred.id, referral_id=outcome.id)
    return outcome


async def _complete(
    write: WriteContext, referred: Merchant, code: str, *, first_install: bool
) -> MerchantReferral | ReferralIgnored:
    advocate_id = merchant_named_by(code)
    if advocate_id is None:
        return ReferralIgnored.MALFORMED
    if advocate_id == referred.id:
        return ReferralIgnored.SELF_REFERRAL
    if not first_install:
        return ReferralIgnored.NOT_FIRST_INSTALL
    advocate = await MerchantsRepository(write.session).merchant_by_id(advocate_id)
    if advocate is None:
        return ReferralIgnored.UNKNOWN
    referral = MerchantReferral(
        merchant_id=referred.id,
        id=new_id(),
        advocate_merchant_id=advocate.id,
        advocate_shop_domain=advocate.shop_domain,
        referred_shop_domain=referred.shop_domain,
        status=MerchantReferralStatus.COMPLETED.value,
        advocate_reward_months=ADVOCATE_REWARD_MONTHS,
        referred_reward_months=REFERRED_REWARD_MONTHS,
        created_at=write.now,
        completed_at=write.now,
    )
    if not await MerchantReferralsRepository(write.session, referred.id).insert_completed(referral):
        return ReferralIgnored.ALREADY_REFERRED
    # Each shop's own audit trail records its side.
    await write.audit.record(
        AuditAction.MERCHANT_REFERRAL_COMPLETED,
        {
            "merchant_referral_id": referral.id,
            "side": "referred",
            "advocate_shop_domain": advocate.shop_domain,
            "reward_months": REFERRED_REWARD_MONTHS,
        },
    )
    await WriteContext(write.session, advocate.id, write.actor_id, write.now).audit.record(
        AuditAction.MERCHANT_REFERRAL_COMPLETED,
        {
            "merchant_referral_id": referral.id,
            "side": "advocate",
            "referred_shop_domain": referred.shop_domain,
            "reward_months": ADVOCATE_REWARD_MONTHS,
        },
    )
    return referral
