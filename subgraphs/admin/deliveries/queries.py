"""Read entry points of the webhook deliveries domain."""

from __future__ import annotations

from typing import Annotated

import strawberry

from subgraphs.admin.deliveries.types import WebhookDelivery, WebhookDeliveryStatus, WebhookTopic
from subgraphs.admin.loaders import AdminInfo
from subgraphs.kit.graphql.relay import Connection, paged, to_connection
from subgraphs.kit.pagination import PageRequest, time_ordered_page, time_ordered_position
from subgraphs.kit.permissions import Capability, require

StatusArgument = Annotated[
    WebhookDeliveryStatus | None,  # type: ignore[valid-type]
    strawberry.argument(description="Only deliveries in this status."),
]
TopicArgument = Annotated[
    WebhookTopic | None,  # type: ignore[valid-type]
    strawberry.argument(description="Only deliveries of this Shopify topic."),
]


@strawberry.type
class Query:
    @strawberry.field(
        description="The merchant's Shopify webhook deliveries, newest first. Needs the "
        "read_webhooks capability."
    )
    @paged(time_ordered_page)
    async def webhook_deliveries(
        self,
        info: AdminInfo,
        status: StatusArgument = None,
        topic: TopicArgument = None,
        *,
        paging: PageRequest,
    ) -> Connection[WebhookDelivery]:
        require(info.context.viewer, Capability.READ_WEBHOOKS)
        page = await info.context.loaders.deliveries.webhook_deliveries_page.load(
            (
                None if status is None else status.value,
                None if topic is None else topic.value,
                paging,
            )
        )
        return to_connection(page, position=time_ordered_position, node=WebhookDelivery.from_row)
