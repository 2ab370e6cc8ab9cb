"""The customer's loyalty data as the GDPR handlers find, export and erase it: ``customers``,
``points_transactions``, ``reward_redemptions`` (with their rewards' titles),
``expiry_reminders``, ``consents``, ``referral_links`` and ``vip_tiers``.

These tables belong to the points and referrals subgraphs; a subgraph may not borrow another's
repositories, so the few statements GDPR needs on them are written here against db.models.
Runs in a tenant unit of work; every statement still names the merchant, so a query never
depends on row-level security alone to be right.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    case,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)

from db.ids import new_id
from db.models import (
    Base,
    Consent,
    Customer,
    ExpiryReminder,
    PointsTransaction,
    ReferralLink,
    ReferralShare,
    Reward,
    RewardRedemption,
    VipTier,
)
from subgraphs.kit.auth_repository import forget_shopify_customers
from subgraphs.kit.repository import TenantRepository, rowcount

RowT = TypeVar("RowT", bound=Base)
# A keyset position in a customer's rows: the values of the columns they are ordered by.
Position = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class AnonymisedCustomer:
    customer_id: str
    email_encrypted: str
    email_blind_index: str
    redacted_at: datetime


class CustomerDataRepository(TenantRepository[Customer]):
    model = Customer

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

    async def customers_by_ids(self, customer_ids: Sequence[str]) -> list[Customer]:
        """The merchant's customers among ``customer_ids``, in the order given."""
        found = {row.id: row for row in await self.get_by_ids(customer_ids)}
        return [found[customer_id] for customer_id in customer_ids if customer_id in found]

    async def shopify_id_by_email(self, email_blind_index: str) -> str | None:
        """The Shopify id of the customer with this email, whatever their account."""
        result = await self._session.execute(
            select(Customer.shopify_customer_id).where(
                Customer.merchant_id == self._merchant_id,
                Customer.email_blind_index == email_blind_index,
            )
        )
        return result.scalars().first()

    # --- what is held about them (export) -----------------------------------------------

    # Every ``*_of`` reads all of the customers' rows, or (``limit``) a page of them after
    # ``after``, the position of the last row of the previous page (``created_at, id``;
    # reminders: ``expires_on, id``): the export reads a large customer page by page.

    async def ledger_of(
        self,
        customer_ids: Sequence[str],
        *,
        after: Position | None = None,
        limit: int | None = None,
    ) -> list[PointsTransaction]:
        return await self._of_customers(PointsTransaction, customer_ids, after=after, limit=limit)

    async def redemptions_of(
        self,
        customer_ids: Sequence[str],
        *,
        after: Position | None = None,
        limit: int | None = None,
    ) -> list[tuple[RewardRedemption, str | None]]:
        """Each redemption with the title of its reward."""
        query = select(RewardRedemption, Reward.title)
        if after is not None:
            query = query.where(
                tuple_(RewardRedemption.created_at, RewardRedemption.id) > tuple_(*after)
            )
        result = await self._session.execute(
            query.outerjoin(
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
            .limit(limit)
        )
        return [(redemption, title) for redemption, title in result]

    async def reminders_of(
        self,
        customer_ids: Sequence[str],
        *,
        after: Position | None = None,
        limit: int | None = None,
    ) -> list[ExpiryReminder]:
        return await self._of_customers(
            ExpiryReminder, customer_ids, order=("expires_on", "id"), after=after, limit=limit
        )

    async def consents_of(
        self,
        customer_ids: Sequence[str],
        *,
        after: Position | None = None,
        limit: int | None = None,
    ) -> list[Consent]:
        """Every grant and revocation, oldest first (the history, not only the latest)."""
        return await self._of_customers(Consent, customer_ids, after=after, limit=limit)

    async def revoke_consents(
        self, customer_ids: Sequence[str], consent_types: Sequence[str], now: datetime
    ) -> int:
        """A revocation of each type for each customer (by staff, on the customer's request)."""
        rows = [
            {
                "merchant_id": self._merchant_id,
                "id": new_id(),
                "customer_id": customer_id,
                "consent_type": consent_type,
                "status": "revoked",
                "source": "staff",
                "created_at": now,
            }
            for customer_id in customer_ids
            for consent_type in consent_types
        ]
        if rows:
            await self._session.execute(insert(Consent).values(rows))
        return len(rows)

    async def delete_consents(self, customer_ids: Sequence[str]) -> int:
        """An erasure takes the consent history too: its IP hashes tie it to the person."""
        result = await self._session.execute(
            delete(Consent).where(
                Consent.merchant_id == self._merchant_id, Consent.customer_id.in_(customer_ids)
            )
        )
        return rowcount(result)

    async def delete_referral_shares(self, customer_ids: Sequence[str]) -> int:
        """An erasure takes the customer's shares: each holds someone's address they gave us,
        and a body quoting the link's old code."""
        result = await self._session.execute(
            delete(ReferralShare).where(
                ReferralShare.merchant_id == self._merchant_id,
                ReferralShare.advocate_customer_id.in_(customer_ids),
            )
        )
        return rowcount(result)

    async def referral_links_of(
        self,
        customer_ids: Sequence[str],
        *,
        after: Position | None = None,
        limit: int | None = None,
    ) -> list[ReferralLink]:
        return await self._of_customers(
            ReferralLink,
            customer_ids,
            customer_column="advocate_customer_id",
            after=after,
            limit=limit,
        )

    async def _of_customers(
        self,
        model: type[RowT],
        customer_ids: Sequence[str],
        *,
        customer_column: str = "customer_id",
        order: tuple[str, ...] = ("created_at", "id"),
        after: Position | None = None,
        limit: int | None = None,
    ) -> list[RowT]:
        """The customers' rows of a table keyed by (merchant_id, ..., customer), in order."""
        columns = model.__table__.c
        query = select(model).where(
            columns.merchant_id == self._merchant_id,
            columns[customer_column].in_(customer_ids),
        )
        if after is not None:
            query = query.where(tuple_(*(columns[name] for name in order)) > tuple_(*after))
        result = await self._session.scalars(
            query.order_by(*(columns[name] for name in order)).limit(limit)
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
                    # The first erasure's time stays: a second run changes nothing.
                    redacted_at=func.coalesce(Customer.redacted_at, customer.redacted_at),
                )
            )
        # A later delivery of the same transaction (a worker batch) must not find them by it.
        forget_shopify_customers(self._session)

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
        return rowcount(result)

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
        return rowcount(result)

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
        return rowcount(result)

    async def replace_referral_codes(self, codes: dict[str, str]) -> None:
        """``{link id: new code}``. The app role may not delete referral links."""
        for link_id, code in codes.items():
            await self._session.execute(
                update(ReferralLink)
                .where(ReferralLink.merchant_id == self._merchant_id, ReferralLink.id == link_id)
                .values(code=code)
            )

    async def delete_customers(self) -> int:
        """Customers first: their cascade takes the ledger, redemptions, reminders and links
        before the merchant's cascade removes rewards (a redemption would block that)."""
        result = await self._session.execute(
            delete(Customer).where(Customer.merchant_id == self._merchant_id)
        )
        return rowcount(result)
