"""The referral program's live activity: what changed it is announced on the merchant's
referrals channel after the commit (clicks at the edge app, attributions, completions, fraud
holds and reviews from the worker and the mutations), and ``referralActivity`` re-reads one
snapshot per event per merchant (``kit.graphql.subscriptions.live_snapshots``).

An announcement is a notification, never data: it says what kind of change happened, so a
dashboard may skip what it does not show, and the snapshot is read from Postgres."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Referral
from subgraphs.kit.after_commit import after_commit
from subgraphs.kit.pubsub import PubSub
from subgraphs.referrals.clicks.repository import ReferralEventRepository
from subgraphs.referrals.conversions.repository import (
    ConversionRepository,
    ReferralRewardRepository,
)
from subgraphs.referrals.program.service import referral_program

# How many of the latest changed referrals a snapshot carries.
LATEST_REFERRALS = 10


def referral_channel(merchant_id: str) -> str:
    """One merchant's referral activity: clicks, referrals attributed, completed, held for
    review (a fraud flag), rejected."""
    return f"loyalnest:referrals:{merchant_id}"


class ActivityKind(enum.StrEnum):
    CLICK = "click"
    REFERRAL_CREATED = "referral_created"
    REFERRAL_COMPLETED = "referral_completed"
    REFERRAL_HELD = "referral_held"  # completed, flagged as suspicious: waits for review
    REFERRAL_APPROVED = "referral_approved"
    REFERRAL_REJECTED = "referral_rejected"
    REFERRAL_EXPIRED = "referral_expired"
    REWARD_CANCELLED = "reward_cancelled"


async def announce(
    pubsub: PubSub, merchant_id: str, kind: ActivityKind, referral_id: str | None = None
) -> None:
    """Call after the commit: best effort and bounded (``PubSub.publish``)."""
    payload: dict[str, str] = {"kind": kind.value}
    if referral_id is not None:
        payload["referralId"] = referral_id
    await pubsub.publish(referral_channel(merchant_id), payload)


def announce_after_commit(
    session: AsyncSession,
    pubsub: PubSub,
    merchant_id: str,
    kind: ActivityKind,
    referral_id: str | None = None,
) -> None:
    """``announce`` once the session's transaction commits (never if it rolls back): for code
    inside a unit of work it does not own (the worker's webhook handlers)."""
    after_commit(session, lambda: announce(pubsub, merchant_id, kind, referral_id))


@dataclass(frozen=True, slots=True)
class ActivitySnapshot:
    """The program's UTC day so far, what waits for review, and the latest changes."""

    day: date
    clicks: int
    unique_visitors: int
    referrals_created: int
    referrals_completed: int
    referrals_rejected: int
    held_for_review: int
    latest: tuple[Referral, ...]
    fraud_threshold: Decimal  # a referral scoring this or more is flagged

    def flagged(self, referral: Referral) -> bool:
        return Decimal(referral.fraud_score) >= self.fraud_threshold


async def current_activity(
    session: AsyncSession, merchant_id: str, *, now: datetime | None = None
) -> ActivitySnapshot:
    """Five statements, whatever the number of links or referrals."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    start = datetime.combine(today, time(), UTC)
    clicks, visitors = await ReferralEventRepository(session, merchant_id).click_counts(
        today, today
    )
    referrals = ConversionRepository(session, merchant_id)
    created, completed, rejected = await referrals.activity_counts(start, start + timedelta(days=1))
    held = await ReferralRewardRepository(session, merchant_id).held_referrals_since(None)
    latest = await referrals.recently_changed(LATEST_REFERRALS)
    program, _ = await referral_program(session, merchant_id)
    return ActivitySnapshot(
        day=today,
        clicks=clicks.get(today, (0, 0))[0],
        unique_visitors=visitors,
        referrals_created=created,
        referrals_completed=completed,
        referrals_rejected=rejected,
        held_for_review=held,
        latest=tuple(latest),
        fraud_threshold=program.fraud_threshold,
    )
