"""Every SQL statement of the GDPR handlers (customers/data_request, customers/redact,
shop/redact). Written against db.models directly: the admin subgraph may not borrow the points
or referrals repositories, so the few reads of their tables it needs live here.

Runs in a tenant unit of work; every statement still names the merchant, as everywhere else,
so a query never depends on row-level security alone to be right.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    String,
    Text,
    and_,
    case,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from db.models import (
    ApiLog,
    AuditLog,
    Base,
    Customer,
    ExpiryReminder,
    GdprRequest,
    Merchant,
    PointsTransaction,
    ReferralLink,
    Reward,
    RewardRedemption,
    VipTier,
)

_WITHOUT_PAYLOAD = defer(ApiLog.payload_encrypted, raiseload=True)
_WITHOUT_EXPORT = defer(GdprRequest.export_encrypted, raiseload=True)
_UNDONE = ("pending", "failed")


@dataclass(frozen=True, slots=True)
class AnonymisedCustomer:
    customer_id: str
    email_encrypted: str
    email_blind_index: str


@dataclass(frozen=True, slots=True)
class StoredPayload:
    id: str
    created_at: datetime
    payload_encrypted: str


@dataclass(frozen=True, slots=True)
class NewGdprRequest:
    id: str
    request_type: str
    status: str
    shopify_customer_id: str | None
    customer_id: str | None
    delivery_id: str
    export_encrypted: str | None
    retention_expires_at: datetime
    completed_at: datetime


def _mentions_any(
    column: SQLColumnExpression[Any], needles: Collection[str]
) -> ColumnElement[bool]:
    """Case-insensitive substring test on the text form of a column (jsonb included).
    strpos, unlike LIKE, gives no meaning to ``%`` or ``_`` in an email."""
    if not needles:
        return false()
    text_form = func.lower(cast(column, Text))
    return or_(*(func.strpos(text_form, needle.lower()) > 0 for needle in needles))


class GdprRepository:
    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self._session = session
        self._merchant_id = merchant_id

    # --- the merchant -------------------------------------------------------------------

    async def merchant(self) -> Merchant | None:
        result = await self._session.scalars(
            select(Merchant).where(Merchant.id == self._merchant_id)
        )
        return result.one_or_none()

    # --- finding the customer -----------------------------------------------------------

    async def customers_matching(
        self, *, shopify_customer_id: str | None, email_blind_index: str | None
    ) -> list[Customer]:
        """The customer with this Shopify id first, then the one with this email, unless that
        one belongs to another Shopify account (then it is someone else's record)."""
        conditions: list[ColumnElement[bool]] = []
        if shopify_customer_id is not None:
            conditions.append(Customer.shopify_customer_id == shopify_customer_id)
        if email_blind_index is not None:
            same_account: ColumnElement[bool] = Customer.shopify_customer_id.is_(None)
            if shopify_customer_id is not None:
                same_account = or_(
                    same_account, Customer.shopify_customer_id == shopify_customer_id
                )
            conditions.append(and_(Customer.email_blind_index == email_blind_index, same_account))
        if not conditions:
            return []
        result = await self._session.scalars(
            select(Customer).where(Customer.merchant_id == self._merchant_id, or_(*conditions))
        )
        rows = list(result)
        rows.sort(key=lambda row: (row.shopify_customer_id != shopify_customer_id, row.id))
        return rows

    # --- what is held about them (export) -----------------------------------------------

    async def ledger_of(self, customer_ids: Sequence[str]) -> list[PointsTransaction]:
        result = await self._session.scalars(
            select(PointsTransaction)
            .where(
                PointsTransaction.merchant_id == self._merchant_id,
                PointsTransaction.customer_id.in_(customer_ids),
            )
            .order_by(PointsTransaction.created_at, PointsTransaction.id)
        )
        return list(result)

    async def redemptions_of(
        self, customer_ids: Sequence[str]
    ) -> list[tuple[RewardRedemption, str | None]]:
        """Each redemption with the title of its reward."""
        result = await self._session.execute(
            select(RewardRedemption, Reward.title)
            .outerjoin(
                Reward,
                and_(
                    Reward.merchant_id == RewardRedemption.merchant_id,
                    Reward.id == RewardRedemption.reward_id,
                ),
            )
            .where(
                RewardRedemption.merchant_id == self._merchant_id,
                RewardRedemption.customer_id.in_(customer_ids),
            )
            .order_by(RewardRedemption.created_at, RewardRedemption.id)
        )
        return [(redemption, title) for redemption, title in result]

    async def reminders_of(self, customer_ids: Sequence[str]) -> list[ExpiryReminder]:
        result = await self._session.scalars(
            select(ExpiryReminder)
            .where(
                ExpiryReminder.merchant_id == self._merchant_id,
                ExpiryReminder.customer_id.in_(customer_ids),
            )
            .order_by(ExpiryReminder.expires_on, ExpiryReminder.id)
        )
        return list(result)

    async def referral_links_of(self, customer_ids: Sequence[str]) -> list[ReferralLink]:
        result = await self._session.scalars(
            select(ReferralLink)
            .where(
                ReferralLink.merchant_id == self._merchant_id,
                ReferralLink.advocate_customer_id.in_(customer_ids),
            )
            .order_by(ReferralLink.created_at, ReferralLink.id)
        )
        return list(result)

    async def tier_names(self, tier_ids: Collection[str]) -> dict[str, dict[str, str]]:
        if not tier_ids:
            return {}
        result = await self._session.execute(
            select(VipTier.id, VipTier.name).where(
                VipTier.merchant_id == self._merchant_id, VipTier.id.in_(tier_ids)
            )
        )
        return {tier_id: name for tier_id, name in result}

    async def audit_entries_mentioning(self, needles: Collection[str]) -> list[AuditLog]:
        """Entries whose metadata quotes any needle (customer ids, email, phone, codes...).
        A scan of the merchant's audit rows: these requests are rare and the log keeps 90 days."""
        if not needles:
            return []
        result = await self._session.scalars(
            select(AuditLog)
            .where(
                AuditLog.merchant_id == self._merchant_id,
                _mentions_any(AuditLog.metadata_, needles),
            )
            .order_by(AuditLog.created_at, AuditLog.id)
        )
        return list(result)

    async def deliveries_about(self, shopify_customer_id: str) -> list[ApiLog]:
        result = await self._session.scalars(
            select(ApiLog)
            .options(_WITHOUT_PAYLOAD)
            .where(
                ApiLog.merchant_id == self._merchant_id,
                ApiLog.shopify_customer_id == shopify_customer_id,
            )
            .order_by(ApiLog.created_at, ApiLog.id)
        )
        return list(result)

    async def requests_about(
        self, customer_ids: Sequence[str], shopify_customer_id: str | None
    ) -> list[GdprRequest]:
        result = await self._session.scalars(
            select(GdprRequest)
            .options(_WITHOUT_EXPORT)
            .where(
                GdprRequest.merchant_id == self._merchant_id,
                self._request_about(customer_ids, shopify_customer_id),
            )
            .order_by(GdprRequest.created_at, GdprRequest.id)
        )
        return list(result)

    def _request_about(
        self, customer_ids: Sequence[str], shopify_customer_id: str | None
    ) -> ColumnElement[bool]:
        conditions: list[ColumnElement[bool]] = []
        if customer_ids:
            conditions.append(GdprRequest.customer_id.in_(customer_ids))
        if shopify_customer_id is not None:
            conditions.append(GdprRequest.shopify_customer_id == shopify_customer_id)
        return or_(*conditions) if conditions else false()

    # --- gdpr_requests -------------------------------------------------------------------

    async def insert_request(self, request: NewGdprRequest) -> GdprRequest:
        statement = (
            pg_insert(GdprRequest)
            .values(
                merchant_id=self._merchant_id,
                id=request.id,
                request_type=request.request_type,
                status=request.status,
                shopify_customer_id=request.shopify_customer_id,
                customer_id=request.customer_id,
                delivery_id=request.delivery_id,
                export_encrypted=request.export_encrypted,
                retention_expires_at=request.retention_expires_at,
                completed_at=request.completed_at,
            )
            .returning(GdprRequest)
        )
        result = await self._session.scalars(
            select(GdprRequest).from_statement(statement),
            execution_options={"populate_existing": True},
        )
        row: GdprRequest = result.one()
        return row

    async def erase_exports(
        self, customer_ids: Sequence[str], shopify_customer_id: str | None
    ) -> int:
        """Earlier requests about the customer lose their export and the Shopify id that ties
        them to the person; the rows stay as the record that the requests were answered."""
        result = await self._session.execute(
            update(GdprRequest)
            .where(
                GdprRequest.merchant_id == self._merchant_id,
                self._request_about(customer_ids, shopify_customer_id),
            )
            .values(export_encrypted=None, shopify_customer_id=None, updated_at=func.now())
        )
        return _rowcount(result)

    # --- customers/redact ----------------------------------------------------------------

    async def anonymise_customers(self, customers: Sequence[AnonymisedCustomer]) -> None:
        for customer in customers:
            await self._session.execute(
                update(Customer)
                .where(
                    Customer.merchant_id == self._merchant_id, Customer.id == customer.customer_id
                )
                .values(
                    email_encrypted=customer.email_encrypted,
                    email_blind_index=customer.email_blind_index,
                    phone_encrypted=None,
                    country_code=None,
                    shopify_customer_id=None,
                )
            )

    async def ledger_explanations(
        self, customer_ids: Sequence[str], order_ids: Sequence[str]
    ) -> list[tuple[str, dict[str, Any]]]:
        result = await self._session.execute(
            select(PointsTransaction.id, PointsTransaction.explanation).where(
                PointsTransaction.merchant_id == self._merchant_id,
                self._ledger_rows(customer_ids, order_ids),
            )
        )
        return [(row_id, explanation) for row_id, explanation in result]

    def _ledger_rows(
        self, customer_ids: Sequence[str], order_ids: Sequence[str]
    ) -> ColumnElement[bool]:
        conditions: list[ColumnElement[bool]] = []
        if customer_ids:
            conditions.append(PointsTransaction.customer_id.in_(customer_ids))
        if order_ids:
            conditions.append(PointsTransaction.order_id.in_(order_ids))
        return or_(*conditions) if conditions else false()

    async def scrub_ledger(
        self,
        customer_ids: Sequence[str],
        order_ids: Sequence[str],
        *,
        reason: str,
        explanations: Sequence[tuple[str, dict[str, Any]]],
    ) -> int:
        """Free text goes; points, kinds, dates, orders and lots stay. Idempotency keys may
        quote ids or anything a client sent, so they become the row's own id (still unique)."""
        result = await self._session.execute(
            update(PointsTransaction)
            .where(
                PointsTransaction.merchant_id == self._merchant_id,
                self._ledger_rows(customer_ids, order_ids),
            )
            .values(
                reason=reason,
                idempotency_key=literal("redacted:", String) + PointsTransaction.id,
            )
        )
        if explanations:
            await self._session.execute(
                update(PointsTransaction),
                [
                    {"merchant_id": self._merchant_id, "id": row_id, "explanation": explanation}
                    for row_id, explanation in explanations
                ],
            )
        return _rowcount(result)

    async def erase_redemption_codes(
        self, customer_ids: Sequence[str], *, code_encrypted: str, failure: str
    ) -> int:
        result = await self._session.execute(
            update(RewardRedemption)
            .where(
                RewardRedemption.merchant_id == self._merchant_id,
                RewardRedemption.customer_id.in_(customer_ids),
            )
            .values(
                code_encrypted=code_encrypted,
                idempotency_key=literal("redacted:", String) + RewardRedemption.id,
                # A refunded redemption's failure may quote Shopify quoting the code.
                failure=case((RewardRedemption.failure.is_not(None), failure), else_=None),
                updated_at=func.now(),
            )
        )
        return _rowcount(result)

    async def scrub_reminders(self, customer_ids: Sequence[str]) -> int:
        """A provider's error may quote the address it refused."""
        result = await self._session.execute(
            update(ExpiryReminder)
            .where(
                ExpiryReminder.merchant_id == self._merchant_id,
                ExpiryReminder.customer_id.in_(customer_ids),
                ExpiryReminder.error.is_not(None),
            )
            .values(error=None, updated_at=func.now())
        )
        return _rowcount(result)

    async def replace_referral_codes(self, codes: dict[str, str]) -> None:
        """``{link id: new code}``. The app role may not delete referral links."""
        for link_id, code in codes.items():
            await self._session.execute(
                update(ReferralLink)
                .where(ReferralLink.merchant_id == self._merchant_id, ReferralLink.id == link_id)
                .values(code=code)
            )

    async def rewrite_audit_metadata(
        self, entries: Sequence[tuple[AuditLog, dict[str, object]]]
    ) -> None:
        """The app role may insert and delete audit entries but not update them, so an entry
        is replaced by the same entry (id, time, action, actor) with scrubbed metadata. The
        insert trigger announces it again on the live admin stream."""
        if not entries:
            return
        await self._session.execute(
            delete(AuditLog).where(
                AuditLog.merchant_id == self._merchant_id,
                tuple_(AuditLog.id, AuditLog.created_at).in_(
                    [(entry.id, entry.created_at) for entry, _ in entries]
                ),
            )
        )
        await self._session.execute(
            insert(AuditLog),
            [
                {
                    "merchant_id": self._merchant_id,
                    "id": entry.id,
                    "created_at": entry.created_at,
                    "action": entry.action,
                    "actor_id": entry.actor_id,
                    "metadata_": metadata,
                }
                for entry, metadata in entries
            ],
        )

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
            about.append(_mentions_any(ApiLog.last_error, errors_mentioning))
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
        return _rowcount(result)

    # --- shop/redact -----------------------------------------------------------------------

    async def delete_logs(self, *, except_delivery_id: str) -> tuple[int, int]:
        """The month-partitioned logs have no foreign key to the merchant: deleted by hand.
        The delivery being processed stays; the worker marks it done in this transaction."""
        deliveries = await self._session.execute(
            delete(ApiLog).where(
                ApiLog.merchant_id == self._merchant_id, ApiLog.id != except_delivery_id
            )
        )
        audit = await self._session.execute(
            delete(AuditLog).where(AuditLog.merchant_id == self._merchant_id)
        )
        return _rowcount(deliveries), _rowcount(audit)

    async def delete_customers(self) -> int:
        """Customers first: their cascade takes the ledger, redemptions, reminders and links
        before the merchant's cascade removes rewards (a redemption would block that)."""
        result = await self._session.execute(
            delete(Customer).where(Customer.merchant_id == self._merchant_id)
        )
        return _rowcount(result)

    async def delete_merchant(self) -> int:
        """Cascades to every table with a foreign key to merchants."""
        result = await self._session.execute(
            delete(Merchant).where(Merchant.id == self._merchant_id)
        )
        return _rowcount(result)

    async def remaining_rows(self, *, except_delivery_id: str) -> dict[str, int]:
        """Rows of the merchant left in any mapped table (the current delivery aside): a table
        added later without a cascade shows up here instead of keeping data silently."""
        counts = []
        for table in Base.metadata.sorted_tables:
            if table.name == Merchant.__tablename__:
                condition = table.c.id == self._merchant_id
            elif "merchant_id" in table.c:
                condition = table.c.merchant_id == self._merchant_id
            else:
                continue
            if table.name == ApiLog.__tablename__:
                condition = and_(condition, table.c.id != except_delivery_id)
            counts.append(
                select(literal(table.name).label("table_name"), func.count().label("rows"))
                .select_from(table)
                .where(condition)
            )
        result = await self._session.execute(union_all(*counts))
        return {name: int(rows) for name, rows in result if rows}


async def export_by_id(session: AsyncSession, request_id: str) -> str | None:
    """By id alone: the caller's tenant unit of work confines it to the merchant (the admin
    API's request ids are globally unique UUIDv7s)."""
    result = await session.execute(
        select(GdprRequest.export_encrypted).where(GdprRequest.id == request_id)
    )
    return result.scalar_one_or_none()


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
