"""Read entry points of the admin subgraph."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from graphql import GraphQLError

from subgraphs.admin.loaders import AdminInfo
from subgraphs.admin.repository import NewestFirstAfter
from subgraphs.admin.types import (
    GdprRequest,
    GdprRequestType,
    Merchant,
    WebhookDelivery,
    WebhookDeliveryStatus,
    newest_first_position,
)
from subgraphs.kit.errors import BAD_USER_INPUT
from subgraphs.kit.graphql.relay import (
    DEFAULT_PAGE_SIZE,
    AfterArgument,
    Connection,
    FirstArgument,
    PageRequest,
    page_request,
    to_connection,
)
from subgraphs.kit.permissions import Capability, require

StatusArgument = Annotated[
    WebhookDeliveryStatus | None, strawberry.argument(description="Only deliveries in this status.")
]
TopicArgument = Annotated[
    str | None, strawberry.argument(description="Only deliveries of this Shopify topic.")
]
GdprTypeArgument = Annotated[
    GdprRequestType | None,
    strawberry.argument(name="type", description="Only requests of this type."),
]


def _newest_first_after(request: PageRequest) -> NewestFirstAfter | None:
    if request.after is None:
        return None
    try:
        created_at, row_id = request.after
        position = (datetime.fromisoformat(created_at), row_id)
    except (TypeError, ValueError):
        raise GraphQLError("invalid cursor", extensions={"code": BAD_USER_INPUT}) from None
    if position[0].tzinfo is None or not isinstance(row_id, str):
        raise GraphQLError("invalid cursor", extensions={"code": BAD_USER_INPUT})
    return position


@strawberry.type
class Query:
    @strawberry.field(description="The viewer's merchant.")
    async def merchant(self, info: AdminInfo) -> Merchant | None:
        # Any role that reads the program may see whose it is; it is also the way to the
        # merchant's loyaltyMetrics, which check READ_ANALYTICS themselves.
        require(info.context.viewer, Capability.READ_PROGRAM)
        row = await info.context.loaders.merchant_by_id.load(info.context.viewer.merchant_id)
        return None if row is None else Merchant.from_row(row)

    @strawberry.field(
        description="The merchant's Shopify webhook deliveries, newest first. Needs the "
        "read_webhooks capability."
    )
    async def webhook_deliveries(
        self,
        info: AdminInfo,
        status: StatusArgument = None,
        topic: TopicArgument = None,
        first: FirstArgument = DEFAULT_PAGE_SIZE,
        after: AfterArgument = None,
    ) -> Connection[WebhookDelivery]:
        require(info.context.viewer, Capability.READ_WEBHOOKS)
        request = page_request(first, after)
        page = await info.context.loaders.webhook_deliveries_page.load(
            (
                None if status is None else str(status.value),
                topic,
                request.limit,
                _newest_first_after(request),
            )
        )
        return to_connection(page, position=newest_first_position, node=WebhookDelivery.from_row)

    @strawberry.field(
        description="The GDPR requests Shopify sent for the merchant, newest first. Needs the "
        "read_gdpr capability."
    )
    async def gdpr_requests(
        self,
        info: AdminInfo,
        request_type: GdprTypeArgument = None,
        first: FirstArgument = DEFAULT_PAGE_SIZE,
        after: AfterArgument = None,
    ) -> Connection[GdprRequest]:
        require(info.context.viewer, Capability.READ_GDPR)
        request = page_request(first, after)
        page = await info.context.loaders.gdpr_requests_page.load(
            (
                None if request_type is None else str(request_type.value),
                request.limit,
                _newest_first_after(request),
            )
        )
        return to_connection(page, position=newest_first_position, node=GdprRequest.from_row)
