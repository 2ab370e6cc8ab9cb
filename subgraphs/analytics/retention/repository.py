"""The statement behind retention cohorts: read-only, over the order facts and (to tell a
member) the ledger; one pass whatever the shop's size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.analytics.roi.repository import AUTOMATIC_EARNS, ENGAGED_KINDS


@dataclass(frozen=True, slots=True)
class CohortCell:
    """Customers of the cohort starting ``month`` (member or not) who ordered ``months_after``
    calendar months after it (0: the cohort itself)."""

    month: date
    member: bool
    months_after: int
    customers: int


# Months are calendar months in UTC. A customer's cohort is the month of their first order
# that was not cancelled; they are a member when they had earned or spent points before that
# month ended (the program had them from the start; the bonuses every account gets by itself,
# ``AUTOMATIC_EARNS``, do not make a member).
_COHORT_CELLS = text(
    """
    WITH counted AS (
        SELECT customer_id, created_at AT TIME ZONE 'UTC' AS placed
        FROM orders
        WHERE merchant_id = :merchant_id AND cancelled_at IS NULL AND customer_id IS NOT NULL
    ),
    cohort AS (
        SELECT customer_id, date_trunc('month', min(placed)) AS month
        FROM counted
        GROUP BY customer_id
        HAVING min(placed) >= :start AND min(placed) < :end
    ),
    judged AS (
        SELECT cohort.*,
               EXISTS (
                   SELECT 1 FROM points_transactions t
                   WHERE t.merchant_id = :merchant_id AND t.customer_id = cohort.customer_id
                     AND t.kind = ANY(CAST(:engaged_kinds AS text[])) AND t.points <> 0
                     AND (t.kind <> 'earn'
                          OR coalesce(t.source, '') <> ALL(CAST(:automatic_earns AS text[])))
                     AND t.created_at < (cohort.month + interval '1 month') AT TIME ZONE 'UTC'
               ) AS member
        FROM cohort
    ),
    active AS (
        SELECT DISTINCT judged.customer_id, judged.month, judged.member,
               CAST(
                   (extract(year FROM date_trunc('month', counted.placed))
                      - extract(year FROM judged.month)) * 12
                   + extract(month FROM date_trunc('month', counted.placed))
                   - extract(month FROM judged.month)
                   AS integer
               ) AS months_after
        FROM judged JOIN counted USING (customer_id)
    )
    SELECT CAST(month AS date), member, months_after, count(*)
    FROM active
    WHERE months_after <= :months
    GROUP BY month, member, months_after
    ORDER BY month, member, months_after
    """
)


class RetentionRepository:
    """One merchant's cohorts (read-only: the tables belong to their domains)."""

    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self._session = session
        self._merchant_id = merchant_id

    async def cohort_cells(self, first: date, after_last: date, months: int) -> list[CohortCell]:
        """Cells of the cohorts from month ``first`` to before month ``after_last`` (first
        days of months), up to ``months`` after each."""
        rows = await self._session.execute(
            _COHORT_CELLS,
            {
                "merchant_id": self._merchant_id,
                # Compared with UTC wall-clock times.
                "start": datetime(first.year, first.month, 1),
                "end": datetime(after_last.year, after_last.month, 1),
                "months": months,
                "engaged_kinds": list(ENGAGED_KINDS),
                "automatic_earns": list(AUTOMATIC_EARNS),
            },
        )
        return [CohortCell(month, member, after, count) for month, member, after, count in rows]
