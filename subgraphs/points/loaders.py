"""DataLoaders of the points subgraph, built per request for one viewer. Each batch is one
unit of work and one statement per distinct argument set, whatever the number of customers."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import Info
from strawberry.dataloader import DataLoader

from db.models import (
    BonusCampaign,
    Consent,
    Customer,
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
    tenant_loader,
)
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.resources import Resources
from subgraphs.points.campaigns.repository import CampaignRepository
from subgraphs.points.consents.repository import ConsentRepository
from subgraphs.points.customers.repository import CustomerRepository
from subgraphs.points.customers.service import parse_customer_query
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
    # Refetches by global ID (node/nodes through the router): one statement per batch.
    reward_by_id: DataLoader[str, Reward | None]
    redemption_by_id: DataLoader[str, RedemptionWithReward | None]
    transaction_by_id: DataLoader[str, PointsTransaction | None]
    campaign_by_id: DataLoader[str, BonusCampaign | None]
    notification_delivery_by_id: DataLoader[str, NotificationDelivery | None]
    # A customer's current consents (their latest choice per type).
    consents_by_customer: DataLoader[str, list[Consent]]


ArgumentT = TypeVar("ArgumentT", bound=Hashable)
ValueT = TypeVar("ValueT")


def build_points_loaders(resources: Resources, viewer: Viewer) -> PointsLoaders:
    merchant_id = viewer.merchant_id

    def unit_of_work() -> AbstractAsyncContextManager[AsyncSession]:
        return tenant_unit_of_work(resources.sessions, merchant_id)

    def per_customer(
        load: PerOwner[ArgumentT, ValueT],
    ) -> DataLoader[tuple[str, ArgumentT], ValueT]:
        return per_owner_loader(resources, merchant_id, load)

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
                    request, parse_customer_query(query, resources.cipher), sort_key=sort_key
                )
                for request, query, sort_key in keys
            ]
        for page in pages:
            for customer in page.rows:
                customer_by_id.prime(customer.id, customer)
        return pages

    async def transaction_pages(
        session: AsyncSession, customer_ids: list[str], request: PageRequest
    ) -> dict[str, Page[PointsTransaction]]:
        return await LedgerRepository(session, merchant_id).transaction_pages(customer_ids, request)

    async def redemption_pages(
        session: AsyncSession, customer_ids: list[str], request: PageRequest
    ) -> dict[str, Page[RedemptionWithReward]]:
        repository = RedemptionRepository(session, merchant_id)
        return await repository.redemption_pages(customer_ids, request)

    async def expiring_within(
        session: AsyncSession, customer_ids: list[str], days: int
    ) -> dict[str, ExpiringLots]:
        until = datetime.now(UTC) + timedelta(days=days)
        return await LedgerRepository(session, merchant_id).expiring_points(customer_ids, until)

    async def load_program_config(merchant_ids: Sequence[str]) -> list[ProgramConfig]:
        async with unit_of_work() as session:
            config = await program_config(session, merchant_id)
        return [config for _ in merchant_ids]

    async def load_vip_tiers(tier_ids: Sequence[str]) -> list[VipTier | None]:
        async with unit_of_work() as session:
            tiers = {tier.id: tier for tier in await TierRepository(session, merchant_id).tiers()}
        return [tiers.get(tier_id) for tier_id in tier_ids]

    async def load_redemptions(
        session: AsyncSession, ids: Sequence[str]
    ) -> list[RedemptionWithReward | None]:
        found = await RedemptionRepository(session, merchant_id).redemptions_by_ids(ids)
        return in_key_order(found, ids, key=lambda view: view.redemption.id)

    async def load_consents(session: AsyncSession, ids: Sequence[str]) -> list[list[Consent]]:
        by_customer: dict[str, list[Consent]] = {customer_id: [] for customer_id in ids}
        for row in await ConsentRepository(session, merchant_id).current(ids):
            by_customer[row.customer_id].append(row)
        return [by_customer[customer_id] for customer_id in ids]

    customer_by_id = DataLoader(load_fn=load_customers)
    return PointsLoaders(
        customer_by_id=customer_by_id,
        customers_page=DataLoader(load_fn=load_customer_pages),
        transactions_page_by_customer=per_customer(transaction_pages),
        redemptions_page_by_customer=per_customer(redemption_pages),
        expiring_points_by_customer=per_customer(expiring_within),
        program_config=DataLoader(load_fn=load_program_config),
        vip_tier_by_id=DataLoader(load_fn=load_vip_tiers),
        reward_by_id=by_id_loader(
            resources,
            merchant_id,
            lambda session, ids: RewardRepository(session, merchant_id).rewards_by_ids(ids),
        ),
        redemption_by_id=tenant_loader(resources, merchant_id, load_redemptions),
        transaction_by_id=by_id_loader(
            resources,
            merchant_id,
            lambda session, ids: LedgerRepository(session, merchant_id).get_by_ids(ids),
        ),
        campaign_by_id=by_id_loader(
            resources,
            merchant_id,
            lambda session, ids: CampaignRepository(session, merchant_id).get_by_ids(ids),
        ),
        notification_delivery_by_id=by_id_loader(
            resources,
            merchant_id,
            lambda session, ids: DeliveryRepository(session, merchant_id).get_by_ids(ids),
        ),
        consents_by_customer=tenant_loader(resources, merchant_id, load_consents),
    )


PointsInfo = Info[Context[PointsLoaders], None]
