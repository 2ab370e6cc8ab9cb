"""Every SQL statement on ``rfm_thresholds``, ``customer_segments``, ``rfm_score_history``,
``rfm_benchmarks`` and the ``rfm_segment_counts`` view, and analytics' two columns of
``customers`` (``rfm_score``, ``rfm_segment``: written here only, read by points)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, literal, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.ids import new_id
from db.models import Customer, CustomerSegment, RfmBenchmark, RfmSettings
from subgraphs.kit.versioned_documents import VersionedDocumentRepository

ScoreRange = tuple[int, int]
ANY_SCORE: ScoreRange = (1, 5)


@dataclass(frozen=True, slots=True)
class SegmentRule:
    """A segment: score ranges (inclusive) and the priority it is checked in (lowest first)."""

    name: str
    priority: int
    recency: ScoreRange = ANY_SCORE
    frequency: ScoreRange = ANY_SCORE
    monetary: ScoreRange = ANY_SCORE


@dataclass(frozen=True, slots=True)
class SegmentCount:
    segment: str
    customers: int


@dataclass(frozen=True, slots=True)
class Scored:
    scored: int  # customers with order facts
    changed: int  # whose scores or segment moved (each got a history row)
    cleared: int  # who lost their last order fact (scores and segment emptied)
    # The customers changed or cleared, when some customers were asked for (else empty).
    moved: frozenset[str]


@dataclass(frozen=True, slots=True)
class CustomerRfm:
    recency: int
    frequency: int
    monetary: int
    score: Decimal
    segment: str | None


# One pass over the shop (or some customers: :customer_ids, the buyers of a batch of order
# webhooks), whatever its size; a few customers' pass costs the same on a shop of any size (the
# shop's average comes stored from the last full pass, which keeps it in
# ``rfm_shop_averages``: this statement is the table's one writer).
# Each CTE is one step of the rules in ``rfm.service``; the two UPDATEs touch disjoint
# customers (with order facts / without any left), and only rows whose scores or segment move
# are written, each with a history row.
_SCORE = text(
    """
    WITH stored AS MATERIALIZED (
        -- One customer is scored against the average the last full pass used (as every
        -- other customer was), when there is one; a full pass counts the shop's orders.
        SELECT orders, net FROM rfm_shop_averages
        WHERE merchant_id = :merchant_id AND CAST(:customer_ids AS text[]) IS NOT NULL
    ),
    shop AS MATERIALIZED (
        -- Once: inlined, it was a scan of every order per monetary band compared. Not at all
        -- when stored: the scan is an InitPlan-gated branch Postgres never executes then.
        SELECT orders, net FROM stored
        UNION ALL
        SELECT count(*) AS orders, sum(total - refunded_amount) AS net
        FROM orders
        WHERE merchant_id = :merchant_id AND cancelled_at IS NULL
          AND NOT EXISTS (SELECT FROM stored)
        HAVING NOT EXISTS (SELECT FROM stored)
    ),
    remembered AS (
        -- A full pass keeps the average it scored the shop against.
        INSERT INTO rfm_shop_averages (merchant_id, orders, net, as_of)
        SELECT :merchant_id, orders, net, CAST(:now AS timestamptz)
        FROM shop WHERE CAST(:customer_ids AS text[]) IS NULL
        ON CONFLICT (merchant_id) DO UPDATE
        SET orders = excluded.orders, net = excluded.net, as_of = excluded.as_of
    ),
    facts AS (
        SELECT customer_id, count(*) AS orders, sum(total - refunded_amount) AS spent,
               max(created_at) AS last_at, min(created_at) AS first_at
        FROM orders
        WHERE merchant_id = :merchant_id AND cancelled_at IS NULL AND customer_id IS NOT NULL
          AND (CAST(:customer_ids AS text[]) IS NULL
               OR customer_id = ANY(CAST(:customer_ids AS text[])))
        GROUP BY customer_id
    ),
    measured AS (
        SELECT customer_id, facts.orders,
               greatest(
                   extract(epoch FROM CAST(:now AS timestamptz) - last_at) / 86400
                   - CASE WHEN CAST(:time_weighted AS boolean) AND facts.orders > 1
                          THEN extract(epoch FROM last_at - first_at) / 86400 / (facts.orders - 1)
                          ELSE 0 END,
                   0
               ) AS days,
               -- spent / AOV >= edge, as spent x orders >= edge x net: exact on the edge (no
               -- rounded quotient). A shop whose orders were all refunded has no AOV: M1.
               spent * shop.orders AS spent_by_orders,
               CASE WHEN shop.net > 0 THEN shop.net END AS net
        FROM facts CROSS JOIN shop
    ),
    scored AS (
        SELECT customer_id,
               CASE WHEN days <= :r5 THEN 5 WHEN days <= :r4 THEN 4
                    WHEN days <= :r3 THEN 3 WHEN days <= :r2 THEN 2 ELSE 1 END AS r,
               CASE WHEN orders >= :f5 THEN 5 WHEN orders >= :f4 THEN 4
                    WHEN orders >= :f3 THEN 3 WHEN orders >= :f2 THEN 2 ELSE 1 END AS f,
               CASE WHEN spent_by_orders >= :m5 * net THEN 5
                    WHEN spent_by_orders >= :m4 * net THEN 4
                    WHEN spent_by_orders >= :m3 * net THEN 3
                    WHEN spent_by_orders >= :m2 * net THEN 2 ELSE 1 END AS m
        FROM measured
    ),
    rules AS MATERIALIZED (
        -- read once, not once per customer
        SELECT * FROM jsonb_to_recordset(CAST(:segments AS jsonb)) AS rule(
            name text, priority int, recency_min int, recency_max int,
            frequency_min int, frequency_max int, monetary_min int, monetary_max int)
    ),
    segmented AS (
        SELECT s.customer_id, s.r, s.f, s.m,
               jsonb_build_object(
                   'recency', s.r, 'frequency', s.f, 'monetary', s.m,
                   'score', round((s.r + s.f + s.m) / 3.0, 2)
               ) AS document,
               round((s.r + s.f + s.m) / 3.0, 2) AS score,
               (SELECT rule.name
                FROM rules rule
                WHERE s.r BETWEEN rule.recency_min AND rule.recency_max
                  AND s.f BETWEEN rule.frequency_min AND rule.frequency_max
                  AND s.m BETWEEN rule.monetary_min AND rule.monetary_max
                ORDER BY rule.priority, rule.name
                LIMIT 1) AS segment
        FROM scored s
    ),
    changed AS (
        UPDATE customers c
        SET rfm_score = s.document, rfm_segment = s.segment
        FROM segmented s
        WHERE c.merchant_id = :merchant_id AND c.id = s.customer_id
          AND (c.rfm_score IS DISTINCT FROM s.document OR c.rfm_segment IS DISTINCT FROM s.segment)
        RETURNING c.id, s.r, s.f, s.m, s.score, s.segment
    ),
    cleared AS (
        UPDATE customers c
        SET rfm_score = NULL, rfm_segment = NULL
        WHERE c.merchant_id = :merchant_id AND c.rfm_score IS NOT NULL
          AND (CAST(:customer_ids AS text[]) IS NULL
               OR c.id = ANY(CAST(:customer_ids AS text[])))
          AND NOT EXISTS (SELECT 1 FROM facts WHERE facts.customer_id = c.id)
        RETURNING c.id
    ),
    history AS (
        INSERT INTO rfm_score_history (
            merchant_id, customer_id, computed_at, recency, frequency, monetary, score, segment
        )
        SELECT :merchant_id, id, CAST(:now AS timestamptz), r, f, m, score, segment FROM changed
        ON CONFLICT (merchant_id, customer_id, computed_at) DO UPDATE
        SET recency = excluded.recency, frequency = excluded.frequency,
            monetary = excluded.monetary, score = excluded.score, segment = excluded.segment
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM scored) AS scored,
           (SELECT count(*) FROM history) AS changed,
           (SELECT count(*) FROM cleared) AS cleared,
           -- Who moved, for the few customers of a batch (a full pass has no use for 50,000).
           CASE WHEN CAST(:customer_ids AS text[]) IS NOT NULL THEN
               (SELECT coalesce(array_agg(id), '{}')
                FROM (SELECT id FROM changed UNION SELECT id FROM cleared) AS moved)
           END AS moved
    """
)
_REFRESH = text("REFRESH MATERIALIZED VIEW CONCURRENTLY rfm_segment_counts")
# The view keeps the transaction's merchant (``app.merchant_id``); the filter on merchant_id
# says the same, so isolation stays twofold although a materialized view has no RLS.
_COUNTS = text(
    "SELECT segment_name, customer_count FROM rfm_segment_counts_of_tenant "
    "WHERE merchant_id = :merchant_id"
)


def _segment_json(rule: SegmentRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "priority": rule.priority,
        "recency_min": rule.recency[0],
        "recency_max": rule.recency[1],
        "frequency_min": rule.frequency[0],
        "frequency_max": rule.frequency[1],
        "monetary_min": rule.monetary[0],
        "monetary_max": rule.monetary[1],
    }


def _rule_of(row: CustomerSegment) -> SegmentRule:
    def bounds(low: int | None, high: int | None) -> ScoreRange:
        return (low or 1, high or 5)

    return SegmentRule(
        row.name,
        row.priority,
        recency=bounds(row.recency_min, row.recency_max),
        frequency=bounds(row.frequency_min, row.frequency_max),
        monetary=bounds(row.monetary_min, row.monetary_max),
    )


async def refresh_segment_counts(session: AsyncSession) -> None:
    """As the view's owner (a system unit of work): the app role may only read it."""
    await session.execute(_REFRESH)


