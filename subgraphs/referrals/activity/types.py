"""GraphQL types of the referral program's live activity."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry

from db.models import ReferralStatus
from subgraphs.kit.graphql.node import global_id
from subgraphs.kit.graphql.scalars import UnsignedInt64
from subgraphs.referrals.activity.service import ActivitySnapshot
from subgraphs.referrals.conversions.types import ReferralStatusEnum


@strawberry.type(
    description="A referral as it just changed. Refetch it with `node(id:)` for the rest (a "
    "live snapshot carries no nested reads)."
)
class ReferralActivityEntry:
    referral_id: strawberry.ID = strawberry.field(description="The referral's global ID.")
    status: ReferralStatusEnum = strawberry.field(description="Where it stands now.")  # type: ignore[valid-type]
    fraud_score: Decimal = strawberry.field(description="Its fraud score, 0 to 1.")
    flagged: bool = strawberry.field(
        description="Whether it scores at or above the program's fraud threshold (its rewards "
        "are held for review once it completes)."
    )
    changed_at: datetime = strawberry.field(description="When it last changed.")


@strawberry.type(description="The referral program's UTC day so far, live.")
class ReferralActivity:
    day: date = strawberry.field(description="The UTC day the counts are of.")
    clicks: UnsignedInt64 = strawberry.field(
        description="Link clicks today (a visitor counts once per link a day)."
    )
    unique_visitors: UnsignedInt64 = strawberry.field(description="Distinct visitors today.")
    referrals_created: UnsignedInt64 = strawberry.field(description="Friends attributed today.")
    referrals_completed: UnsignedInt64 = strawberry.field(description="Referrals completed today.")
    referrals_rejected: UnsignedInt64 = strawberry.field(
        description="Referrals staff rejected today."
    )
    held_for_review: UnsignedInt64 = strawberry.field(
        description="Referrals flagged as suspicious whose rewards wait for review now."
    )
    latest: list[ReferralActivityEntry] = strawberry.field(
        description="The referrals that changed last, newest first (at most 10)."
    )

    @classmethod
    def of(cls, snapshot: ActivitySnapshot) -> ReferralActivity:
        return cls(
            day=snapshot.day,
            clicks=UnsignedInt64(snapshot.clicks),
            unique_visitors=UnsignedInt64(snapshot.unique_visitors),
            referrals_created=UnsignedInt64(snapshot.referrals_created),
            referrals_completed=UnsignedInt64(snapshot.referrals_completed),
            referrals_rejected=UnsignedInt64(snapshot.referrals_rejected),
            held_for_review=UnsignedInt64(snapshot.held_for_review),
            latest=[
                ReferralActivityEntry(
                    referral_id=global_id("Referral", row.id),
                    status=ReferralStatus(row.status),
                    fraud_score=Decimal(row.fraud_score),
                    flagged=snapshot.flagged(row),
                    changed_at=row.updated_at,
                )
                for row in snapshot.latest
            ],
        )
