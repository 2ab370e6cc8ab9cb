"""The merchant's Shopify Admin API budget, as last reported by Shopify."""

from __future__ import annotations

from datetime import datetime

import strawberry

from subgraphs.kit.integrations.shopify_admin import ThrottleStatus


@strawberry.type(
    description="Shopify's cost-based rate limit for this shop, from the latest Admin API call. "
    "An alert goes to the merchant (Slack) once per window when use reaches the threshold."
)
class RateLimitStatus:
    maximum_available: float = strawberry.field(description="Bucket size, in cost points.")
    currently_available: float = strawberry.field(description="Cost points left.")
    restore_rate: float = strawberry.field(description="Cost points restored per second.")
    used_percent: float = strawberry.field(description="Share of the bucket in use, 0-100.")
    alert_threshold_percent: float = strawberry.field(description="Use that triggers an alert.")
    near_limit: bool = strawberry.field(description="Use is at or above the alert threshold.")
    observed_at: datetime = strawberry.field(description="When Shopify reported these numbers.")

    @classmethod
    def from_status(cls, status: ThrottleStatus, alert_at: float) -> RateLimitStatus:
        return cls(
            maximum_available=status.maximum_available,
            currently_available=status.currently_available,
            restore_rate=status.restore_rate,
            used_percent=round(status.used_fraction * 100, 1),
            alert_threshold_percent=alert_at * 100,
            near_limit=status.used_fraction >= alert_at,
            observed_at=status.observed_at,
        )
