"""Every SQL statement on ``churn_models``, and analytics' other two columns of
``customers`` (``churn_score``, ``lifecycle_stage``: written here only); the features are read
from the order facts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from db.models import ChurnModel, Customer
from subgraphs.kit.repository import TenantRepository


@dataclass(frozen=True, slots=True)
class CustomerHistory:
    """A customer's orders (not cancelled) before a cutoff, and whether they ordered in the
    horizon after it (the training label; False when scoring, the horizon being empty)."""

    customer_id: str
    orders: int
    spent: Decimal
    recency_days: float
    tenure_days: float
    mean_gap_days: float | None
    vip: bool
    ordered_after: bool


@dataclass(frozen=True, slots=True)
class CustomerVerdict:
    customer_id: str
    churn_score: Decimal | None
    lifecycle_stage: str


# One pass over the shop's order facts, whatever its size.
_HISTORIES = text(
    """
    WITH facts AS (
        SELECT customer_id, count(*) AS orders, sum(total - refunded_amount) AS spent,
               min(created_at) AS first_at, max(created_at) AS last_at
        FROM orders
        WHERE merchant_id = :merchant_id AND cancelled_at IS NULL AND customer_id IS NOT NULL
          AND created_at < :cutoff
        GROUP BY customer_id
    )
    SELECT facts.customer_id, facts.orders, facts.spent,
           extract(epoch FROM CAST(:cutoff AS timestamptz) - facts.last_at) / 86400,
           extract(epoch FROM CAST(:cutoff AS timestamptz) - facts.first_at) / 86400,
           CASE WHEN facts.orders > 1
                THEN extract(epoch FROM facts.last_at - facts.first_at) / 86400
                     / (facts.orders - 1)
           END,
           customers.vip_tier_id IS NOT NULL,
           EXISTS (
               SELECT 1 FROM orders later
               WHERE later.merchant_id = :merchant_id AND later.customer_id = facts.customer_id
                 AND later.cancelled_at IS NULL
                 AND later.created_at >= :cutoff AND later.created_at < :horizon_end
           )
    FROM facts
    JOIN customers ON customers.merchant_id = :merchant_id AND customers.id = facts.customer_id
    """
)

# Only rows whose verdict moves are written.
_WRITE_VERDICTS = text(
    """
    UPDATE customers SET churn_score = verdict.score, lifecycle_stage = verdict.stage
    FROM unnest(CAST(:ids AS text[]), CAST(:scores AS numeric[]), CAST(:stages AS text[]))
         AS verdict(id, score, stage)
    WHERE customers.merchant_id = :merchant_id AND customers.id = verdict.id
      AND (customers.churn_score IS DISTINCT FROM verdict.score
           OR customers.lifecycle_stage IS DISTINCT FROM verdict.stage)
    """
)

# Customers without an order (not cancelled): new leads, with no score.
_NEW_LEADS = text(
    """
    UPDATE customers SET churn_score = NULL, lifecycle_stage = 'new_lead'
    WHERE merchant_id = :merchant_id
      AND (lifecycle_stage IS DISTINCT FROM 'new_lead' OR churn_score IS NOT NULL)
      AND NOT EXISTS (
          SELECT 1 FROM orders
          WHERE orders.merchant_id = :merchant_id AND orders.customer_id = customers.id
            AND orders.cancelled_at IS NULL
      )
    """
)


class ChurnRepository(TenantRepository[ChurnModel]):
    model = ChurnModel

    async def histories(self, cutoff: datetime, horizon_end: datetime) -> list[CustomerHistory]:
        rows = await self._session.execute(
            _HISTORIES,
            {"merchant_id": self._merchant_id, "cutoff": cutoff, "horizon_end": horizon_end},
        )
        return [
            CustomerHistory(
                customer_id,
                int(orders),
                spent,
                float(recency),
                float(tenure),
                None if gap is None else float(gap),
                bool(vip),
                bool(after),
            )
            for customer_id, orders, spent, recency, tenure, gap, vip, after in rows
        ]

    async def write_verdicts(self, verdicts: Sequence[CustomerVerdict]) -> int:
        """Scores and stages of customers with orders; then every other customer a new
        lead. How many rows changed."""
        changed = await self._session.execute(
            _WRITE_VERDICTS,
            {
                "merchant_id": self._merchant_id,
                "ids": [verdict.customer_id for verdict in verdicts],
                "scores": [verdict.churn_score for verdict in verdicts],
                "stages": [verdict.lifecycle_stage for verdict in verdicts],
            },
        )
        leads = await self._session.execute(_NEW_LEADS, {"merchant_id": self._merchant_id})
        return int(changed.rowcount) + int(leads.rowcount)  # type: ignore[attr-defined]

    async def current(self) -> ChurnModel | None:
        return (await self._session.scalars(self._select())).one_or_none()

    async def save(self, values: dict[str, Any]) -> ChurnModel:
        """The merchant's model, replaced by what this training found."""
        statement = (
            pg_insert(ChurnModel)
            .values(merchant_id=self._merchant_id, **values)
            .on_conflict_do_update(
                index_elements=[ChurnModel.merchant_id],
                set_={**values, "updated_at": text("now()")},
            )
            .returning(ChurnModel)
        )
        return (await self._session.scalars(statement)).one()

    async def scores_of(
        self, customer_ids: Sequence[str]
    ) -> dict[str, tuple[Decimal | None, str | None]]:
        rows = await self._session.execute(
            select(Customer.id, Customer.churn_score, Customer.lifecycle_stage).where(
                Customer.merchant_id == self._merchant_id, Customer.id.in_(customer_ids)
            )
        )
        return {customer_id: (score, stage) for customer_id, score, stage in rows}
