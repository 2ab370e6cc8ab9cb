"""Live points for the storefront widget: one customer's balance, pushed on every change of
their ledger. A push reads the committed row in a unit of work of its own (the socket's
context outlives every request, and with it the request loaders)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from db.session import tenant_unit_of_work
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
        resources = info.context.resources
        merchant_id = info.context.viewer.merchant_id
        wanted = str(customer_id)
        require_customer_access(info.context.viewer, wanted)

        async def current() -> Customer | None:
            async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
                row = await customer_by_id(session, merchant_id, wanted)
            return None if row is None else Customer.from_row(row)

        async with resources.pubsub.subscribe(ledger_channel(merchant_id)) as events:
            # Subscribed before the first read, so no change can slip between the two.
            snapshot = await current()
            if snapshot is None:
                return
            yield snapshot
            async for event in events:
                if event.get("customer_id") != wanted:
                    continue
                snapshot = await current()
                if snapshot is not None:
                    yield snapshot
