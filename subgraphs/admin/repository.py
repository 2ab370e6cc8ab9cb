"""Every SQL statement of the admin domain."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from db.models import ApiLog, AuditLog, GdprRequest, Merchant
from subgraphs.kit.pagination import Page


class MerchantsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def merchants_by_ids(self, merchant_ids: Sequence[str]) -> list[Merchant]:
        result = await self._session.scalars(select(Merchant).where(Merchant.id.in_(merchant_ids)))
        return list(result)

    async def merchant_by_shop(self, shop_domain: str) -> Merchant | None:
        result = await self._session.scalars(
            select(Merchant).where(Merchant.shop_domain == shop_domain)
        )
        return result.one_or_none()

    async def insert_merchant(
        self, *, merchant_id: str, shop_domain: str, plan: str
    ) -> Merchant | None:
        """``None`` when the shop is already installed."""
        statement = (
            pg_insert(Merchant)
            .values(id=merchant_id, shop_domain=shop_domain, plan=plan)
            .on_conflict_do_nothing(index_elements=["shop_domain"])
            .returning(Merchant)
        )
        result = await self._session.scalars(select(Merchant).from_statement(statement))
        return result.one_or_none()


async def maintain_log_partitions(session: AsyncSession) -> list[tuple[str, str]]:
    result = await session.execute(text("SELECT * FROM loyalnest_maintain_log_partitions()"))
    return [(str(action), str(name)) for action, name in result.all()]


# Keyset position of a newest-first list: (created_at, id). created_at comes first so the
# position stays meaningful across the monthly partitions of the log tables.
NewestFirstAfter = tuple[datetime, str]

# Ciphertexts stay in the database: loading one by accident raises instead of reading it.
_WITHOUT_PAYLOAD = defer(ApiLog.payload_encrypted, raiseload=True)
_WITHOUT_EXPORT = defer(GdprRequest.export_encrypted, raiseload=True)


class WebhookDeliveriesRepository:
    """The webhook inbox (api_logs) as the admin sees it. The payload column is never loaded:
    lists do not need it and it must not leave the database through this module."""

    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self._session = session
        self._merchant_id = merchant_id

    async def deliveries_page(
        self, *, status: str | None, topic: str | None, limit: int, after: NewestFirstAfter | None
    ) -> Page[ApiLog]:
        """Newest first. Equality filters on status and topic lead into
        ix_api_logs_merchant_status_topic, whose last column orders the page."""
        query = (
            select(ApiLog).options(_WITHOUT_PAYLOAD).where(ApiLog.merchant_id == self._merchant_id)
        )
        if status is not None:
            query = query.where(ApiLog.status == status)
        if topic is not None:
            query = query.where(ApiLog.topic == topic)
        if after is not None:
            created_at, delivery_id = after
            query = query.where(
                # The plain bound lets Postgres skip the newer monthly partitions.
                ApiLog.created_at <= created_at,
                tuple_(ApiLog.created_at, ApiLog.id) < tuple_(created_at, delivery_id),
            )
        rows = await self._session.scalars(
            query.order_by(ApiLog.created_at.desc(), ApiLog.id.desc()).limit(limit + 1)
        )
        return Page.from_overfetch(list(rows), limit)

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
            .where(
                ApiLog.merchant_id == row.merchant_id,
                ApiLog.id == row.id,
                ApiLog.created_at == row.created_at,
            )
            .values(status="pending", attempts=0, next_attempt_at=func.now())
            .execution_options(synchronize_session=False)
        )
        reloaded = await self._session.scalars(
            select(ApiLog)
            .options(_WITHOUT_PAYLOAD)
            .where(
                ApiLog.merchant_id == row.merchant_id,
                ApiLog.id == row.id,
                ApiLog.created_at == row.created_at,
            )
            .execution_options(populate_existing=True)
        )
        return reloaded.one()


class GdprRequestsRepository:
    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self._session = session
        self._merchant_id = merchant_id

    async def requests_page(
        self, *, request_type: str | None, limit: int, after: NewestFirstAfter | None
    ) -> Page[GdprRequest]:
        """Newest first, along ix_gdpr_requests_merchant_type_created when a type is given."""
        query = (
            select(GdprRequest)
            .options(_WITHOUT_EXPORT)
            .where(GdprRequest.merchant_id == self._merchant_id)
        )
        if request_type is not None:
            query = query.where(GdprRequest.request_type == request_type)
        if after is not None:
            created_at, request_id = after
            query = query.where(
                tuple_(GdprRequest.created_at, GdprRequest.id) < tuple_(created_at, request_id)
            )
        rows = await self._session.scalars(
            query.order_by(GdprRequest.created_at.desc(), GdprRequest.id.desc()).limit(limit + 1)
        )
        return Page.from_overfetch(list(rows), limit)


class AuditLogRepository:
    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self._session = session
        self._merchant_id = merchant_id

    async def entry(
        self, entry_id: str, created_at: datetime, *, actions: Collection[str] | None = None
    ) -> AuditLog | None:
        """One entry, or None when it is not this merchant's or its action is not wanted."""
        query = select(AuditLog).where(
            AuditLog.merchant_id == self._merchant_id,
            AuditLog.id == entry_id,
            # Names the monthly partition, so only one is searched.
            AuditLog.created_at == created_at,
        )
        if actions is not None:
            query = query.where(AuditLog.action.in_(list(actions)))
        result = await self._session.scalars(query)
        return result.one_or_none()
