"""DataLoaders of the GDPR domain, built per request for one viewer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from db.models import GdprRequest
from subgraphs.admin.gdpr.export import read_export
from subgraphs.admin.gdpr.repository import GdprRequestsRepository
from subgraphs.kit.auth import Viewer
from subgraphs.kit.graphql.loaders import by_id_loader, tenant_loader
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.resources import Resources

# (request type, page): one page of GDPR requests.
GdprPageKey = tuple[str | None, PageRequest]


@dataclass(frozen=True)
class GdprLoaders:
    gdpr_requests_page: DataLoader[GdprPageKey, Page[GdprRequest]]
    # Decrypted data_request exports; one transaction per batch, one statement per export
    # (export.read_export reads one request), so select them only on short pages.
    gdpr_export_by_id: DataLoader[str, dict[str, Any] | None]
    gdpr_request_by_id: DataLoader[str, GdprRequest | None]


def build_gdpr_loaders(resources: Resources, viewer: Viewer) -> GdprLoaders:
    merchant_id = viewer.merchant_id

    async def load_pages(
        session: AsyncSession, keys: Sequence[GdprPageKey]
    ) -> list[Page[GdprRequest]]:
        repository = GdprRequestsRepository(session, merchant_id)
        return [
            await repository.requests_page(request_type=request_type, page=page)
            for request_type, page in keys
        ]

    async def load_exports(
        session: AsyncSession, request_ids: Sequence[str]
    ) -> list[dict[str, Any] | None]:
        return [
            await read_export(session, resources.cipher, merchant_id, request_id)
            for request_id in request_ids
        ]

    return GdprLoaders(
        gdpr_requests_page=tenant_loader(resources, merchant_id, load_pages),
        gdpr_export_by_id=tenant_loader(resources, merchant_id, load_exports),
        gdpr_request_by_id=by_id_loader(
            resources,
            merchant_id,
            lambda session, ids: GdprRequestsRepository(session, merchant_id).requests_by_ids(ids),
        ),
    )
