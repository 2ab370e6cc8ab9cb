"""DataLoaders of the GDPR domain, built per request for one viewer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from strawberry.dataloader import DataLoader

from db.models import GdprRequest
from db.session import tenant_unit_of_work
from subgraphs.admin.gdpr.export import read_export
from subgraphs.admin.gdpr.repository import GdprRequestsRepository
from subgraphs.kit.auth import Viewer
from subgraphs.kit.pagination import Page, TimeOrderedAfter
from subgraphs.kit.resources import Resources

# (request type, limit, after): one page of GDPR requests.
GdprPageKey = tuple[str | None, int, TimeOrderedAfter | None]


@dataclass(frozen=True)
class GdprLoaders:
    gdpr_requests_page: DataLoader[GdprPageKey, Page[GdprRequest]]
    # Decrypted data_request exports; one transaction per batch, one statement per export
    # (export.read_export reads one request), so select them only on short pages.
    gdpr_export_by_id: DataLoader[str, dict[str, Any] | None]


def build_gdpr_loaders(resources: Resources, viewer: Viewer) -> GdprLoaders:
    merchant_id = viewer.merchant_id

    async def load_pages(keys: Sequence[GdprPageKey]) -> list[Page[GdprRequest]]:
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            repository = GdprRequestsRepository(session, merchant_id)
            return [
                await repository.requests_page(request_type=request_type, limit=limit, after=after)
                for request_type, limit, after in keys
            ]

    async def load_exports(request_ids: Sequence[str]) -> list[dict[str, Any] | None]:
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            return [
                await read_export(session, resources.cipher, merchant_id, request_id)
                for request_id in request_ids
            ]

    return GdprLoaders(
        gdpr_requests_page=DataLoader(load_fn=load_pages),
        gdpr_export_by_id=DataLoader(load_fn=load_exports),
    )
