"""The SQL of the daily ROI snapshots: ``roi_metrics`` (this repository owns it), and the one
read they need that ROI's live figures do not: the points liability's parts as of a past
instant, from the ledger rather than from today's balances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import text, tuple_
from sqlalchemy.dialects.postgresql import insert

from db.models import RoiMetrics
from subgraphs.analytics.roi.repository import LiabilityFacts, liability_facts_of
from subgraphs.kit.repository import TenantRepository

# Balances as of the instant are the signed sum of the ledger rows created before it (the
# ledger is the truth; ``customers.points_balance`` is its projection now). The value of a
# point: redemptions of the year before the instant, else the catalog of rewards that existed
# then (created before it, not yet deleted; a reward's later edits or pauses are not kept, so
# the catalog is as it stands).
_LIABILITY_AS_OF = text(
    """
    WITH valued AS (
        SELECT sum(value_amount) AS value, coalesce(sum(points_spent), 0) AS points
        FROM reward_redemptions
        WHERE merchant_id = :merchant_id AND status = 'issued' AND value_amount IS NOT NULL
          AND coalesce(currency_code, :currency) = :currency
          AND created_at >= :year_ago AND created_at < :as_of
    )
    SELECT (SELECT coalesce(sum(points), 0) FROM points_transactions
            WHERE merchant_id = :merchant_id AND created_at < :as_of),
           valued.value,
           valued.points,
           (SELECT max(value / points_cost) FROM rewards
            WHERE merchant_id = :merchant_id AND kind = 'fixed_amount' AND active
              AND value IS NOT NULL AND created_at < :as_of
              AND (deleted_at IS NULL OR deleted_at >= :as_of))
    FROM valued
    """
)

# Every column but the key and the stamp: what a re-run compares and replaces.
_FIGURES = [
    column.name
    for column in RoiMetrics.__table__.columns
    if column.name not in {"merchant_id", "day", "computed_at"}
]


@dataclass(frozen=True, slots=True)
class StoredDay:
    """A snapshot row as stored: its day, its figures by column name, when it was computed."""

    day: date
    figures: dict[str, Any]
    computed_at: datetime


class RoiMetricsRepository(TenantRepository[RoiMetrics]):
    model = RoiMetrics

    async def liability_facts_as_of(
        self, currency: str, as_of: datetime, year_ago: datetime
    ) -> LiabilityFacts:
        row = (
            await self._session.execute(
                _LIABILITY_AS_OF,
                {
                    "merchant_id": self._merchant_id,
                    "currency": currency,
                    "as_of": as_of,
                    "year_ago": year_ago,
                },
            )
        ).one()
        return liability_facts_of(row)

    async def replace_day(self, day: date, figures: dict[str, Any], now: datetime) -> bool:
        """Store the day's figures, replacing the day's row if it has one; a row whose figures
        are already these is left as it is (its ``computed_at`` too). True when written."""
        statement = insert(RoiMetrics).values(
            merchant_id=self._merchant_id, day=day, computed_at=now, **figures
        )
        excluded = statement.excluded
        table = RoiMetrics.__table__.c
        upsert = statement.on_conflict_do_update(
            index_elements=["merchant_id", "day"],
            set_={name: excluded[name] for name in [*_FIGURES, "computed_at"]},
            where=tuple_(*(table[name] for name in _FIGURES)).is_distinct_from(
                tuple_(*(excluded[name] for name in _FIGURES))
            ),
        ).returning(table.day)
        return (await self._session.execute(upsert)).first() is not None

    async def days_between(self, start: date, end: date) -> list[StoredDay]:
        """The stored days of [start, end), in day order."""
        table = RoiMetrics.__table__.c
        rows = await self._session.execute(
            self._select(table.day >= start, table.day < end)
            .with_only_columns(*RoiMetrics.__table__.columns)
            .order_by(table.day)
        )
        return [
            StoredDay(
                day=row.day,
                figures={name: getattr(row, name) for name in _FIGURES},
                computed_at=row.computed_at,
            )
            for row in rows
        ]
