"""Every SQL statement on ``referral_shares``, scoped to one merchant."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ReferralShare, ReferralShareStatus
from subgraphs.kit.repository import TenantRepository


class ReferralShareRepository(TenantRepository[ReferralShare]):
    model = ReferralShare

    async def by_idempotency_key(self, advocate_id: str, key: str) -> ReferralShare | None:
        return await self.get_one_or_none(
            ReferralShare.advocate_customer_id == advocate_id,
            ReferralShare.idempotency_key == key,
        )

    async def shared_since(self, advocate_id: str, since: datetime) -> int:
        count = await self._session.scalar(
            select(func.count()).where(
                self._mine,
                ReferralShare.advocate_customer_id == advocate_id,
                ReferralShare.created_at > since,
            )
        )
        return int(count or 0)

    async def insert_share(self, values: Mapping[str, Any]) -> ReferralShare | None:
        """None when the advocate already sent a share under this idempotency key."""
        return await self.insert_new(values)

    async def take_queued(self, share_id: str, now: datetime) -> ReferralShare | None:
        """The share if it waits to be sent now, locked for this transaction; None when it was
        sent, given up, not due yet, or another worker holds it (SKIP LOCKED)."""
        result = await self._session.scalars(
            self._select(
                ReferralShare.id == share_id,
                ReferralShare.status == ReferralShareStatus.QUEUED.value,
                ReferralShare.next_attempt_at <= now,
            ).with_for_update(skip_locked=True)
        )
        return result.one_or_none()

    async def record_attempt(
        self,
        share_id: str,
        status: ReferralShareStatus,
        *,
        error: str | None,
        next_attempt_at: datetime | None,
        sent_at: datetime | None,
    ) -> ReferralShare | None:
        values: dict[str, Any] = {
            "status": status.value,
            "attempts": ReferralShare.attempts + 1,
            "last_error": error,
            "sent_at": sent_at,
        }
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        return await self.update_one(share_id, values)


async def overdue_shares(
    session: AsyncSession, before: datetime, limit: int
) -> list[tuple[str, str]]:
    """(merchant, share) of queued shares due before ``before`` (a lost enqueue, a crashed
    worker): as the table owner, the sweep spans tenants."""
    result = await session.execute(
        select(ReferralShare.merchant_id, ReferralShare.id)
        .where(
            ReferralShare.status == ReferralShareStatus.QUEUED.value,
            ReferralShare.next_attempt_at < before,
        )
        .order_by(ReferralShare.next_attempt_at)
        .limit(limit)
    )
    return [(merchant_id, share_id) for merchant_id, share_id in result]
