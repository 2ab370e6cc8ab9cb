"""Read entry points of the GDPR domain."""

from __future__ import annotations

from typing import Annotated

import strawberry

from subgraphs.admin.gdpr.types import GdprRequest, GdprRequestType
from subgraphs.admin.loaders import AdminInfo
from subgraphs.kit.graphql.relay import Connection, paged, to_connection
from subgraphs.kit.pagination import PageRequest, time_ordered_page, time_ordered_position
from subgraphs.kit.permissions import Capability, require

GdprTypeArgument = Annotated[
    GdprRequestType | None,  # type: ignore[valid-type]
    strawberry.argument(name="type", description="Only requests of this type."),
]


@strawberry.type
class Query:
    @strawberry.field(
        description="The GDPR requests Shopify sent for the merchant, newest first. Needs the "
        "read_gdpr capability."
    )
    @paged(time_ordered_page)
    async def gdpr_requests(
        self,
        info: AdminInfo,
        request_type: GdprTypeArgument = None,
        *,
        paging: PageRequest,
    ) -> Connection[GdprRequest]:
        require(info.context.viewer, Capability.READ_GDPR)
        page = await info.context.loaders.gdpr.gdpr_requests_page.load(
            (
                None if request_type is None else request_type.value,
                paging,
            )
        )
        return to_connection(page, position=time_ordered_position, node=GdprRequest.from_row)
