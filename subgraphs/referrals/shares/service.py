"""An advocate sharing their link (``referralShare``): the share is recorded with the text it
will say — the program's incentive text in the advocate's language (English when the program
has none in it), and the link — and queued; the worker sends it (``worker/referrals/shares.py``)
by email through the merchant's Klaviyo, by SMS through their Postscript, or on WhatsApp
through LoyalNest's Twilio number.

An advocate sends at most ``limit`` shares in any 24 hours (counted in Postgres under a lock
on their link, so concurrent requests cannot overshoot). A request repeated with the same
idempotency key returns the first share and queues nothing more."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from email_validator import EmailNotValidError, validate_email
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import REFERRAL_SHARES_RECIPIENT
from db.ids import new_id
from db.models import ReferralLink, ReferralShare, ReferralShareStatus
from subgraphs.kit.jobs import job_queue
from subgraphs.referrals.program.service import (
    RTL_LOCALES,
    ShareChannel,
    closest_locale,
    referral_program,
)
from subgraphs.referrals.repository import ReferralsRepository
from subgraphs.referrals.service import (
    ReferralError,
    ReferralErrorCode,
    create_referral_link,
    referral_url,
)
from subgraphs.referrals.shares.repository import ReferralShareRepository

log = structlog.get_logger(__name__)

SEND_REFERRAL_SHARE = "send_referral_share"  # the worker's job (worker/referrals/jobs.py)
SHARE_WINDOW = timedelta(hours=24)
# E.164: a plus, a country code, at most 15 digits in all.
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_PHONE_SEPARATORS = re.compile(r"[\s().-]")
MAX_RECIPIENT_LENGTH = 254

# The email's subject; the body is the program's own incentive text and the link.
SUBJECTS = {
    "en": "A gift from a friend",
    "es": "Un regalo de un amigo",
    "fr": "Un cadeau de la part d'un ami",
    "ar": "هدية من صديق",
    "he": "מתנה מחבר",
}
# Keeps the link's Latin letters from reordering a right-to-left sentence around them.
_ISOLATE, _POP_ISOLATE = "\u2068", "\u2069"


@dataclass(frozen=True, slots=True)
class ShareRequest:
    channel: ShareChannel
    to: str
    locale: str
    idempotency_key: str | None


@dataclass(frozen=True, slots=True)
class ShareResult:
    share: ReferralShare
    link: ReferralLink
    created: bool  # False: a repeat of a request already taken (same idempotency key)


def normalized_recipient(channel: ShareChannel, to: str) -> str:
    """The address to send to, as the provider wants it; INVALID_RECIPIENT otherwise."""
    value = to.strip()
    if channel is ShareChannel.EMAIL:
        try:
            checked = validate_email(value, check_deliverability=False)
        except EmailNotValidError as error:
            raise ReferralError(
                ReferralErrorCode.INVALID_RECIPIENT, "to", f"not an email address: {error}"
            ) from None
        return checked.normalized
    phone = _PHONE_SEPARATORS.sub("", value)
    if not _E164.fullmatch(phone):
        raise ReferralError(
            ReferralErrorCode.INVALID_RECIPIENT,
            "to",
            "a phone number in international format is needed, like +14155550123",
        )
    return phone


def _isolated(text: str, rtl: bool) -> str:
    return f"{_ISOLATE}{text}{_POP_ISOLATE}" if rtl else text


async def share_link(
    session: AsyncSession,
    merchant_id: str,
    advocate_id: str,
    request: ShareRequest,
    *,
    cipher: FieldCipher,
    link_url_template: str,
    shop_domain: str,
    limit: int,
    now: datetime,
) -> ShareResult:
    """Record and queue one share of the advocate's link (made now if they had none)."""
    if len(request.to) > MAX_RECIPIENT_LENGTH:
        raise ReferralError(ReferralErrorCode.INVALID_RECIPIENT, "to", "too long")
    recipient = normalized_recipient(request.channel, request.to)
    program, _ = await referral_program(session, merchant_id)
    if not program.enabled:
        raise ReferralError(
            ReferralErrorCode.PROGRAM_DISABLED, "channel", "the shop takes no new referrals"
        )
    if request.channel not in program.channels:
        raise ReferralError(
            ReferralErrorCode.CHANNEL_DISABLED,
            "channel",
            f"the shop does not share referrals by {request.channel.value}",
        )
    link = (await create_referral_link(session, merchant_id, advocate_id)).link
    # One advocate's shares queue behind each other here: the count below stays true.
    await ReferralsRepository(session, merchant_id).get_one_or_none(
        ReferralLink.id == link.id, for_update=True
    )
    shares = ReferralShareRepository(session, merchant_id)
    key = request.idempotency_key or new_id()
    existing = await shares.by_idempotency_key(advocate_id, key)
    if existing is not None:
        return ShareResult(existing, link, created=False)
    if await shares.shared_since(advocate_id, now - SHARE_WINDOW) >= limit:
        raise ReferralError(
            ReferralErrorCode.SHARE_LIMIT_REACHED,
            "channel",
            f"at most {limit} shares in 24 hours; try again later",
        )
    language = closest_locale(request.locale)
    rtl = language in RTL_LOCALES
    url = referral_url(link_url_template, shop_domain=shop_domain, code=link.code)
    share = await shares.insert_share(
        {
            "id": new_id(),
            "link_id": link.id,
            "advocate_customer_id": advocate_id,
            "channel": request.channel.value,
            "recipient_encrypted": cipher.encrypt(recipient, context=REFERRAL_SHARES_RECIPIENT),
            "recipient_hash": cipher.blind_index(recipient, context=REFERRAL_SHARES_RECIPIENT),
            "locale": language,
            "subject": SUBJECTS[language],
            "body": f"{program.text(language)} {_isolated(url, rtl)}",
            "idempotency_key": key,
            "status": ReferralShareStatus.QUEUED.value,
            "next_attempt_at": now,
            "created_at": now,
        }
    )
    assert share is not None, "the advocate's link is locked and the key was free"
    return ShareResult(share, link, created=True)


def share_job_id(share_id: str, attempt: int = 0) -> str:
    return f"referral-share:{share_id}" if attempt == 0 else f"referral-share:{share_id}:{attempt}"


async def enqueue_share(
    redis: Redis,
    merchant_id: str,
    share_id: str,
    *,
    attempt: int = 0,
    defer_seconds: float | None = None,
) -> bool:
    """Ask the worker to send the share (after the commit that queued it); False when Redis
    is away: the share stays queued in Postgres and the worker's sweep sends it."""
    try:
        await job_queue(redis).enqueue_job(
            SEND_REFERRAL_SHARE,
            merchant_id,
            share_id,
            _job_id=share_job_id(share_id, attempt),
            _defer_by=defer_seconds,
        )
    except (RedisError, OSError) as error:
        log.warning("referral_share_enqueue_failed", share_id=share_id, error=str(error))
        return False
    return True
