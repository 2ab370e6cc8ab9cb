"""DataLoaders of the points subgraph, built per request for one viewer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from strawberry import Info
from strawberry.dataloader import DataLoader

from db.models import Customer, PointsTransaction
from db.session import tenant_unit_of_work
from subgraphs.kit.auth import Viewer
from subgraphs.kit.context import Context
from subgraphs.kit.relay import Page, PageRequest
from subgraphs.kit.resources import Resources
from subgraphs.points.repository import PointsRepository

TransactionPageKey = tuple[str, PageRequest]


@dataclass(frozen=True)
class PointsLoaders:
    customer_by_id: DataLoader[str, Customer | None]
    customers_page: DataLoader[PageRequest, Page[Customer]]
    transactions_page_by_customer: DataLoader[TransactionPageKey, Page[PointsTransaction]]


def build_points_loaders(resources: Resources, viewer: Viewer) -> PointsLoaders:
    merchant_id = viewer.merchant_id

    async def load_customers(ids: Sequence[str]) -> list[Customer | None]:
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            found = await PointsRepository(session, merchant_id).customers_by_ids(ids)
        by_id = {customer.id: customer for customer in found}
        return [by_id.get(customer_id) for customer_id in ids]

    async def load_customer_pages(requests: Sequence[PageRequest]) -> list[Page[Customer]]:
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            repository = PointsRepository(session, merchant_id)
            pages = [await repository.customers_page(request) for request in requests]
        for page in pages:
            for customer in page.rows:
                customer_by_id.prime(customer.id, customer)
        return pages

    async def load_transaction_pages(
        keys: Sequence[TransactionPageKey],
    ) -> list[Page[PointsTransaction]]:
        # Customers asked for with the same page arguments share one statement.
        customers_by_request: dict[PageRequest, list[str]] = {}
        for customer_id, request in keys:
            customers_by_request.setdefault(request, []).append(customer_id)
        pages: dict[TransactionPageKey, Page[PointsTransaction]] = {}
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            repository = PointsRepository(session, merchant_id)
            for request, customer_ids in customers_by_request.items():
                found = await repository.transaction_pages(customer_ids, request)
                for customer_id, page in found.items():
                    pages[(customer_id, request)] = page
        return [pages[key] for key in keys]

    customer_by_id = DataLoader(load_fn=load_customers)
    return PointsLoaders(
        customer_by_id=customer_by_id,
        customers_page=DataLoader(load_fn=load_customer_pages),
        transactions_page_by_customer=DataLoader(load_fn=load_transaction_pages),
    )


PointsInfo = Info[Context[PointsLoaders], None]
