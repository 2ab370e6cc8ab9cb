"""DataLoaders of the admin subgraph, built per request for one viewer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from strawberry import Info
from strawberry.dataloader import DataLoader

from db.models import ApiLog, GdprRequest, Merchant
from db.session import tenant_unit_of_work
from subgraphs.admin.gdpr import read_export
from subgraphs.admin.repository import (
    GdprRequestsRepository,
    MerchantsRepository,
    NewestFirstAfter,
    WebhookDeliveriesRepository,
)
from subgraphs.kit.auth import Viewer
from subgraphs.kit.graphql.context import Context
from subgraphs.kit.pagination import Page
from subgraphs.kit.resources import Resources

# (status, topic, limit, after): one page of the webhook inbox.
DeliveryPageKey = tuple[str | None, str | None, int, NewestFirstAfter | None]
# (request type, limit, after): one page of GDPR requests.
GdprPageKey = tuple[str | None, int, NewestFirstAfter | None]


@dataclass(frozen=True)
class AdminLoaders:
    merchant_by_id: DataLoader[str, Merchant | None]
    webhook_deliveries_page: DataLoader[DeliveryPageKey, Page[ApiLog]]
    gdpr_requests_page: DataLoader[GdprPageKey, Page[GdprRequest]]
    # Decrypted data_request exports; one transaction per batch, one statement per export
    # (gdpr.read_export reads one request), so select them only on short pages.
    gdpr_export_by_id: DataLoader[str, dict[str, Any] | None]


def build_admin_loaders(resources: Resources, viewer: Viewer) -> AdminLoaders:
    merchant_id = viewer.merchant_id

    async def load_merchants(merchant_ids: Sequence[str]) -> list[Merchant | None]:
        # Row-level security hides every merchant but the viewer's.
        async with tenant_unit_of_work(resources.sessions, viewer.merchant_id) as session:
            found = await MerchantsRepository(session).merchants_by_ids(merchant_ids)
        by_id = {merchant.id: merchant for merchant in found}
        return [by_id.get(merchant_id) for merchant_id in merchant_ids]

    async def load_delivery_pages(keys: Sequence[DeliveryPageKey]) -> list[Page[ApiLog]]:
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            repository = WebhookDeliveriesRepository(session, merchant_id)
            return [
                await repository.deliveries_page(
                    status=status, topic=topic, limit=limit, after=after
                )
                for status, topic, limit, after in keys
            ]

    async def load_gdpr_pages(keys: Sequence[GdprPageKey]) -> list[Page[GdprRequest]]:
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            repository = GdprRequestsRepository(session, merchant_id)
            return [
                await repository.requests_page(request_type=request_type, limit=limit, after=after)
                for request_type, limit, after in keys
            ]

    async def load_exports(request_ids: Sequence[str]) -> list[dict[str, Any] | None]:
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            return [
                await read_export(session, resources.cipher, request_id)
                for request_id in request_ids
            ]

    return AdminLoaders(
        merchant_by_id=DataLoader(load_fn=load_merchants),
        webhook_deliveries_page=DataLoader(load_fn=load_delivery_pages),
        gdpr_requests_page=DataLoader(load_fn=load_gdpr_pages),
        gdpr_export_by_id=DataLoader(load_fn=load_exports),
    )


AdminInfo = Info[Context[AdminLoaders], None]
