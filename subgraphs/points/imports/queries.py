"""Reading the shop's imports."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.kit.graphql.node import local_id
from subgraphs.kit.graphql.relay import Connection, paged, to_connection
from subgraphs.kit.pagination import PageRequest
from subgraphs.kit.permissions import Capability, require
from subgraphs.points.imports import service
from subgraphs.points.imports.types import DataImport
from subgraphs.points.loaders import PointsInfo


@strawberry.field(description="The shop's imports and dry runs, newest first.")
@paged()
async def data_imports(info: PointsInfo, paging: PageRequest) -> Connection[DataImport]:
    require(info.context.viewer, Capability.READ_CUSTOMERS)
    async with info.context.unit_of_work() as session:
        page = await service.imports_page(session, info.context.viewer.merchant_id, paging)
    return to_connection(page, position=lambda row: (row.id,), node=DataImport.from_row)


@strawberry.field(description="One import or dry run; null if the shop has none by this id.")
async def data_import(
    info: PointsInfo,
    id: Annotated[strawberry.ID, strawberry.argument(description="The import's global ID.")],
) -> DataImport | None:
    require(info.context.viewer, Capability.READ_CUSTOMERS)
    row = await info.context.loaders.data_import_by_id.load(local_id(id, "DataImport"))
    return None if row is None else DataImport.from_row(row)


DataImportQuery = create_type("DataImportQuery", [data_imports, data_import])
