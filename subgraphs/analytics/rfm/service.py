"""RFM scores and segments: analytics owns them (docs/architecture.md, "Who owns the RFM
segment").

A customer's scores, 1-5 each, come from their order facts (cancelled orders left out,
refunds taken off): **recency**, days since the last order, against four upper bounds (R5 up
to the first, ... R1 past the last); **frequency**, orders, against four lower bounds (F2 from
the first ... F5 from the last); **monetary**, their spend as a multiple of the shop's average
order value (every non-cancelled order, guests' too), against four lower bounds. The defaults
are the specification's static thresholds; a merchant may set their own (versioned), or start
from a preset in ``rfm_benchmarks``. With ``time_weighted`` (subscription shops) recency counts
from when the customer's usual cycle — their mean gap between orders — was due, so a monthly
subscriber is not "30 days lapsed" the day before their next box.

The segment is the first rule (lowest priority) whose score ranges hold: the merchant's own
segments, then the built-in ones. Computed set-based in SQL: for the whole shop nightly (one
statement whatever its size) and for one customer when an order fact arrives. That customer
is compared with the shop's average order value as the last full pass counted it (kept in
``rfm_shop_averages``), the one every other customer was scored against: the others keep
their scores until the nightly pass, and counting the shop's orders again for each order
cost a shop of 250,000 orders 70 ms an order. A shop not fully scored yet is counted live.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.session import system_unit_of_work
from subgraphs.analytics.errors import AnalyticsError, AnalyticsErrorCode
from subgraphs.analytics.rfm.repository import (
    CustomerRfm,
    RfmRepository,
    Scored,
    SegmentCount,
    SegmentRule,
    refresh_segment_counts,
)
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.validation import error_location
from subgraphs.kit.versioned_documents import save_new_version
from subgraphs.kit.write_context import WriteContext

__all__ = ["CustomerRfm", "SegmentCount", "SegmentRule"]

Days = Annotated[int, Field(ge=1, le=3650)]
Orders = Annotated[int, Field(ge=2, le=100_000)]
Multiple = Annotated[Decimal, Field(gt=0, le=1000, decimal_places=2)]


class RfmThresholds(BaseModel):
    """The four band edges of each score (see the module docstring for which way each runs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    recency_days: tuple[Days, Days, Days, Days] = (7, 30, 60, 90)
    frequency_orders: tuple[Orders, Orders, Orders, Orders] = (2, 4, 7, 11)
    monetary_aov_multiples: tuple[Multiple, Multiple, Multiple, Multiple] = (
        Decimal("0.5"),
        Decimal(1),
        Decimal(2),
        Decimal(5),
    )
    time_weighted: bool = False

    @model_validator(mode="after")
    def _ascending(self) -> Self:
        for name in ("recency_days", "frequency_orders", "monetary_aov_multiples"):
            edges = getattr(self, name)
            if any(low >= high for low, high in itertools.pairwise(edges)):
                raise ValueError(f"{name} must rise strictly from one score to the next")
        return self

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# The built-in segments, after the specification's names. Checked after the merchant's own
# (priority 100 and up); a customer matching none has scores and no segment.
BUILT_IN_SEGMENTS: tuple[SegmentRule, ...] = (
    SegmentRule("Champions", 100, recency=(4, 5), frequency=(4, 5), monetary=(4, 5)),
    SegmentRule("Loyal", 200, recency=(3, 5), frequency=(3, 5)),
    SegmentRule("New", 300, recency=(4, 5), frequency=(1, 1)),
    SegmentRule("At-Risk", 400, recency=(1, 2), frequency=(2, 5)),
    SegmentRule("Inactive", 500, recency=(1, 2)),
)


@dataclass(frozen=True, slots=True)
class Benchmark:
    industry: str
    description: str
    thresholds: RfmThresholds


def _invalid(error: ValidationError) -> AnalyticsError:
    first = error.errors()[0]
    where = error_location(first, "thresholds")
    return AnalyticsError(AnalyticsErrorCode.INVALID_THRESHOLDS, where, f"{where}: {first['msg']}")


def parse_thresholds(document: dict[str, Any] | None) -> RfmThresholds:
    return RfmThresholds.model_validate(document or {})


async def rfm_thresholds(session: AsyncSession, merchant_id: str) -> tuple[RfmThresholds, int]:
    """The merchant's thresholds and their version (0: never saved, the defaults)."""
    document, version = await RfmRepository(session, merchant_id).document()
    return parse_thresholds(document), version


async def rfm_benchmarks(session: AsyncSession) -> list[Benchmark]:
    rows = await RfmRepository.benchmarks(session)
    return [
        Benchmark(row.industry, row.description, parse_thresholds(row.thresholds)) for row in rows
    ]


async def update_rfm_thresholds(
    write: WriteContext,
    changes: dict[str, Any],
    *,
    preset: str | None = None,
    expected_version: int | None = None,
) -> tuple[RfmThresholds, int]:
    """Apply ``changes`` over the preset named (else over the current thresholds), validate
    the whole, and save it; only over ``expected_version`` when given. Scores follow at the
    next computation (the nightly pass, or the customer's next order)."""

    def stale(version: int) -> AnalyticsError:
        return AnalyticsError(
            AnalyticsErrorCode.VERSION_CONFLICT,
            "expectedVersion",
            f"the thresholds changed since version {expected_version} (they are at version "
            f"{version} now); reload them and apply the change again",
        )

    async def applied(document: dict[str, Any] | None) -> RfmThresholds:
        base = parse_thresholds(document).to_document()
        if preset is not None:
            benchmark = await RfmRepository.benchmark(write.session, preset)
            if benchmark is None:
                raise AnalyticsError(
                    AnalyticsErrorCode.UNKNOWN_PRESET,
                    "preset",
                    f"no RFM preset is named {preset!r}",
                )
            base = parse_thresholds(benchmark.thresholds).to_document()
        try:
            return RfmThresholds.model_validate(base | changes)
        except ValidationError as error:
            raise _invalid(error) from error

    return await save_new_version(
        write,
        RfmRepository(write.session, write.merchant_id),
        changes=changes,
        apply=applied,
        expected_version=expected_version,
        stale=stale,
        action=AuditAction.RFM_THRESHOLDS_UPDATED,
        audit_details={"preset": preset},
    )


MAX_MERCHANT_PRIORITY = 99  # built-in segments start at 100: a merchant's come first


async def define_segment(
    session: AsyncSession, merchant_id: str, rule: SegmentRule
) -> tuple[str, SegmentRule]:
    """A merchant-defined segment (its id and rule), idempotent by name: the same segment
    again is a replay, another under a taken name is refused. Customers join it at their
    next recompute (nightly, or their next order)."""
    ranges = {"recency": rule.recency, "frequency": rule.frequency, "monetary": rule.monetary}
    for name, (low, high) in ranges.items():
        if not 1 <= low <= high <= 5:
            raise AnalyticsError(
                AnalyticsErrorCode.INVALID_SEGMENT,
                name,
                f"{name}: scores run from 1 to 5 and the minimum may not exceed the maximum",
            )
    if not 1 <= rule.priority <= MAX_MERCHANT_PRIORITY:
        raise AnalyticsError(
            AnalyticsErrorCode.INVALID_SEGMENT,
            "priority",
            f"a priority runs from 1 to {MAX_MERCHANT_PRIORITY} (built-in segments follow)",
        )
    name = rule.name.strip()
    if not 1 <= len(name) <= 60:
        raise AnalyticsError(
            AnalyticsErrorCode.INVALID_SEGMENT, "name", "a name takes 1 to 60 characters"
        )
    if name.casefold() in {built_in.name.casefold() for built_in in BUILT_IN_SEGMENTS}:
        raise AnalyticsError(
            AnalyticsErrorCode.SEGMENT_NAME_TAKEN, "name", f"{name} is a built-in segment"
        )
    stored = SegmentRule(name, rule.priority, rule.recency, rule.frequency, rule.monetary)
    repository = RfmRepository(session, merchant_id)
    segment_id = await repository.insert_segment(stored)
    if segment_id is not None:
        return segment_id, stored
    # A retry of the same create finds its segment; another segment of the name is refused.
    existing = await repository.segment_named(name)
    if existing is not None and existing[1] == stored:
        return existing
    raise AnalyticsError(
        AnalyticsErrorCode.SEGMENT_NAME_TAKEN, "name", f"the shop has a segment named {name}"
    )


async def delete_segment(session: AsyncSession, merchant_id: str, segment_id: str) -> bool:
    """Idempotent; its customers leave it at their next recompute."""
    return await RfmRepository(session, merchant_id).delete_segment(segment_id)


async def _segments(repository: RfmRepository) -> list[SegmentRule]:
    return [*await repository.merchant_segments(), *BUILT_IN_SEGMENTS]


async def recompute(
    session: AsyncSession,
    merchant_id: str,
    *,
    now: datetime,
    customer_id: str | None = None,
    customer_ids: Sequence[str] | None = None,
) -> Scored:
    """Score the shop's customers (or only ``customer_id``, or ``customer_ids``: the buyers of
    a batch of order webhooks) as of ``now``, in the caller's transaction: the thresholds, the
    merchant's segments, then one set-based statement."""
    if customer_id is not None:
        customer_ids = [customer_id]
    repository = RfmRepository(session, merchant_id)
    document, merchant_segments = await repository.scoring_inputs()
    return await repository.score(
        parse_thresholds(document).to_document(),
        [*merchant_segments, *BUILT_IN_SEGMENTS],
        now=now,
        customer_ids=customer_ids,
    )


async def refresh_counts(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Refresh the segment counts view (every shop's, concurrently: readers never wait)."""
    async with system_unit_of_work(sessions) as session:
        await refresh_segment_counts(session)


async def segment_counts(session: AsyncSession, merchant_id: str) -> list[SegmentCount]:
    """Customers per segment as of the last refresh: every segment of the shop, empty ones at
    0, built-in and merchant-defined, in priority order."""
    repository = RfmRepository(session, merchant_id)
    counted = {count.segment: count.customers for count in await repository.segment_counts()}
    return [
        SegmentCount(rule.name, counted.get(rule.name, 0))
        for rule in sorted(await _segments(repository), key=lambda rule: rule.priority)
    ]


async def rfm_of_customers(
    session: AsyncSession, merchant_id: str, customer_ids: Sequence[str]
) -> dict[str, CustomerRfm]:
    return await RfmRepository(session, merchant_id).rfm_by_customer(customer_ids)
