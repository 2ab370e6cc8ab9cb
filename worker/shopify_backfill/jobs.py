"""The Shopify backfill job: a shop's customers, then two years of its orders, read through
Admin API bulk queries and written as customers (points' enrolment) and order facts
(analytics' upsert), then every customer scored by RFM.

Resumable at every point. The run's row (``admin.backfill``) records each step's bulk
operation as soon as Shopify accepts it, its result URL once it completed, and the lines
written; every batch of lines is written in the transaction that advances that count, and
only if the count still stands where this job read it. So a job killed anywhere is continued
by the next (the sweeper queues it) without a line written twice, and a job of a superseded
run writes nothing. Between batches the job checks the shop is still installed: an
uninstalled shop's run stops there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.crypto import FieldCipher
from db.models import BackfillStatus, BackfillStep, ShopifyBackfill
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.admin.backfill import service as backfills
from subgraphs.admin.backfill.repository import BackfillRepository, stale_runs
from subgraphs.analytics.orders import service as order_facts
from subgraphs.analytics.orders.service import OrderPayloadError
from subgraphs.analytics.rfm import service as rfm
from subgraphs.kit.integrations.shopify_admin import (
    ShopifyAdminClient,
    ShopifyAdminError,
    ShopifyAuthError,
    ShopifyUnavailableError,
    ShopifyUserErrors,
)
from subgraphs.kit.integrations.shopify_bulk import (
    BulkOperation,
    BulkOperationStatus,
    BulkRecord,
    bulk_operation,
    bulk_records,
    current_bulk_operation,
    run_bulk_query,
)
from subgraphs.kit.jobs import Cron, job, job_resources
from subgraphs.points.orders.enrolment import enrol_shopify_customers
from subgraphs.points.shopify import MerchantConnection, ShopifyConnector
from worker.shopify_backfill.records import (
    CUSTOMERS_QUERY,
    customer_of_line,
    order_fact_of_line,
    orders_query,
)
from worker.shopify_backfill.refunds import refund_payloads

log = structlog.get_logger(__name__)

BATCH_LINES = 500
POLL_SECONDS = 10.0
# A run untouched this long lost its job (polls touch it every POLL_SECONDS).
STALE_AFTER = timedelta(minutes=15)

ClientFor = Callable[
    [backfills.ShopConnection], AbstractAsyncContextManager[ShopifyAdminClient | None]
]


class _Interrupted(Exception):
    """The run cannot go on in this job: the shop uninstalled, or another run took over."""


class _Uninstalled(_Interrupted):
    pass


class _Superseded(_Interrupted):
    pass


class _BulkOperationFailed(Exception):
    pass


@dataclass
class BackfillJob:
    """One job's work on one shop's run."""

    sessions: async_sessionmaker[AsyncSession]
    cipher: FieldCipher
    merchant_id: str
    # Downloads of bulk results (signed URLs: no Admin API token goes there).
    http: httpx.AsyncClient
    client_for: ClientFor
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    poll_seconds: float = POLL_SECONDS
    batch_lines: int = BATCH_LINES
    # Publishes an event (after the commit it tells of) to ``backfill_channel``'s followers.
    publish: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None

    async def _published(self) -> None:
        if self.publish is not None:
            channel = backfills.backfill_channel(self.merchant_id)
            await self.publish(channel, {"merchant_id": self.merchant_id})

    def _unit_of_work(self) -> AbstractAsyncContextManager[AsyncSession]:
        return tenant_unit_of_work(self.sessions, self.merchant_id)

    async def _state(self) -> ShopifyBackfill | None:
        async with self._unit_of_work() as session:
            return await backfills.backfill_of(session, self.merchant_id)

    async def _still_installed(self, session: AsyncSession) -> None:
        if await backfills.shop_connection(session, self.merchant_id) is None:
            raise _Uninstalled("the shop uninstalled LoyalNest")

    async def _update(self, write: Callable[[BackfillRepository], Awaitable[bool]]) -> None:
        async with self._unit_of_work() as session:
            if not await write(BackfillRepository(session, self.merchant_id)):
                raise _Superseded("another run took over")
        await self._published()

    async def run(self) -> BackfillStatus | None:
        """Carry the shop's run on from where it stands; its status when this job ends (None
        when there was nothing to do)."""
        state = await self._state()
        if state is None or state.status not in (BackfillStatus.QUEUED, BackfillStatus.RUNNING):
            return None
        run = state.run
        async with self._unit_of_work() as session:
            connection = await backfills.shop_connection(session, self.merchant_id)
        try:
            if connection is None:
                raise _Uninstalled("the shop uninstalled LoyalNest")
            await self._update(lambda repository: repository.mark_running(run))
            async with self.client_for(connection) as client:
                if client is None:
                    raise _Uninstalled("the shop has no Admin API access")
                return await self._steps(client, run)
        except _Superseded:
            log.info("shopify_backfill_superseded", merchant_id=self.merchant_id, run=run)
            return None
        except _Uninstalled as stopped:
            return await self._end(run, BackfillStatus.STOPPED, str(stopped))
        except ShopifyAuthError:
            return await self._end(
                run, BackfillStatus.STOPPED, "Shopify refused LoyalNest's access to the shop"
            )
        except ShopifyUnavailableError:
            # Shopify or the download is unwell: the run stays active and the sweeper queues
            # it again once it has been idle a while; nothing written is lost.
            raise
        except (_BulkOperationFailed, ShopifyAdminError) as failure:
            return await self._end(run, BackfillStatus.FAILED, str(failure))

    async def _end(self, run: int, status: BackfillStatus, error: str) -> BackfillStatus | None:
        log.warning(
            "shopify_backfill_ended", merchant_id=self.merchant_id, status=status, error=error
        )
        now = datetime.now(UTC)
        try:
            await self._update(
                lambda repository: repository.finish(run, status, now=now, error=error)
            )
        except _Superseded:
            return None
        return status

    async def _steps(self, client: ShopifyAdminClient, run: int) -> BackfillStatus:
        steps = (BackfillStep.CUSTOMERS, BackfillStep.ORDERS, BackfillStep.SCORING)
        while True:
            state = await self._state()
            if state is None or state.run != run:
                raise _Superseded("the run is gone")
            step = BackfillStep(state.step)
            if step is BackfillStep.SCORING:
                return await self._score(run)
            await self._import(client, state, step)
            following = steps[steps.index(step) + 1]
            await self._next_step(run, step, following)

    async def _next_step(self, run: int, done: BackfillStep, following: BackfillStep) -> None:
        await self._update(lambda repository: repository.next_step(run, done, following))

    async def _import(
        self, client: ShopifyAdminClient, state: ShopifyBackfill, step: BackfillStep
    ) -> None:
        run, operation_id, url = state.run, state.bulk_operation_id, state.result_url
        if operation_id is None:
            query = (
                CUSTOMERS_QUERY
                if step is BackfillStep.CUSTOMERS
                else orders_query(state.orders_since)
            )
            operation = await self._start(client, query)
            operation_id = operation.id
            await self._update(
                lambda repository: repository.record_operation(run, step, operation.id)
            )
        if url is None:
            url = await self._result_of(client, run, operation_id)
            if url is None:
                return  # completed with nothing to read
            await self._update(lambda repository: repository.record_result(run, step, url))
        await self._write_lines(client, run, step, url, from_line=state.lines_processed)

    async def _start(self, client: ShopifyAdminClient, query: str) -> BulkOperation:
        """Start the step's bulk query; or, when Shopify says one is running, take it over if
        it is this very query (a job that crashed before recording its id started it)."""
        try:
            return await run_bulk_query(client, query)
        except ShopifyUserErrors as refused:
            if "OPERATION_IN_PROGRESS" not in refused.codes:
                raise
        running = await current_bulk_operation(client)
        if running is not None and not running.status.finished and running.query == query:
            return running
        # Someone else's bulk query holds the shop: try again on a later job.
        raise ShopifyUnavailableError("another bulk query is running on the shop")

    async def _result_of(
        self, client: ShopifyAdminClient, run: int, operation_id: str
    ) -> str | None:
        """Poll the operation until it ends; its result URL (None when it found nothing)."""
        while True:
            operation = await bulk_operation(client, operation_id)
            if operation.status is BulkOperationStatus.COMPLETED:
                return operation.url
            if operation.status.finished:
                raise _BulkOperationFailed(
                    f"Shopify's bulk operation ended {operation.status.value}"
                    + (f" ({operation.error_code})" if operation.error_code else "")
                )
            async with self._unit_of_work() as session:
                await self._still_installed(session)
                if not await BackfillRepository(session, self.merchant_id).touch(run):
                    raise _Superseded("the run is gone")
            await self.sleep(self.poll_seconds)

    async def _write_lines(
        self, client: ShopifyAdminClient, run: int, step: BackfillStep, url: str, *, from_line: int
    ) -> None:
        batch: list[BulkRecord] = []
        done = from_line
        async for record in bulk_records(self.http, url, skip_lines=from_line):
            batch.append(record)
            if len(batch) >= self.batch_lines:
                done = await self._write_batch(client, run, step, batch, from_line=done)
                batch = []
        if batch:
            await self._write_batch(client, run, step, batch, from_line=done)

    async def _write_batch(
        self,
        client: ShopifyAdminClient,
        run: int,
        step: BackfillStep,
        batch: list[BulkRecord],
        *,
        from_line: int,
    ) -> int:
        """One transaction: the batch's rows and the run's new line count, or neither. An
        orders batch's refunds are read from Shopify first, outside it."""
        to_line = batch[-1].end_line
        customers = orders = 0
        refunds = [] if step is BackfillStep.CUSTOMERS else await refund_payloads(client, batch)
        async with self._unit_of_work() as session:
            await self._still_installed(session)
            if step is BackfillStep.CUSTOMERS:
                found = [customer_of_line(record.node) for record in batch]
                readable = [customer for customer in found if customer is not None]
                enrolment = await enrol_shopify_customers(
                    session, self.merchant_id, self.cipher, readable
                )
                customers = enrolment.enrolled
                skipped = len(batch) - len(readable) + enrolment.skipped
            else:
                facts = [order_fact_of_line(record.node) for record in batch]
                recorded = [fact for fact in facts if fact is not None]
                orders = await order_facts.record_reconciled_orders(
                    session, self.merchant_id, recorded
                )
                skipped = len(batch) - len(recorded) + await self._record_refunds(session, refunds)
            advanced = await BackfillRepository(session, self.merchant_id).advance(
                run, step, from_line=from_line, to_line=to_line, customers=customers, orders=orders
            )
            if not advanced:
                raise _Superseded("another job wrote these lines")
        await self._published()
        if skipped:
            # Lines Shopify sent that we could not use (no email to enrol by, a malformed
            # order), and refunds of orders not recorded: counted here, as the merchant's
            # counts leave them out.
            log.info(
                "shopify_backfill_lines_skipped",
                merchant_id=self.merchant_id,
                step=step,
                skipped=skipped,
                through_line=to_line,
            )
        return to_line

    async def _record_refunds(self, session: AsyncSession, refunds: list[dict[str, Any]]) -> int:
        """The refunds through the refunds/create path, each keyed by its Shopify id (so a
        batch written again, or the refund's own webhook, nets it out once); how many could
        not be recorded."""
        unrecorded = 0
        for payload in refunds:
            try:
                recorded, _ = await order_facts.record_refund_payload(
                    session, self.merchant_id, payload
                )
            except OrderPayloadError:
                recorded = False
            unrecorded += not recorded
        return unrecorded

    async def _score(self, run: int) -> BackfillStatus:
        """RFM for every customer of the shop from its order facts, and the run completed, in
        one transaction; then the segment counts refreshed."""
        now = datetime.now(UTC)
        async with self._unit_of_work() as session:
            scored = await rfm.recompute(session, self.merchant_id, now=now)
            if not await BackfillRepository(session, self.merchant_id).finish(
                run, BackfillStatus.COMPLETED, now=now
            ):
                raise _Superseded("the run is gone")
        await self._published()
        await rfm.refresh_counts(self.sessions)
        log.info("shopify_backfill_completed", merchant_id=self.merchant_id, scored=scored.scored)
        return BackfillStatus.COMPLETED


