"""Every SQL statement on ``consents``: the append-only history of grants and revocations, and
each customer's current choice per type (their latest row)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from db.ids import new_id
from db.models import Consent
from subgraphs.kit.repository import TenantRepository, any_of

_COLUMNS = (
    "merchant_id",
    "id",
    "customer_id",
    "consent_type",
    "status",
    "source",
    "text_version",
    "ip_hash",
    "created_at",
)


@dataclass(frozen=True, slots=True)
class NewConsent:
    customer_id: str
    consent_type: str
    status: str
    source: str
    text_version: str | None
    ip_hash: str | None
    at: datetime


class ConsentRepository(TenantRepository[Consent]):
    model = Consent

    async def record(self, consents: Sequence[NewConsent]) -> list[Consent]:
        rows = [
            Consent(
                merchant_id=self._merchant_id,
                id=new_id(),
                customer_id=consent.customer_id,
                consent_type=consent.consent_type,
                status=consent.status,
                source=consent.source,
                text_version=consent.text_version,
                ip_hash=consent.ip_hash,
                created_at=consent.at,
            )
            for consent in consents
        ]
        self._session.add_all(rows)
        await self._session.flush()
        return rows

    async def customers_with_choice(
        self, customer_ids: Sequence[str], consent_type: str
    ) -> set[str]:
        """Those of ``customer_ids`` with any row of the type (one statement, any count)."""
        if not customer_ids:
            return set()
        result = await self._session.scalars(
            select(Consent.customer_id)
            .where(
                self._mine,
                Consent.consent_type == consent_type,
                Consent.customer_id == any_of(customer_ids),
            )
            .distinct()
        )
        return set(result)

    async def copy_many(self, consents: Sequence[NewConsent]) -> int:
        """Many rows at COPY speed (an import's)."""
        return await self.copy_in(
            _COLUMNS,
            (
                (
                    self._merchant_id,
                    new_id(),
                    consent.customer_id,
                    consent.consent_type,
                    consent.status,
                    consent.source,
                    consent.text_version,
                    consent.ip_hash,
                    consent.at,
                )
                for consent in consents
            ),
        )

    async def current(self, customer_ids: Sequence[str]) -> list[Consent]:
        """Each customer's latest row per consent type (ix_consents_customer_type)."""
        latest = (
            select(
                Consent,
                func.row_number()
                .over(
                    partition_by=(Consent.customer_id, Consent.consent_type),
                    order_by=(Consent.created_at.desc(), Consent.id.desc()),
                )
                .label("rank"),
            )
            .where(self._mine, Consent.customer_id.in_(list(customer_ids)))
            .subquery()
        )
        result = await self._session.scalars(
            select(Consent)
            .join(
                latest, (Consent.merchant_id == latest.c.merchant_id) & (Consent.id == latest.c.id)
            )
            .where(self._mine, latest.c.rank == 1)
            .order_by(Consent.customer_id, Consent.consent_type)
        )
        return list(result)
