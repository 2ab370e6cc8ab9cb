"""Every SQL statement on ``shopify_backfills``: a merchant's backfill run and where it stands.

Each write after the run is queued names the run (and the step and line count it expects),
so a job of a superseded run, or one racing another, changes nothing: the row it expected is
gone. Runs in the merchant's tenant unit of work, except ``stale_runs`` (system: every shop).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import BackfillStatus, BackfillStep, ShopifyBackfill
from subgraphs.kit.repository import rowcount

ACTIVE = (BackfillStatus.QUEUED.value, BackfillStatus.RUNNING.value)


async def stale_runs(session: AsyncSession, idle_since: datetime, limit: int) -> Sequence[str]:
    """Merchants whose run is active but untouched since ``idle_since`` (its job was lost:
    an enqueue Redis refused, a worker that died): the sweeper queues them again."""
    result = await session.scalars(
        select(ShopifyBackfill.merchant_id)
        .where(ShopifyBackfill.status.in_(ACTIVE), ShopifyBackfill.updated_at < idle_since)
        .order_by(ShopifyBackfill.merchant_id)
        .limit(limit)
    )
    return list(result)


class BackfillRepository:
    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self._session = session
        self._merchant_id = merchant_id

    def _run_is(self, run: int, *conditions: ColumnElement[bool]) -> list[ColumnElement[bool]]:
        return [
            ShopifyBackfill.merchant_id == self._merchant_id,
            ShopifyBackfill.run == run,
            ShopifyBackfill.status.in_(ACTIVE),
            *conditions,
        ]

    async def _update(self, run: int, values: Mapping[str, Any], *where: Any) -> bool:
        result = await self._session.execute(
            update(ShopifyBackfill)
            .where(*self._run_is(run, *where))
            .values(**values, updated_at=func.now())
        )
        return rowcount(result) == 1

    async def current(self) -> ShopifyBackfill | None:
        result = await self._session.scalars(
            select(ShopifyBackfill).where(ShopifyBackfill.merchant_id == self._merchant_id)
        )
        return result.one_or_none()

    async def for_update(self) -> ShopifyBackfill | None:
        """The row locked, so two requests to run again cannot both see it idle."""
        result = await self._session.scalars(
            select(ShopifyBackfill)
            .where(ShopifyBackfill.merchant_id == self._merchant_id)
            .with_for_update()
        )
        return result.one_or_none()

    async def queue(self, *, orders_since: datetime, now: datetime) -> ShopifyBackfill:
        """A new run from the first step (the next run number when there was one)."""
        fresh = {
            "status": BackfillStatus.QUEUED.value,
            "step": BackfillStep.CUSTOMERS.value,
            "orders_since": orders_since,
            "bulk_operation_id": None,
            "result_url": None,
            "lines_processed": 0,
            "customers_imported": 0,
            "orders_imported": 0,
            "error": None,
            "started_at": now,
            "finished_at": None,
            "updated_at": now,
        }
        insert = pg_insert(ShopifyBackfill).values(merchant_id=self._merchant_id, **fresh)
        statement = insert.on_conflict_do_update(
            index_elements=["merchant_id"], set_={**fresh, "run": ShopifyBackfill.run + 1}
        ).returning(ShopifyBackfill)
        result = await self._session.scalars(
            select(ShopifyBackfill).from_statement(statement),
            execution_options={"populate_existing": True},
        )
        row: ShopifyBackfill = result.one()
        return row

    async def mark_running(self, run: int) -> bool:
        return await self._update(run, {"status": BackfillStatus.RUNNING.value})

    async def record_operation(self, run: int, step: BackfillStep, operation_id: str) -> bool:
        return await self._update(
            run,
            {"bulk_operation_id": operation_id},
            ShopifyBackfill.step == step.value,
            ShopifyBackfill.bulk_operation_id.is_(None),
        )

    async def record_result(self, run: int, step: BackfillStep, url: str | None) -> bool:
        """The step's result is ready at ``url`` (None: the operation found nothing)."""
        return await self._update(run, {"result_url": url}, ShopifyBackfill.step == step.value)

    async def touch(self, run: int) -> bool:
        """Still polling: tells the sweeper this run's job is alive."""
        return await self._update(run, {})

    async def advance(
        self,
        run: int,
        step: BackfillStep,
        *,
        from_line: int,
        to_line: int,
        customers: int = 0,
        orders: int = 0,
    ) -> bool:
        """Lines ``from_line + 1 .. to_line`` written: False (write nothing then) when the row
        no longer stands at ``from_line`` of this run's step."""
        return await self._update(
            run,
            {
                "lines_processed": to_line,
                "customers_imported": ShopifyBackfill.customers_imported + customers,
                "orders_imported": ShopifyBackfill.orders_imported + orders,
            },
            ShopifyBackfill.step == step.value,
            ShopifyBackfill.lines_processed == from_line,
        )

    async def next_step(self, run: int, done: BackfillStep, following: BackfillStep) -> bool:
        return await self._update(
            run,
            {
                "step": following.value,
                "bulk_operation_id": None,
                "result_url": None,
                "lines_processed": 0,
            },
            ShopifyBackfill.step == done.value,
        )

    async def finish(
        self, run: int, status: BackfillStatus, *, now: datetime, error: str | None = None
    ) -> bool:
        return await self._update(run, {"status": status.value, "finished_at": now, "error": error})
