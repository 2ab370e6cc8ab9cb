"""DataLoaders of the webhook deliveries domain, built per request for one viewer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from db.models import ApiLog
from db.session import tenant_unit_of_work
from subgraphs.admin.deliveries.repository import WebhookDeliveriesRepository
from subgraphs.kit.auth import Viewer
from subgraphs.kit.pagination import Page, TimeOrderedAfter
from subgraphs.kit.resources import Resources

# (status, topic, limit, after): one page of the webhook inbox.
DeliveryPageKey = tuple[str | None, str | None, int, TimeOrderedAfter | None]


@dataclass(frozen=True)
class DeliveryLoaders:
    webhook_deliveries_page: DataLoader[DeliveryPageKey, Page[ApiLog]]


def build_delivery_loaders(resources: Resources, viewer: Viewer) -> DeliveryLoaders:
    merchant_id = viewer.merchant_id

    async def load_pages(keys: Sequence[DeliveryPageKey]) -> list[Page[ApiLog]]:
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            repository = WebhookDeliveriesRepository(session, merchant_id)
            return [
                await repository.deliveries_page(
                    status=status, topic=topic, limit=limit, after=after
                )
                for status, topic, limit, after in keys
            ]

    return DeliveryLoaders(webhook_deliveries_page=DataLoader(load_fn=load_pages))
