"""GraphQL types of the referrals subgraph."""

from __future__ import annotations

import strawberry

from db.models import ReferralLink as ReferralLinkRow
from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.node import NODE_ID_DESCRIPTION, global_id, local_id
from subgraphs.kit.graphql.scalars import UnsignedInt64
from subgraphs.kit.graphql.user_errors import UserError, user_errors_field
from subgraphs.kit.permissions import require_customer_access
from subgraphs.referrals import service
from subgraphs.referrals.loaders import ReferralsInfo
from subgraphs.referrals.service import referral_url


@strawberry.federation.type(keys=["id"], description="A customer's shareable referral link.")
class ReferralLink:
    id: strawberry.ID = strawberry.field(description=NODE_ID_DESCRIPTION)
    code: str = strawberry.field(description="The code friends enter or follow.")
    url: str = strawberry.field(description="Storefront URL carrying the code.")
    clicks: UnsignedInt64 = strawberry.field(description="How many times the link was followed.")

    @classmethod
    def from_row(cls, row: ReferralLinkRow, info: ReferralsInfo) -> ReferralLink:
        context = info.context
        return cls(
            id=global_id("ReferralLink", row.id),
            code=row.code,
            url=referral_url(
                context.resources.settings.storefront_url_template,
                shop_domain=context.viewer.shop_domain,
                code=row.code,
            ),
            clicks=UnsignedInt64(row.click_count),
        )

    @classmethod
    async def resolve_reference(cls, info: ReferralsInfo, id: strawberry.ID) -> ReferralLink | None:
        """A refetch by global ID: the viewer's link, readable as ``referralLink(code:)`` is."""
        row = await info.context.loaders.referral_link_by_id.load(local_id(id, "ReferralLink"))
        if row is None:
            return None
        require_customer_access(info.context.viewer, row.advocate_customer_id)
        return cls.from_row(row, info)


ReferralErrorCode = domain_enum(
    service.ReferralErrorCode,
    name="ReferralErrorCode",
    description="Why a referral mutation was refused; nothing was changed.",
    values={
        "CUSTOMER_NOT_FOUND": "The merchant has no such customer (or it is another "
        "merchant's). Check the id.",
        "INVALID_PROGRAM": "The referral program's settings do not validate; the field and "
        "message name the first problem. Correct it and send the change again.",
        "VERSION_CONFLICT": "The program changed since the `expectedVersion` sent. Reload it, "
        "reapply the change and send it with the new version.",
        "CODE_NOT_FOUND": "No referral link of this shop has this code. Check the code.",
        "SELF_REFERRAL": "A customer cannot be referred by their own link.",
        "REFERRAL_NOT_FOUND": "The shop has no such referral. Check the id.",
        "NOT_HELD": "The referral is not waiting for review: only held referrals are approved "
        "or rejected.",
        "NOT_A_SHOPPER": "Only a shopper signed in to the storefront (a customer token) can "
        "claim a referral code.",
        "PROGRAM_DISABLED": "The shop's referral program takes no new referrals now.",
        "LINK_EXPIRED": "The referral link is older than the program's linkExpiryDays; the "
        "advocate can share a new one.",
        "SHARE_LIMIT_REACHED": "The customer shared their link as often as a day allows; "
        "they can share again once their oldest share of the last 24 hours is a day old.",
        "INVALID_RECIPIENT": "`to` is not an email address (EMAIL) or a phone number in "
        "international format, like +14155550123 (SMS, WHATSAPP).",
        "CHANNEL_DISABLED": "The shop's referral program does not share on this channel.",
    },
)


@strawberry.type(description="An expected failure of a referral mutation.")
class ReferralUserError(UserError[service.ReferralErrorCode]):
    pass


@strawberry.input(description="Create (or fetch) a customer's referral link.")
class ReferralLinkCreateInput:
    customer_id: strawberry.ID = strawberry.field(description="The advocate.")


@strawberry.type(description="Result of referralLinkCreate.")
class ReferralLinkCreatePayload:
    referral_link: ReferralLink | None = strawberry.field(
        default=None, description="The advocate's link."
    )
    user_errors: list[ReferralUserError] = user_errors_field()
