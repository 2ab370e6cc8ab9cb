"""Following the Shopify backfill as the worker carries it out: the run now, then after every
change the job publishes once committed (a step started, a batch of lines written, the run
ended), until it has ended. Each push reads the committed row in a unit of work of its own,
once per change for every subscriber of the shop in this process (``kit.graphql.subscriptions``)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.admin.backfill import service
from subgraphs.admin.backfill.repository import ACTIVE
from subgraphs.admin.backfill.types import ShopifyBackfill
from subgraphs.admin.loaders import AdminInfo
from subgraphs.kit.graphql.subscriptions import live_snapshots
from subgraphs.kit.permissions import Capability, require


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The shop's Shopify backfill now, then again after every step and every "
        "batch of lines the worker writes (status, step, customersImported, ordersImported); "
        "ends once it is no longer QUEUED or RUNNING, or at once if the shop never ran one. "
        "Needs the read_program capability."
    )
    async def shopify_backfill_progress(
        self, info: AdminInfo
    ) -> AsyncGenerator[ShopifyBackfill, None]:
        merchant_id = require(info.context.viewer, Capability.READ_PROGRAM).merchant_id

        async def current(session: AsyncSession) -> ShopifyBackfill | None:
            row = await service.backfill_of(session, merchant_id)
            return None if row is None else ShopifyBackfill.from_row(row)

        snapshots = live_snapshots(
            info,
            channel=service.backfill_channel(merchant_id),
            kind="shopify_backfill_progress",
            read=current,
        )
        async with aclosing(snapshots):  # unsubscribes at once when the client does
            async for backfill in snapshots:
                yield backfill
                if backfill.status not in ACTIVE:
                    return
