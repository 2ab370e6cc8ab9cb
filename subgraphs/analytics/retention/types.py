"""GraphQL types of retention cohorts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import strawberry

from subgraphs.analytics.retention import service
from subgraphs.kit.graphql.scalars import UnsignedInt64


@strawberry.type(description="Customers of a cohort who ordered again some months after it.")
class MonthRetention:
    months_after: int = strawberry.field(
        description="Calendar months after the cohort's month: 1 is the next month."
    )
    customers: UnsignedInt64 = strawberry.field(
        description="The group's customers with an order (not cancelled) in that month."
    )
    share: Decimal | None = strawberry.field(
        description="`customers` / the group's customers, 0 to 1; null for an empty group."
    )


@strawberry.type(description="One group of a cohort's customers.")
class CohortGroup:
    customers: UnsignedInt64 = strawberry.field(description="Customers in the group.")
    retention: list[MonthRetention] = strawberry.field(
        description="Month by month after the cohort's month, up to `monthsAfter` and only "
        "months that have begun (the current one so far)."
    )

    @classmethod
    def of(cls, group: service.CohortGroup) -> CohortGroup:
        return cls(
            customers=UnsignedInt64(group.customers),
            retention=[
                MonthRetention(
                    months_after=month.months_after,
                    customers=UnsignedInt64(month.customers),
                    share=month.share,
                )
                for month in group.retention
            ],
        )


@strawberry.type(
    description="The customers whose first order (not cancelled) fell in one calendar month "
    "(UTC), and how many came back in each month after."
)
class RetentionCohort:
    month: date = strawberry.field(description="The cohort's month, as its first day.")
    everyone: CohortGroup = strawberry.field(description="Every customer of the cohort.")
    members: CohortGroup = strawberry.field(
        description="Those who had earned or spent points by the end of the cohort's month."
    )
    non_members: CohortGroup = strawberry.field(description="The others.")

    @classmethod
    def of(cls, cohort: service.Cohort) -> RetentionCohort:
        return cls(
            month=cohort.month,
            everyone=CohortGroup.of(cohort.everyone),
            members=CohortGroup.of(cohort.members),
            non_members=CohortGroup.of(cohort.non_members),
        )
