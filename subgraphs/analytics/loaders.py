"""DataLoaders of the analytics subgraph, built per request for one viewer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from strawberry import Info
from strawberry.dataloader import DataLoader

from db.session import tenant_unit_of_work
from subgraphs.analytics import service
from subgraphs.analytics.churn import service as churn
from subgraphs.analytics.rfm import service as rfm
from subgraphs.analytics.rfm.service import CustomerRfm
from subgraphs.analytics.service import LoyaltyMetricsSnapshot
from subgraphs.kit.auth import Viewer
from subgraphs.kit.graphql.context import Context
from subgraphs.kit.resources import Resources


@dataclass(frozen=True)
class AnalyticsLoaders:
    loyalty_metrics_by_merchant: DataLoader[str, LoyaltyMetricsSnapshot]
    rfm_by_customer: DataLoader[str, CustomerRfm | None]
    churn_by_customer: DataLoader[str, tuple[Decimal | None, str | None]]


def build_analytics_loaders(resources: Resources, viewer: Viewer) -> AnalyticsLoaders:
    async def load_metrics(merchant_ids: Sequence[str]) -> list[LoyaltyMetricsSnapshot]:
        # Row-level security confines a request to its viewer's merchant, so a batch only ever
        # holds that one id.
        async def from_ledger(merchant_id: str) -> LoyaltyMetricsSnapshot:
            async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
                return await service.fresh_loyalty_metrics(session, merchant_id)

        return [
            await service.loyalty_metrics(
                resources.cache, merchant_id, partial(from_ledger, merchant_id)
            )
            for merchant_id in merchant_ids
        ]

    async def load_rfm(customer_ids: Sequence[str]) -> list[CustomerRfm | None]:
        # One statement for every customer of the request (row-level security keeps it to
        # the viewer's merchant).
        async with tenant_unit_of_work(resources.sessions, viewer.merchant_id) as session:
            found = await rfm.rfm_of_customers(session, viewer.merchant_id, customer_ids)
        return [found.get(customer_id) for customer_id in customer_ids]

    async def load_churn(customer_ids: Sequence[str]) -> list[tuple[Decimal | None, str | None]]:
        async with tenant_unit_of_work(resources.sessions, viewer.merchant_id) as session:
            found = await churn.churn_of_customers(session, viewer.merchant_id, customer_ids)
        return [found.get(customer_id, (None, None)) for customer_id in customer_ids]

    return AnalyticsLoaders(
        loyalty_metrics_by_merchant=DataLoader(load_fn=load_metrics),
        rfm_by_customer=DataLoader(load_fn=load_rfm),
        churn_by_customer=DataLoader(load_fn=load_churn),
    )


AnalyticsInfo = Info[Context[AnalyticsLoaders], None]
