"""DataLoaders of the points subgraph, built per request for one viewer. Each batch is one
unit of work and one statement per distinct argument set, whatever the number of customers."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import Info
from strawberry.dataloader import DataLoader

from db.models import (
    BonusCampaign,
    Consent,
    Customer,
    DataImport,
    NotificationDelivery,
    PointsTransaction,
    Reward,
    VipTier,
)
from db.session import tenant_unit_of_work
from subgraphs.kit.auth import Viewer
from subgraphs.kit.graphql.context import Context
from subgraphs.kit.graphql.loaders import (
    PerOwner,
    by_id_loader,
    in_key_order,
    per_owner_loader,
    repository_by_id_loader,
    tenant_loader,
)
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.repository import Comparison
from subgraphs.kit.resources import Resources
from subgraphs.points.campaigns.repository import CampaignRepository
from subgraphs.points.consents.repository import ConsentRepository
from subgraphs.points.customers.repository import CustomerRepository
from subgraphs.points.customers.service import parse_customer_query
from subgraphs.points.imports.repository import DataImportRepository
from subgraphs.points.ledger.repository import LedgerRepository
from subgraphs.points.notifications.repository import DeliveryRepository
from subgraphs.points.program.service import ProgramConfig, program_config
from subgraphs.points.rewards.repository import (
    RedemptionRepository,
    RedemptionWithReward,
    RewardRepository,
)
from subgraphs.points.tiers.repository import TierRepository

TransactionPageKey = tuple[str, PageRequest]
RedemptionPageKey = tuple[str, PageRequest]
# (page, query filter, sort key)
CustomerPageKey = tuple[PageRequest, str, str]
ExpiringKey = tuple[str, int]
ExpiringLots = list[tuple[datetime, int]]


ArgumentT = TypeVar("ArgumentT", bound=Hashable)
ValueT = TypeVar("ValueT")


class PointsLoaders:
    """The request's loaders, each built on its first use: a request reads a few of them, and
    building all eleven up front was ~6 % of a small query's CPU (py-spy, bench/api.py)."""

    def __init__(self, resources: Resources, viewer: Viewer) -> None:
        self._resources = resources
        self._merchant_id = viewer.merchant_id
        self._customer_filters: dict[str, Sequence[Comparison]] = {}

    def customer_filters(self, query: str) -> Sequence[Comparison]:
        """A customer search's filters, parsed once per request: the field checks the query
        before it loads (a bad one is the client's error), and the page's load uses them."""
        filters = self._customer_filters.get(query)
        if filters is None:
            filters = parse_customer_query(query, self._resources.cipher)
            self._customer_filters[query] = filters
        return filters

    def _unit_of_work(self) -> AbstractAsyncContextManager[AsyncSession]:
        return tenant_unit_of_work(self._resources.sessions, self._merchant_id)

    def _per_customer(
        self, load: PerOwner[ArgumentT, ValueT]
    ) -> DataLoader[tuple[str, ArgumentT], ValueT]:
        return per_owner_loader(self._resources, self._merchant_id, load)

    @cached_property
    def customer_by_id(self) -> DataLoader[str, Customer | None]:
        async def load(ids: Sequence[str]) -> list[Customer | None]:
            async with self._unit_of_work() as session:
                found = await CustomerRepository(session, self._merchant_id).customers_by_ids(ids)
            return in_key_order(found, ids, key=lambda customer: customer.id)

        return DataLoader(load_fn=load)

    @cached_property
    def customers_page(self) -> DataLoader[CustomerPageKey, Page[Customer]]:
        async def load(keys: Sequence[CustomerPageKey]) -> list[Page[Customer]]:
            async with self._unit_of_work() as session:
                repository = CustomerRepository(session, self._merchant_id)
                pages = [
                    await repository.customers_page(
                        request,
                        self.customer_filters(query),
                        sort_key=sort_key,
                    )
                    for request, query, sort_key in keys
                ]
            # A customer of a page asked for again by id (an entity reference) is not read twice.
            for page in pages:
                for customer in page.rows:
                    self.customer_by_id.prime(customer.id, customer)
            return pages

        return DataLoader(load_fn=load)

    @cached_property
    def transactions_page_by_customer(
        self,
    ) -> DataLoader[TransactionPageKey, Page[PointsTransaction]]:
        async def pages(
            session: AsyncSession, customer_ids: list[str], request: PageRequest
        ) -> dict[str, Page[PointsTransaction]]:
            repository = LedgerRepository(session, self._merchant_id)
            return await repository.transaction_pages(customer_ids, request)

        return self._per_customer(pages)

    @cached_property
    def redemptions_page_by_customer(
        self,
    ) -> DataLoader[RedemptionPageKey, Page[RedemptionWithReward]]:
        async def pages(
            session: AsyncSession, customer_ids: list[str], request: PageRequest
        ) -> dict[str, Page[RedemptionWithReward]]:
            repository = RedemptionRepository(session, self._merchant_id)
            return await repository.redemption_pages(customer_ids, request)

        return self._per_customer(pages)

    @cached_property
    def expiring_points_by_customer(self) -> DataLoader[ExpiringKey, ExpiringLots]:
        async def expiring_within(
            session: AsyncSession, customer_ids: list[str], days: int
        ) -> dict[str, ExpiringLots]:
            until = datetime.now(UTC) + timedelta(days=days)
            repository = LedgerRepository(session, self._merchant_id)
            return await repository.expiring_points(customer_ids, until)

        return self._per_customer(expiring_within)

    @cached_property
    def program_config(self) -> DataLoader[str, ProgramConfig]:
        """Keyed by merchant id; one viewer means one key, loaded at most once per request."""

        async def load(merchant_ids: Sequence[str]) -> list[ProgramConfig]:
            async with self._unit_of_work() as session:
                config = await program_config(session, self._merchant_id)
            return [config for _ in merchant_ids]

        return DataLoader(load_fn=load)

    @cached_property
    def vip_tier_by_id(self) -> DataLoader[str, VipTier | None]:
        """A merchant has a few tiers: any request for one loads them all in one statement."""

        async def load(tier_ids: Sequence[str]) -> list[VipTier | None]:
            async with self._unit_of_work() as session:
                tiers = await TierRepository(session, self._merchant_id).tiers()
            by_id = {tier.id: tier for tier in tiers}
            return [by_id.get(tier_id) for tier_id in tier_ids]

        return DataLoader(load_fn=load)

    # Refetches by global ID (node/nodes through the router): one statement per batch.

    @cached_property
    def reward_by_id(self) -> DataLoader[str, Reward | None]:
        return by_id_loader(
            self._resources,
            self._merchant_id,
            lambda session, ids: RewardRepository(session, self._merchant_id).rewards_by_ids(ids),
        )

    @cached_property
    def redemption_by_id(self) -> DataLoader[str, RedemptionWithReward | None]:
        async def load(
            session: AsyncSession, ids: Sequence[str]
        ) -> list[RedemptionWithReward | None]:
            found = await RedemptionRepository(session, self._merchant_id).redemptions_by_ids(ids)
            return in_key_order(found, ids, key=lambda view: view.redemption.id)

        return tenant_loader(self._resources, self._merchant_id, load)

    @cached_property
    def transaction_by_id(self) -> DataLoader[str, PointsTransaction | None]:
        return repository_by_id_loader(self._resources, self._merchant_id, LedgerRepository)

    @cached_property
    def campaign_by_id(self) -> DataLoader[str, BonusCampaign | None]:
        return repository_by_id_loader(self._resources, self._merchant_id, CampaignRepository)

    @cached_property
    def notification_delivery_by_id(self) -> DataLoader[str, NotificationDelivery | None]:
        return repository_by_id_loader(self._resources, self._merchant_id, DeliveryRepository)

    @cached_property
    def data_import_by_id(self) -> DataLoader[str, DataImport | None]:
        return by_id_loader(
            self._resources,
            self._merchant_id,
            lambda session, ids: DataImportRepository(session, self._merchant_id).get_by_ids(ids),
        )

    @cached_property
    def consents_by_customer(self) -> DataLoader[str, list[Consent]]:
        """A customer's current consents (their latest choice per type)."""

        async def load(session: AsyncSession, ids: Sequence[str]) -> list[list[Consent]]:
            by_customer: dict[str, list[Consent]] = {customer_id: [] for customer_id in ids}
            for row in await ConsentRepository(session, self._merchant_id).current(ids):
                by_customer[row.customer_id].append(row)
            return [by_customer[customer_id] for customer_id in ids]

        return tenant_loader(self._resources, self._merchant_id, load)


def build_points_loaders(resources: Resources, viewer: Viewer) -> PointsLoaders:
    return PointsLoaders(resources, viewer)


PointsInfo = Info[Context[PointsLoaders], None]
