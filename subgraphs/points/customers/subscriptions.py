"""Live points for the storefront widget: one customer's balance, pushed on every change of
their ledger. A push reads the committed row in a unit of work of its own (the socket's
context outlives every request, and with it the request loaders), once per change for every
subscriber of that customer in this process (``kit.graphql.subscriptions``, keyed by the
customer)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.kit.graphql.node import local_id
from subgraphs.kit.graphql.subscriptions import live_snapshots
from subgraphs.kit.permissions import require_customer_access
from subgraphs.kit.pubsub import ledger_channel
from subgraphs.points.customers.service import customer_by_id
from subgraphs.points.customers.types import Customer
from subgraphs.points.loaders import PointsInfo


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The customer's points now, then again after every change of their ledger. "
        "Ends at once if there is no such customer."
    )
    async def customer_points_updated(
        self,
        info: PointsInfo,
        customer_id: Annotated[
            strawberry.ID, strawberry.argument(description="The customer to follow.")
        ],
    ) -> AsyncGenerator[Customer, None]:
        merchant_id = info.context.viewer.merchant_id
        wanted = local_id(customer_id, "Customer")
        require_customer_access(info.context.viewer, wanted)

        async def current(session: AsyncSession) -> Customer | None:
            row = await customer_by_id(session, merchant_id, wanted)
            return None if row is None else Customer.from_row(row)

        def theirs(event: Mapping[str, Any]) -> bool:
            return event.get("customer_id") == wanted

        snapshots = live_snapshots(
            info,
            channel=ledger_channel(merchant_id),
            kind="customer_points",
            key=(wanted,),
            read=current,
            relevant=theirs,
        )
        async with aclosing(snapshots):  # unsubscribes at once when the client does
            async for customer in snapshots:
                yield customer
