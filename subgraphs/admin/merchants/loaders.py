"""DataLoaders of the merchants domain, built per request for one viewer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from db.models import Merchant
from db.session import tenant_unit_of_work
from subgraphs.admin.merchants.repository import MerchantsRepository
from subgraphs.kit.auth import Viewer
from subgraphs.kit.resources import Resources


@dataclass(frozen=True)
class MerchantLoaders:
    merchant_by_id: DataLoader[str, Merchant | None]


def build_merchant_loaders(resources: Resources, viewer: Viewer) -> MerchantLoaders:
    async def load_merchants(merchant_ids: Sequence[str]) -> list[Merchant | None]:
        # Row-level security hides every merchant but the viewer's.
        async with tenant_unit_of_work(resources.sessions, viewer.merchant_id) as session:
            found = await MerchantsRepository(session).merchants_by_ids(merchant_ids)
        by_id = {merchant.id: merchant for merchant in found}
        return [by_id.get(merchant_id) for merchant_id in merchant_ids]

    return MerchantLoaders(merchant_by_id=DataLoader(load_fn=load_merchants))
