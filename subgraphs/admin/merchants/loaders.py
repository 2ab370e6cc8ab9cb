"""DataLoaders of the merchants domain, built per request for one viewer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from db.models import Merchant
from subgraphs.admin.merchants.repository import MerchantsRepository
from subgraphs.kit.auth import Viewer
from subgraphs.kit.graphql.loaders import in_key_order, tenant_loader
from subgraphs.kit.resources import Resources


@dataclass(frozen=True)
class MerchantLoaders:
    merchant_by_id: DataLoader[str, Merchant | None]


def build_merchant_loaders(resources: Resources, viewer: Viewer) -> MerchantLoaders:
    async def load_merchants(session: AsyncSession, ids: Sequence[str]) -> list[Merchant | None]:
        # Row-level security hides every merchant but the viewer's.
        found = await MerchantsRepository(session).merchants_by_ids(ids)
        return in_key_order(found, ids, key=lambda merchant: merchant.id)

    return MerchantLoaders(
        merchant_by_id=tenant_loader(resources, viewer.merchant_id, load_merchants)
    )
