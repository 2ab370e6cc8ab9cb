"""Every SQL statement on ``bonus_campaigns``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError

from db.models import BonusCampaign
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.repository import TenantRepository


class CampaignNameTaken(Exception):
    """An update ran into ``uq_bonus_campaigns_merchant_id_name``: another campaign has the name.
    The statement failed, so the transaction is lost; the caller refuses the request."""


# The parent's key, or (as Postgres reports it) the index it made on the partition the row
# hashed to: bonus_campaigns_p07_merchant_id_name_key.
_NAME_KEY = "uq_bonus_campaigns_merchant_id_name"
_NAME_KEY_ON_PARTITION = re.compile(r"^bonus_campaigns_p\d+_merchant_id_name_key$")
_UNIQUE_VIOLATION = "23505"


def _violates_name_key(error: IntegrityError) -> bool:
    # The driver's error (asyncpg's, behind SQLAlchemy's DBAPI adapter) names the constraint.
    cause = getattr(error.orig, "__cause__", None) or error.orig
    if getattr(cause, "sqlstate", None) != _UNIQUE_VIOLATION:
        return False
    constraint = str(getattr(cause, "constraint_name", "") or "")
    return constraint == _NAME_KEY or bool(_NAME_KEY_ON_PARTITION.match(constraint))


def _running_at(at: datetime) -> list[ColumnElement[bool]]:
    return [
        BonusCampaign.active.is_(True),
        BonusCampaign.starts_at <= at,
        BonusCampaign.ends_at > at,
    ]


class CampaignRepository(TenantRepository[BonusCampaign]):
    model = BonusCampaign

    async def running(self, at: datetime, *, kind: str | None = None) -> list[BonusCampaign]:
        """Active campaigns (of ``kind``, if given) whose window contains ``at``, oldest first
        (a stable trace order)."""
        conditions = _running_at(at)
        if kind is not None:
            conditions.append(BonusCampaign.kind == kind)
        return await self.get_all(*conditions, order_by=(BonusCampaign.starts_at, BonusCampaign.id))

    async def active_ending_after(self, cutoff: datetime) -> list[BonusCampaign]:
        """Active campaigns that end after ``cutoff`` (running or to come then), oldest first:
        what a cache of the calculation's inputs keeps (``ledger.calculation_inputs``)."""
        return await self.get_all(
            BonusCampaign.active.is_(True),
            BonusCampaign.ends_at > cutoff,
            order_by=(BonusCampaign.starts_at, BonusCampaign.id),
        )

    async def page(
        self, request: PageRequest, *, active_at: datetime | None
    ) -> Page[BonusCampaign]:
        """Newest start first; ``active_at`` keeps the campaigns running at that moment."""
        return await self.paginate(
            request,
            *([] if active_at is None else _running_at(active_at)),
            keyset=(BonusCampaign.starts_at, BonusCampaign.id),
            descending=True,
        )

    async def campaign_by_idempotency_key(self, key: str) -> BonusCampaign | None:
        return await self.get_one_or_none(BonusCampaign.idempotency_key == key)

    async def update_campaign(
        self, campaign_id: str, values: dict[str, Any], *, expected_version: int | None = None
    ) -> BonusCampaign | None:
        """The campaign as updated, its version bumped (None: no such campaign);
        CampaignNameTaken when the new name is another campaign's; StaleVersion when it is no
        longer at ``expected_version``."""
        try:
            return await self.update_versioned(
                campaign_id, values, expected_version=expected_version
            )
        except IntegrityError as error:
            if _violates_name_key(error):
                raise CampaignNameTaken from error
            raise

    async def campaign(self, campaign_id: str) -> BonusCampaign | None:
        return await self.get_one_or_none(BonusCampaign.id == campaign_id)

    async def name_taken(self, name: str, *, except_id: str | None = None) -> bool:
        query = select(BonusCampaign.id).where(self._mine, BonusCampaign.name == name)
        if except_id is not None:
            query = query.where(BonusCampaign.id != except_id)
        return (await self._session.scalars(query.limit(1))).first() is not None
