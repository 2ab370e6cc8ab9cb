"""GraphQL types of referral shares."""

from __future__ import annotations

from datetime import datetime

import strawberry

from db.models import ReferralShare as ReferralShareRow
from db.models import ReferralShareStatus
from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.node import NODE_ID_DESCRIPTION, global_id
from subgraphs.kit.graphql.user_errors import user_errors_field
from subgraphs.referrals.program.service import RTL_LOCALES
from subgraphs.referrals.program.service import ShareChannel as ShareChannelValue
from subgraphs.referrals.program.types import ShareChannel
from subgraphs.referrals.types import ReferralLink, ReferralUserError

ReferralShareStatusEnum = domain_enum(
    ReferralShareStatus,
    name="ReferralShareStatus",
    description="Where the sending of a share stands.",
    values={
        "QUEUED": "Waiting to be sent (or to be tried again after a provider failure).",
        "SENT": "The provider accepted it.",
        "FAILED": "Not sent: the provider refused it, stayed unavailable through every try, "
        "or the shop has no account on that channel.",
    },
)


@strawberry.type(description="A customer's referral link sent to one person.")
class ReferralShare:
    id: strawberry.ID = strawberry.field(description=NODE_ID_DESCRIPTION)
    channel: ShareChannel = strawberry.field(description="How it is sent.")  # type: ignore[valid-type]
    locale: str = strawberry.field(description="The language of its text (en when unknown).")
    right_to_left: bool = strawberry.field(description="Whether its text reads right to left.")
    status: ReferralShareStatusEnum = strawberry.field(description="Where its sending stands.")  # type: ignore[valid-type]
    created_at: datetime = strawberry.field(description="When the customer shared.")

    @classmethod
    def from_row(cls, row: ReferralShareRow) -> ReferralShare:
        return cls(
            id=global_id("ReferralShare", row.id),
            channel=ShareChannelValue(row.channel),
            locale=row.locale,
            right_to_left=row.locale in RTL_LOCALES,
            status=ReferralShareStatus(row.status),
            created_at=row.created_at,
        )


@strawberry.input(description="Send the signed-in customer's referral link to someone.")
class ReferralShareInput:
    channel: ShareChannel = strawberry.field(description="Email, SMS or WhatsApp.")  # type: ignore[valid-type]
    to: str = strawberry.field(
        description="An email address (EMAIL) or a phone number in international format, "
        "like +14155550123 (SMS, WHATSAPP)."
    )
    locale: str = strawberry.field(
        default="en",
        description="The language to write in (en, es, fr, ar, he; others fall back to en).",
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Sending again with the same key returns the first share and sends "
        "nothing more (safe retries).",
    )


@strawberry.type(description="The result of referralShare.")
class ReferralSharePayload:
    share: ReferralShare | None = strawberry.field(default=None, description="The share.")
    referral_link: ReferralLink | None = strawberry.field(
        default=None, description="The link that was shared."
    )
    user_errors: list[ReferralUserError] = user_errors_field("Why nothing was shared.")
