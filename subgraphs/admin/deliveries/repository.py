"""Long because every SQL statement on the webhook inbox lives here, on both its tables.

``api_logs`` has one row per accepted delivery and ``webhook_receipts`` one per Shopify
webhook id. The edge shim stores deliveries, the worker
claims and settles them, support staff list and retry them, and the GDPR handlers export and
redact them: all through here.

Runs in the merchant's tenant unit of work, except the sweeps at the end of the module, which
look across merchants in a system unit of work. Every tenant statement still names the
merchant, so none depends on row-level security alone to be right.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import ColumnElement, delete, func, or_, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from db.models import ApiLog
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.repository import TenantRepository, any_of, mentions_any, rowcount

# For checks that walk every table (shop/redact's): the inbox's table.
INBOX_TABLE: Final = ApiLog.__tablename__

# Ciphertexts stay in the database: loading one by accident raises instead of reading it.
_WITHOUT_PAYLOAD = defer(ApiLog.payload_encrypted, raiseload=True)
_UNDONE = ("pending", "failed")


@dataclass(frozen=True, slots=True)
class NewDelivery:
    id: str
    topic: str
    webhook_id: str
    event_id: str | None
    triggered_at: datetime | None
    api_version: str | None
    payload_encrypted: str
    payload_bytes: int
    shopify_customer_id: str | None


@dataclass(frozen=True, slots=True)
class StoredPayload:
    id: str
    created_at: datetime
    payload_encrypted: str


# One statement: the receipt decides whether this webhook id is new; only then is the inbox
# row written. Concurrent copies of one delivery race on the receipt's primary key.
_INSERT_DELIVERY = text(
    """
    WITH receipt AS (
        INSERT INTO webhook_receipts (merchant_id, webhook_id, delivery_id, delivery_created_at)
        VALUES (:merchant_id, :webhook_id, :id, now())
        ON CONFLICT (merchant_id, webhook_id) DO NOTHING
        RETURNING delivery_id
    )
    INSERT INTO api_logs (
        merchant_id, id, created_at, topic, status, webhook_id, event_id, triggered_at,
        api_version, payload_encrypted, payload_bytes, shopify_customer_id
    )
    SELECT :merchant_id, delivery_id, now(), :topic, 'pending', :webhook_id, :event_id,
           :triggered_at, :api_version, :payload_encrypted, :payload_bytes,
           :shopify_customer_id
    FROM receipt
    RETURNING id
    """
)


# ``mark_done`` for many rows, each by its whole key, from parallel arrays.
_MARK_MANY_DONE = text(
    """
    UPDATE api_logs AS delivery SET
        status = 'done', attempts = delivery.attempts + 1, payload_encrypted = NULL,
        last_error = NULL, processed_at = now(), duration_ms = done.duration_ms
    FROM unnest(
        CAST(:ids AS text[]), CAST(:created AS timestamptz[]), CAST(:durations AS integer[])
    ) AS done(id, created_at, duration_ms)
    WHERE delivery.merchant_id = :merchant_id AND delivery.id = done.id
      AND delivery.created_at = done.created_at
    """
)


# The deliveries a batch was asked for, and as many more as it has room for: the merchant's
# pending deliveries due now, oldest due first (their jobs, still queued, then find them done).
# Each part skips rows another batch holds, so two batches at once take different rows.
_INBOX_COLUMNS = ", ".join(column.name for column in ApiLog.__table__.columns)
_CLAIM_WITH_ROOM = text(
    f"""
    WITH asked AS (
        SELECT {_INBOX_COLUMNS} FROM api_logs
        WHERE merchant_id = :merchant_id AND id = ANY(CAST(:ids AS text[]))
          AND status = 'pending'
        FOR UPDATE SKIP LOCKED
    ), more AS (
        SELECT {_INBOX_COLUMNS} FROM api_logs
        WHERE merchant_id = :merchant_id AND status = 'pending' AND next_attempt_at <= now()
          AND id <> ALL(CAST(:ids AS text[]))
        ORDER BY next_attempt_at
        LIMIT :room
        FOR UPDATE SKIP LOCKED
    )
    SELECT {_INBOX_COLUMNS} FROM asked UNION ALL SELECT {_INBOX_COLUMNS} FROM more
    """  # noqa: S608 - the column names are the model's, not input
).columns(*ApiLog.__table__.columns)


def _the_row(row: ApiLog) -> tuple[ColumnElement[bool], ...]:
    """One delivery, by its whole key: created_at names its monthly partition."""
    return (
        ApiLog.merchant_id == row.merchant_id,
        ApiLog.id == row.id,
        ApiLog.created_at == row.created_at,
    )


class WebhookDeliveriesRepository(TenantRepository[ApiLog]):
    model = ApiLog

    # --- the shim --------------------------------------------------------------------------

    async def insert_delivery(self, delivery: NewDelivery) -> bool:
        """True when stored; False when this webhook id was already received."""
        result = await self._session.execute(
            _INSERT_DELIVERY,
            {
                "merchant_id": self._merchant_id,
                "id": delivery.id,
                "topic": delivery.topic,
                "webhook_id": delivery.webhook_id,
                "event_id": delivery.event_id,
                "triggered_at": delivery.triggered_at,
                "api_version": delivery.api_version,
                "payload_encrypted": delivery.payload_encrypted,
                "payload_bytes": delivery.payload_bytes,
                "shopify_customer_id": delivery.shopify_customer_id,
            },
        )
        return result.scalar_one_or_none() is not None

    # --- the worker ------------------------------------------------------------------------

    def _pending(self, delivery_id: str) -> tuple[ColumnElement[bool], ...]:
        return (
            ApiLog.merchant_id == self._merchant_id,
            ApiLog.id == delivery_id,
            ApiLog.status == "pending",
        )

    async def claim_pending(self, delivery_id: str) -> ApiLog | None:
        """Lock a pending delivery, payload included, for this transaction. None when it is
        done, failed, or being processed by another worker right now (SKIP LOCKED: that
        worker owns it)."""
        result = await self._session.scalars(
            select(ApiLog).where(*self._pending(delivery_id)).with_for_update(skip_locked=True)
        )
        return result.one_or_none()

    async def claim_pending_many(
        self, delivery_ids: Sequence[str], *, room: int = 0
    ) -> list[ApiLog]:
        """``claim_pending`` for a batch, in one statement: the rows claimed (the others are
        done, failed or another worker's right now), in no particular order; and with
        ``room``, up to that many more of the merchant's pending deliveries that are due now,
        oldest due first (``_CLAIM_WITH_ROOM``)."""
        if not delivery_ids and room <= 0:
            return []
        if room <= 0:
            statement = select(ApiLog).where(
                ApiLog.merchant_id == self._merchant_id,
                ApiLog.id == any_of(delivery_ids),
                ApiLog.status == "pending",
            )
            return list(await self._session.scalars(statement.with_for_update(skip_locked=True)))
        result = await self._session.scalars(
            select(ApiLog).from_statement(_CLAIM_WITH_ROOM),
            {"merchant_id": self._merchant_id, "ids": list(delivery_ids), "room": room},
        )
        return list(result)

    async def mark_many_done(self, rows: Sequence[tuple[ApiLog, int]]) -> None:
        """``mark_done`` for a batch of (row, duration in ms), in one statement."""
        if not rows:
            return
        await self._session.execute(
            _MARK_MANY_DONE,
            {
                "merchant_id": self._merchant_id,
                "ids": [row.id for row, _ in rows],
                "created": [row.created_at for row, _ in rows],
                "durations": [duration_ms for _, duration_ms in rows],
            },
        )

    async def mark_done(self, row: ApiLog, *, duration_ms: int) -> None:
        """Done in the same transaction as the handler's effects: both commit, or neither.
        The payload goes: a processed delivery needs no copy of the customer's data."""
        await self._session.execute(
            update(ApiLog)
            .where(*_the_row(row))
            .values(
                status="done",
                attempts=ApiLog.attempts + 1,
                payload_encrypted=None,
                last_error=None,
                processed_at=text("now()"),
                duration_ms=duration_ms,
            )
        )

    async def record_failure(
        self,
        delivery_id: str,
        *,
        error: str,
        retry_in_seconds: float | None,
        count_attempt: bool = True,
    ) -> ApiLog | None:
        """After a rolled-back attempt: count it, keep the error, and either schedule the next
        attempt or give up (status failed). None when the row is no longer pending."""
        next_attempt = (
            text("now() + make_interval(secs => :delay)").bindparams(delay=retry_in_seconds)
            if retry_in_seconds is not None
            else text("now()")
        )
        result = await self._session.scalars(
            update(ApiLog)
            .where(*self._pending(delivery_id))
            .values(
                status="pending" if retry_in_seconds is not None else "failed",
                attempts=ApiLog.attempts + (1 if count_attempt else 0),
                last_error=error[:2000],
                next_attempt_at=next_attempt,
            )
            .returning(ApiLog)
        )
        return result.one_or_none()

    # --- support staff ---------------------------------------------------------------------

    async def deliveries_page(
        self, *, status: str | None, topic: str | None, page: PageRequest
    ) -> Page[ApiLog]:
        """Newest first, without payloads, from a ``time_ordered_page`` position. Equality
        filters on status and topic lead into ix_api_logs_merchant_status_topic, whose last
        column orders the page; the cursor's plain bound on created_at (``keyset_after``) lets
        Postgres skip the monthly partitions beyond it."""
        conditions: list[ColumnElement[bool]] = []
        if status is not None:
            conditions.append(ApiLog.status == status)
        if topic is not None:
            conditions.append(ApiLog.topic == topic)
        return await self.paginate(
            page,
            *conditions,
            keyset=(ApiLog.created_at, ApiLog.id),
            descending=True,
            options=(_WITHOUT_PAYLOAD,),
        )

    async def deliveries_by_ids(self, delivery_ids: Sequence[str]) -> list[ApiLog]:
        """The merchant's deliveries among ``delivery_ids`` (without payloads), in no order."""
        return await self.get_by_ids(delivery_ids, options=(_WITHOUT_PAYLOAD,))

    async def delivery_for_update(self, delivery_id: str) -> tuple[ApiLog, bool] | None:
        """The delivery, locked until commit, and whether its payload is still stored."""
        result = await self._session.execute(
            select(ApiLog, ApiLog.payload_encrypted.is_not(None))
            .options(_WITHOUT_PAYLOAD)
            .where(ApiLog.merchant_id == self._merchant_id, ApiLog.id == delivery_id)
            .with_for_update()
        )
        found = result.one_or_none()
        return None if found is None else (found[0], bool(found[1]))

    async def reopen_for_retry(self, row: ApiLog) -> ApiLog:
        """Back to pending, due now, with a fresh budget of attempts."""
        await self._session.execute(
            update(ApiLog)
            .where(*_the_row(row))
            .values(status="pending", attempts=0, next_attempt_at=func.now())
            .execution_options(synchronize_session=False)
        )
        reloaded = await self._session.scalars(
            select(ApiLog)
            .options(_WITHOUT_PAYLOAD)
            .where(*_the_row(row))
            .execution_options(populate_existing=True)
        )
        return reloaded.one()

    # --- GDPR ------------------------------------------------------------------------------

    async def deliveries_about(
        self,
        shopify_customer_id: str,
        *,
        after: tuple[datetime, str] | None = None,
        limit: int | None = None,
    ) -> list[ApiLog]:
        """The deliveries about the customer, oldest first: all, or a page of ``limit`` after
        ``after`` ((created_at, id))."""
        query = (
            select(ApiLog)
            .options(_WITHOUT_PAYLOAD)
            .where(
                ApiLog.merchant_id == self._merchant_id,
                ApiLog.shopify_customer_id == shopify_customer_id,
            )
        )
        if after is not None:
            query = query.where(tuple_(ApiLog.created_at, ApiLog.id) > tuple_(*after))
        result = await self._session.scalars(
            query.order_by(ApiLog.created_at, ApiLog.id).limit(limit)
        )
        return list(result)

    async def undone_payloads(
        self, *, except_delivery_id: str, not_about: str | None
    ) -> list[StoredPayload]:
        """Deliveries still holding a payload, other than the one being processed and those
        known to be about ``not_about`` (found by id already). Few: done rows hold none."""
        query = select(ApiLog.id, ApiLog.created_at, ApiLog.payload_encrypted).where(
            ApiLog.merchant_id == self._merchant_id,
            ApiLog.payload_encrypted.is_not(None),
            ApiLog.id != except_delivery_id,
        )
        if not_about is not None:
            query = query.where(
                or_(ApiLog.shopify_customer_id.is_(None), ApiLog.shopify_customer_id != not_about)
            )
        result = await self._session.execute(query)
        return [
            StoredPayload(row_id, created_at, payload)
            for row_id, created_at, payload in result
            if payload is not None
        ]

    async def redact_deliveries(
        self,
        *,
        shopify_customer_id: str | None,
        also: Iterable[tuple[str, datetime]],
        errors_mentioning: Collection[str],
        except_delivery_id: str,
        error: str,
    ) -> int:
        """Undone deliveries about the customer lose their payload and fail with ``error``,
        so no worker ever processes them; every delivery about the customer forgets whom it
        was about (the one being processed included: the worker has its payload already)."""
        about: list[ColumnElement[bool]] = []
        if shopify_customer_id is not None:
            about.append(ApiLog.shopify_customer_id == shopify_customer_id)
        extra = list(also)
        if extra:
            about.append(tuple_(ApiLog.id, ApiLog.created_at).in_(extra))
        if errors_mentioning:
            about.append(mentions_any(ApiLog.last_error, errors_mentioning))
        if not about:
            return 0
        result = await self._session.execute(
            update(ApiLog)
            .where(
                ApiLog.merchant_id == self._merchant_id,
                ApiLog.id != except_delivery_id,
                ApiLog.status.in_(_UNDONE),
                or_(*about),
            )
            .values(
                status="failed", payload_encrypted=None, last_error=error, updated_at=func.now()
            )
        )
        if shopify_customer_id is not None:
            await self._session.execute(
                update(ApiLog)
                .where(
                    ApiLog.merchant_id == self._merchant_id,
                    ApiLog.shopify_customer_id == shopify_customer_id,
                )
                .values(shopify_customer_id=None)
            )
        return rowcount(result)

    async def delete_all_but(self, delivery_id: str) -> int:
        """shop/redact: the month-partitioned inbox has no foreign key to the merchant, so its
        rows are deleted by hand. The delivery being processed stays; the worker marks it
        done in this transaction. (The receipts go with the merchant, by cascade.)"""
        result = await self._session.execute(
            delete(ApiLog).where(ApiLog.merchant_id == self._merchant_id, ApiLog.id != delivery_id)
        )
        return rowcount(result)


# --- sweeps across merchants (system unit of work) --------------------------------------------


async def merchants_with_due_deliveries(
    session: AsyncSession, *, older_than_seconds: float = 0.0
) -> list[str]:
    """Merchants with pending deliveries whose time has come (and gone by more than
    ``older_than_seconds``): their wake-up was missed (no worker listening when they were
    stored, a worker killed mid-batch) or their retry is due."""
    result = await session.scalars(
        select(ApiLog.merchant_id)
        .where(
            ApiLog.status == "pending",
            ApiLog.next_attempt_at
            <= text("now() - make_interval(secs => :grace)").bindparams(grace=older_than_seconds),
        )
        .distinct()
        .order_by(ApiLog.merchant_id)
    )
    return list(result)


async def forget_old_receipts(session: AsyncSession, *, older_than_days: int) -> int:
    """Shopify retries a delivery for 48 hours; receipts are kept as long as the inbox."""
    result = await session.execute(
        text(
            "DELETE FROM webhook_receipts WHERE created_at < now() - make_interval(days => :days)"
        ),
        {"days": older_than_days},
    )
    return rowcount(result)
