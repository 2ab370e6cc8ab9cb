"""GraphQL types of consents."""

from __future__ import annotations

from datetime import datetime

import strawberry

from db.models import Consent
from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.user_errors import user_errors_field
from subgraphs.points.consents import service
from subgraphs.points.user_errors import PointsUserError

ConsentType = domain_enum(
    service.ConsentType,
    name="ConsentType",
    description="What a customer may consent to.",
    values={
        "NEWSLETTER": "Marketing messages (points earned, tier upgrades, referral and expiry "
        "reminders). Once revoked, only transactional messages (reward codes, GDPR notices) "
        "go out.",
        "RFM_TRACKING": "Being scored and segmented by recency, frequency and spend.",
        "REFERRALS": "Taking part in the referral program.",
    },
)
ConsentStatus = domain_enum(
    service.ConsentStatus,
    name="ConsentStatus",
    description="A customer's choice.",
    values={"GRANTED": "They agreed.", "REVOKED": "They withdrew (or never gave) consent."},
)
ConsentSource = domain_enum(
    service.ConsentSource,
    name="ConsentSource",
    description="Where a consent was given or withdrawn.",
    values={
        "WIDGET": "By the customer, in the storefront widget.",
        "IMPORT": "Imported from another loyalty app.",
        "SHOPIFY_ACCEPTS_MARKETING": "Shopify's accepts_marketing flag of the customer.",
        "STAFF": "By the merchant or LoyalNest staff, on the customer's request.",
    },
)


@strawberry.type(description="A customer's current choice for one consent type.")
class CustomerConsent:
    type: ConsentType = strawberry.field(description="What it is about.")  # type: ignore[valid-type]
    status: ConsentStatus = strawberry.field(description="Granted or revoked.")  # type: ignore[valid-type]
    source: ConsentSource = strawberry.field(description="Where it was given.")  # type: ignore[valid-type]
    text_version: str | None = strawberry.field(
        description="The version of the consent text the customer was shown."
    )
    updated_at: datetime = strawberry.field(description="When the choice was made.")

    @classmethod
    def from_row(cls, row: Consent) -> CustomerConsent:
        return cls(
            type=service.ConsentType(row.consent_type),
            status=service.ConsentStatus(row.status),
            source=service.ConsentSource(row.source),
            text_version=row.text_version,
            updated_at=row.created_at,
        )


@strawberry.input(description="One consent to grant or revoke.")
class ConsentChangeInput:
    type: ConsentType = strawberry.field(description="What it is about.")  # type: ignore[valid-type]
    status: ConsentStatus = strawberry.field(description="Grant or revoke.")  # type: ignore[valid-type]


@strawberry.input(description="A customer's consent choices.")
class CustomerConsentUpdateInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer.")
    consents: list[ConsentChangeInput] = strawberry.field(
        description="The choices, at most one per type."
    )
    text_version: str | None = strawberry.field(
        default=None, description="The version of the consent text shown (1 to 64 characters)."
    )
    source: ConsentSource | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description="Staff only: where the consent was given (default STAFF). A customer "
        "token always records WIDGET.",
    )


@strawberry.type(description="The result of customerConsentUpdate.")
class CustomerConsentUpdatePayload:
    consents: list[CustomerConsent] = strawberry.field(
        default_factory=list, description="The customer's current consents; empty when refused."
    )
    user_errors: list[PointsUserError] = user_errors_field()
