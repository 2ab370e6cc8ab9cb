"""DataLoaders of the Shopify backfill, built per request for one viewer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from db.models import ShopifyBackfill
from subgraphs.admin.backfill.repository import BackfillRepository
from subgraphs.kit.auth import Viewer
from subgraphs.kit.graphql.loaders import tenant_loader
from subgraphs.kit.resources import Resources


@dataclass(frozen=True)
class BackfillLoaders:
    # merchant id -> its backfill (only the viewer's merchant is ever asked for).
    backfill_of_merchant: DataLoader[str, ShopifyBackfill | None]


def build_backfill_loaders(resources: Resources, viewer: Viewer) -> BackfillLoaders:
    async def load(session: AsyncSession, ids: Sequence[str]) -> list[ShopifyBackfill | None]:
        # Row-level security shows the viewer's merchant only: every other key finds nothing.
        row = await BackfillRepository(session, viewer.merchant_id).current()
        return [row if merchant_id == viewer.merchant_id else None for merchant_id in ids]

    return BackfillLoaders(backfill_of_merchant=tenant_loader(resources, viewer.merchant_id, load))
