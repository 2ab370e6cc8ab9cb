"""Following an import as a worker applies it: the import now, then after every step the
worker publishes (``imports.queued``), until it is finished. Each push reads the committed row
in a unit of work of its own, once per step for every subscriber of that import in this
process (``kit.graphql.subscriptions``, keyed by the import)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import UNFINISHED_IMPORT_STATUSES
from subgraphs.kit.graphql.node import local_id
from subgraphs.kit.graphql.subscriptions import live_snapshots
from subgraphs.kit.permissions import Capability, require
from subgraphs.kit.pubsub import data_import_channel
from subgraphs.points.imports import service
from subgraphs.points.imports.types import DataImport
from subgraphs.points.loaders import PointsInfo


@strawberry.type
class DataImportSubscription:
    @strawberry.subscription(
        description="The import now, then again after every step a worker makes applying it "
        "(status, rowsDone of rowsTotal); ends once it is no longer QUEUED or RUNNING, or at "
        "once if the shop has no such import."
    )
    async def data_import_progress(
        self,
        info: PointsInfo,
        id: Annotated[strawberry.ID, strawberry.argument(description="The import's global ID.")],
    ) -> AsyncGenerator[DataImport, None]:
        merchant_id = require(info.context.viewer, Capability.READ_CUSTOMERS).merchant_id
        wanted = local_id(id, "DataImport")

        async def current(session: AsyncSession) -> DataImport | None:
            row = await service.import_by_id(session, merchant_id, wanted)
            return None if row is None else DataImport.from_row(row)

        def its(event: Mapping[str, Any]) -> bool:
            return event.get("import_id") == wanted

        snapshots = live_snapshots(
            info,
            channel=data_import_channel(merchant_id),
            kind="data_import_progress",
            key=(wanted,),
            read=current,
            relevant=its,
        )
        async with aclosing(snapshots):  # unsubscribes at once when the client does
            async for data_import in snapshots:
                yield data_import
                if data_import.status not in UNFINISHED_IMPORT_STATUSES:
                    return
