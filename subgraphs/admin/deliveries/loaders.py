"""DataLoaders of the webhook deliveries domain, built per request for one viewer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from db.models import ApiLog
from subgraphs.admin.deliveries.repository import WebhookDeliveriesRepository
from subgraphs.kit.auth import Viewer
from subgraphs.kit.graphql.loaders import by_id_loader, tenant_loader
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.resources import Resources

# (status, topic, page): one page of the webhook inbox.
DeliveryPageKey = tuple[str | None, str | None, PageRequest]


@dataclass(frozen=True)
class DeliveryLoaders:
    webhook_deliveries_page: DataLoader[DeliveryPageKey, Page[ApiLog]]
    delivery_by_id: DataLoader[str, ApiLog | None]


def build_delivery_loaders(resources: Resources, viewer: Viewer) -> DeliveryLoaders:
    merchant_id = viewer.merchant_id

    async def load_pages(
        session: AsyncSession, keys: Sequence[DeliveryPageKey]
    ) -> list[Page[ApiLog]]:
        repository = WebhookDeliveriesRepository(session, merchant_id)
        return [
            await repository.deliveries_page(status=status, topic=topic, page=page)
            for status, topic, page in keys
        ]

    return DeliveryLoaders(
        webhook_deliveries_page=tenant_loader(resources, merchant_id, load_pages),
        delivery_by_id=by_id_loader(
            resources,
            merchant_id,
            lambda session, ids: WebhookDeliveriesRepository(
                session, merchant_id
            ).deliveries_by_ids(ids),
        ),
    )
