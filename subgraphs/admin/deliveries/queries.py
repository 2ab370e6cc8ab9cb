"""Read entry points of the webhook deliveries domain."""

from __future__ import annotations

from typing import Annotated

import strawberry

from subgraphs.admin.deliveries.types import WebhookDelivery, WebhookDeliveryStatus, WebhookTopic
from subgraphs.admin.loaders import AdminInfo
from subgraphs.kit.graphql.relay import (
    AfterArgument,
    BeforeArgument,
    Connection,
    FirstArgument,
    LastArgument,
    ReverseArgument,
    to_connection,
)
from subgraphs.kit.pagination import time_ordered_page, time_ordered_position
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
    async def webhook_deliveries(
        self,
        info: AdminInfo,
        status: StatusArgument = None,
        topic: TopicArgument = None,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
        reverse: ReverseArgument = False,
    ) -> Connection[WebhookDelivery]:
        require(info.context.viewer, Capability.READ_WEBHOOKS)
        page = await info.context.loaders.deliveries.webhook_deliveries_page.load(
            (
                None if status is None else status.value,
                None if topic is None else topic.value,
                time_ordered_page(first, after, last, before, reverse=reverse),
            )
        )
        return to_connection(page, position=time_ordered_position, node=WebhookDelivery.from_row)
