"""What every write service takes first: the open unit of work, the merchant whose data it
changes, who asks, and the time the change is made at."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.kit.repository import AuditTrail


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WriteContext:
    """One change to one merchant's data, in the caller's transaction (services never commit).

    A mutation gets it from its scope (``MutationScope.write``); jobs, the worker and tests
    build one: ``WriteContext(session, merchant_id)`` for a change no person asked for.
    ``now`` is the one clock of the change, so everything it stamps agrees.
    """

    session: AsyncSession
    merchant_id: str
    actor_id: str | None = None
    now: datetime = field(default_factory=_utc_now)

    @property
    def audit(self) -> AuditTrail:
        """Where this change is recorded, in the same transaction as the change."""
        return AuditTrail(self.session, self.merchant_id, self.actor_id)