def connector_client_for(
    connector: ShopifyConnector, merchant_id: str, cipher: FieldCipher
) -> ClientFor:
    def client_for(
        connection: backfills.ShopConnection,
    ) -> AbstractAsyncContextManager[ShopifyAdminClient | None]:
        return connector.admin_client(
            merchant_id,
            MerchantConnection(connection.shop_domain, connection.api_token_encrypted),
            cipher,
        )

    return client_for


# Hours for a shop with years of orders: Shopify builds the file, then every line is written.
@job(timeout=6 * 3600, keep_result=0)
async def run_shopify_backfill_job(ctx: dict[str, Any], merchant_id: str) -> str | None:
    """Carry a shop's backfill run on (enqueued at install, by ``shopifyBackfillStart`` and by
    the sweeper); safe to run again at any point."""
    resources = job_resources(ctx)
    http: httpx.AsyncClient = ctx["http"]
    connector = ShopifyConnector.for_process(resources, http)
    status = await BackfillJob(
        resources.sessions,
        resources.cipher,
        merchant_id,
        http,
        connector_client_for(connector, merchant_id, resources.cipher),
        publish=resources.pubsub.publish,
    ).run()
    return None if status is None else status.value


async def requeue_stale_backfills(
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    enqueue: Callable[[str], Awaitable[bool]],
) -> int:
    async with system_unit_of_work(sessions) as session:
        merchants = await stale_runs(session, now - STALE_AFTER, limit=500)
    for merchant_id in merchants:
        await enqueue(merchant_id)
    return len(merchants)


# Every ten minutes: runs whose job was lost (an enqueue Redis refused, a worker killed, a
# Shopify outage that ended a job) continue where they stopped.
@job(timeout=300, cron=Cron(minute=frozenset(range(3, 60, 10))))
async def requeue_stale_shopify_backfills_job(ctx: dict[str, Any]) -> int:
    resources = job_resources(ctx)
    return await requeue_stale_backfills(
        resources.sessions,
        now=datetime.now(UTC),
        enqueue=lambda merchant_id: backfills.enqueue_backfill(resources.redis, merchant_id),
    )
