"""Clicks on referral links: each visitor counted once per link per UTC day, so
``ReferralLink.clicks`` counts people, not page loads. The visitor is known only by keyed
hashes of their IP and user agent (the app's blind-index key): a click can be matched with an
advocate's own device for fraud scoring, and neither can be read back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import REFERRAL_EVENTS_VISITOR
from db.ids import new_id
from subgraphs.referrals.clicks.repository import ReferralEventRepository
from subgraphs.referrals.repository import ReferralsRepository


@dataclass(frozen=True, slots=True)
class Visit:
    ip: str | None
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class Click:
    link_found: bool
    counted: bool  # False: the visitor clicked this link already today (or no link)


def visit_hashes(visit: Visit, cipher: FieldCipher) -> tuple[str, str | None, str | None]:
    """(visitor, IP, user agent) hashes; the visitor is the IP and user agent together."""

    def keyed(value: str) -> str:
        return cipher.blind_index(value, context=REFERRAL_EVENTS_VISITOR)

    visitor = keyed(f"{visit.ip or '-'}\x00{visit.user_agent or '-'}")
    return (
        visitor,
        None if visit.ip is None else keyed(f"ip\x00{visit.ip}"),
        None if visit.user_agent is None else keyed(f"ua\x00{visit.user_agent}"),
    )


async def record_click(
    session: AsyncSession,
    merchant_id: str,
    code: str,
    visit: Visit,
    cipher: FieldCipher,
    *,
    now: datetime,
) -> Click:
    links = ReferralsRepository(session, merchant_id)
    found = await links.links_by_codes([code.strip().upper()])
    if not found:
        return Click(link_found=False, counted=False)
    link = found[0]
    visitor, ip_hash, user_agent_hash = visit_hashes(visit, cipher)
    counted = await ReferralEventRepository(session, merchant_id).insert_click(
        {
            "id": new_id(),
            "link_id": link.id,
            "visitor_hash": visitor,
            "ip_hash": ip_hash,
            "user_agent_hash": user_agent_hash,
            "day": now.astimezone(UTC).date(),
            "created_at": now,
        }
    )
    if counted:
        await links.count_click(link.id)
    return Click(link_found=True, counted=counted)