class RfmRepository(VersionedDocumentRepository[RfmSettings]):
    """The thresholds document (``document`` / ``save_document``), the presets, the
    merchant's segments, and the RFM columns of customers."""

    model = RfmSettings

    @staticmethod
    async def benchmarks(session: AsyncSession) -> list[RfmBenchmark]:
        """Presets are the same for every shop (no tenant)."""
        return list(
            (await session.scalars(select(RfmBenchmark).order_by(RfmBenchmark.industry))).all()
        )

    @staticmethod
    async def benchmark(session: AsyncSession, industry: str) -> RfmBenchmark | None:
        return await session.scalar(select(RfmBenchmark).where(RfmBenchmark.industry == industry))

    async def merchant_segments(self) -> list[SegmentRule]:
        rows = await self._session.scalars(
            select(CustomerSegment)
            .where(CustomerSegment.merchant_id == self._merchant_id)
            .order_by(CustomerSegment.priority, CustomerSegment.name)
        )
        return [_rule_of(row) for row in rows]

    async def scoring_inputs(self) -> tuple[dict[str, Any] | None, list[SegmentRule]]:
        """The thresholds document (None: never saved) and the merchant's segments, in one
        statement: a recompute of one customer after each order read them in two (issue 12)."""
        one_row = select(literal(1).label("one")).subquery()
        rows = (
            await self._session.execute(
                select(RfmSettings.config, CustomerSegment)
                .select_from(one_row)
                .outerjoin(RfmSettings, RfmSettings.merchant_id == self._merchant_id)
                .outerjoin(CustomerSegment, CustomerSegment.merchant_id == self._merchant_id)
                .order_by(CustomerSegment.priority, CustomerSegment.name)
            )
        ).all()
        return rows[0][0], [_rule_of(row[1]) for row in rows if row[1] is not None]

    async def segment_named(self, name: str) -> tuple[str, SegmentRule] | None:
        row = await self._session.scalar(
            select(CustomerSegment).where(
                CustomerSegment.merchant_id == self._merchant_id, CustomerSegment.name == name
            )
        )
        return None if row is None else (row.id, _rule_of(row))

    async def insert_segment(self, rule: SegmentRule) -> str | None:
        """The new segment's id; None when the shop has one of that name."""
        segment_id = new_id()
        statement = (
            pg_insert(CustomerSegment)
            .values(
                merchant_id=self._merchant_id,
                id=segment_id,
                name=rule.name,
                priority=rule.priority,
                recency_min=rule.recency[0],
                recency_max=rule.recency[1],
                frequency_min=rule.frequency[0],
                frequency_max=rule.frequency[1],
                monetary_min=rule.monetary[0],
                monetary_max=rule.monetary[1],
            )
            .on_conflict_do_nothing(index_elements=["merchant_id", "name"])
            .returning(CustomerSegment.id)
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def delete_segment(self, segment_id: str) -> bool:
        result = await self._session.execute(
            delete(CustomerSegment)
            .where(
                CustomerSegment.merchant_id == self._merchant_id, CustomerSegment.id == segment_id
            )
            .returning(CustomerSegment.id)
        )
        return result.scalar_one_or_none() is not None

    async def score(
        self,
        thresholds: dict[str, Any],
        segments: Sequence[SegmentRule],
        *,
        now: datetime,
        customer_ids: Sequence[str] | None,
    ) -> Scored:
        """Every customer of the shop, or ``customer_ids``."""
        recency = thresholds["recency_days"]
        frequency = thresholds["frequency_orders"]
        monetary = [Decimal(value) for value in thresholds["monetary_aov_multiples"]]
        parameters: dict[str, Any] = {
            "merchant_id": self._merchant_id,
            "customer_ids": None if customer_ids is None else list(customer_ids),
            "now": now,
            "time_weighted": bool(thresholds["time_weighted"]),
            "segments": json.dumps([_segment_json(rule) for rule in segments]),
        }
        for score in range(4):
            parameters[f"r{5 - score}"] = recency[score]
            parameters[f"f{score + 2}"] = frequency[score]
            parameters[f"m{score + 2}"] = monetary[score]
        row = (await self._session.execute(_SCORE, parameters)).one()
        moved = frozenset(row.moved or ())
        return Scored(int(row.scored), int(row.changed), int(row.cleared), moved)

    async def segment_counts(self) -> list[SegmentCount]:
        rows = await self._session.execute(_COUNTS, {"merchant_id": self._merchant_id})
        return [SegmentCount(str(name), int(count)) for name, count in rows]

    async def rfm_by_customer(self, customer_ids: Sequence[str]) -> dict[str, CustomerRfm]:
        rows = await self._session.execute(
            select(Customer.id, Customer.rfm_score, Customer.rfm_segment).where(
                Customer.merchant_id == self._merchant_id,
                Customer.id.in_(customer_ids),
                Customer.rfm_score.is_not(None),
            )
        )
        return {
            customer_id: CustomerRfm(
                recency=int(document["recency"]),
                frequency=int(document["frequency"]),
                monetary=int(document["monetary"]),
                score=Decimal(str(document["score"])),
                segment=segment,
            )
            for customer_id, document, segment in rows
        }
