"""DataLoaders of the points subgraph, built per request for one viewer. Each batch is one
unit of work and one statement per distinct argument set, whatever the number of customers."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import Info
from strawberry.dataloader import DataLoader

from db.models import Customer, PointsTransaction, VipTier
from db.session import tenant_unit_of_work
from subgraphs.kit.auth import Viewer
from subgraphs.kit.graphql.context import Context
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.resources import Resources
from subgraphs.points.repository.customers import CustomerRepository
from subgraphs.points.repository.rewards import RedemptionWithReward, RewardRepository
from subgraphs.points.repository.tiers import TierRepository
from subgraphs.points.service.customers import parse_customer_query
from subgraphs.points.service.program import ProgramConfig, program_config

TransactionPageKey = tuple[str, PageRequest]
RedemptionPageKey = tuple[str, PageRequest]
CustomerPageKey = tuple[PageRequest, str]
ExpiringKey = tuple[str, int]
ExpiringLots = list[tuple[datetime, int]]


@dataclass(frozen=True)
class PointsLoaders:
    customer_by_id: DataLoader[str, Customer | None]
    customers_page: DataLoader[CustomerPageKey, Page[Customer]]
    transactions_page_by_customer: DataLoader[TransactionPageKey, Page[PointsTransaction]]
    redemptions_page_by_customer: DataLoader[RedemptionPageKey, Page[RedemptionWithReward]]
    expiring_points_by_customer: DataLoader[ExpiringKey, ExpiringLots]
    # Keyed by merchant id; one viewer means one key, loaded at most once per request.
    program_config: DataLoader[str, ProgramConfig]
    # A merchant has a few tiers: any request for one loads them all in one statement.
    vip_tier_by_id: DataLoader[str, VipTier | None]


K = TypeVar("K")
A = TypeVar("A")


def _group_by_argument(keys: Sequence[tuple[K, A]]) -> dict[A, list[K]]:
    grouped: dict[A, list[K]] = {}
    for key, argument in keys:
        grouped.setdefault(argument, []).append(key)
    return grouped


def build_points_loaders(resources: Resources, viewer: Viewer) -> PointsLoaders:
    merchant_id = viewer.merchant_id

    def unit_of_work() -> AbstractAsyncContextManager[AsyncSession]:
        return tenant_unit_of_work(resources.sessions, merchant_id)

    async def load_customers(ids: Sequence[str]) -> list[Customer | None]:
        async with unit_of_work() as session:
            found = await CustomerRepository(session, merchant_id).customers_by_ids(ids)
        by_id = {customer.id: customer for customer in found}
        return [by_id.get(customer_id) for customer_id in ids]

    async def load_customer_pages(keys: Sequence[CustomerPageKey]) -> list[Page[Customer]]:
        async with unit_of_work() as session:
            repository = CustomerRepository(session, merchant_id)
            pages = [
                await repository.customers_page(
                    request, parse_customer_query(query, resources.cipher)
                )
                for request, query in keys
            ]
        for page in pages:
            for customer in page.rows:
                customer_by_id.prime(customer.id, customer)
        return pages

    async def load_transaction_pages(
        keys: Sequence[TransactionPageKey],
    ) -> list[Page[PointsTransaction]]:
        pages: dict[TransactionPageKey, Page[PointsTransaction]] = {}
        async with unit_of_work() as session:
            repository = CustomerRepository(session, merchant_id)
            for request, customer_ids in _group_by_argument(keys).items():
                found = await repository.transaction_pages(customer_ids, request)
                for customer_id, page in found.items():
                    pages[(customer_id, request)] = page
        return [pages[key] for key in keys]

    async def load_redemption_pages(
        keys: Sequence[RedemptionPageKey],
    ) -> list[Page[RedemptionWithReward]]:
        pages: dict[RedemptionPageKey, Page[RedemptionWithReward]] = {}
        async with unit_of_work() as session:
            repository = RewardRepository(session, merchant_id)
            for request, customer_ids in _group_by_argument(keys).items():
                found = await repository.redemption_pages(customer_ids, request)
                for customer_id, page in found.items():
                    pages[(customer_id, request)] = page
        return [pages[key] for key in keys]

    async def load_expiring(keys: Sequence[ExpiringKey]) -> list[ExpiringLots]:
        found: dict[ExpiringKey, ExpiringLots] = {}
        now = datetime.now(UTC)
        async with unit_of_work() as session:
            repository = CustomerRepository(session, merchant_id)
            for days, customer_ids in _group_by_argument(keys).items():
                lots = await repository.expiring_points(customer_ids, now + timedelta(days=days))
                for customer_id, customer_lots in lots.items():
                    found[(customer_id, days)] = customer_lots
        return [found[key] for key in keys]

    async def load_program_config(merchant_ids: Sequence[str]) -> list[ProgramConfig]:
        async with unit_of_work() as session:
            config = await program_config(session, merchant_id)
        return [config for _ in merchant_ids]

    async def load_vip_tiers(tier_ids: Sequence[str]) -> list[VipTier | None]:
        async with unit_of_work() as session:
            tiers = {tier.id: tier for tier in await TierRepository(session, merchant_id).tiers()}
        return [tiers.get(tier_id) for tier_id in tier_ids]

    customer_by_id = DataLoader(load_fn=load_customers)
    return PointsLoaders(
        customer_by_id=customer_by_id,
        customers_page=DataLoader(load_fn=load_customer_pages),
        transactions_page_by_customer=DataLoader(load_fn=load_transaction_pages),
        redemptions_page_by_customer=DataLoader(load_fn=load_redemption_pages),
        expiring_points_by_customer=DataLoader(load_fn=load_expiring),
        program_config=DataLoader(load_fn=load_program_config),
        vip_tier_by_id=DataLoader(load_fn=load_vip_tiers),
    )


PointsInfo = Info[Context[PointsLoaders], None]
