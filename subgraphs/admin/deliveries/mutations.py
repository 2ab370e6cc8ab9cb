"""Write entry points of the webhook deliveries domain."""

from __future__ import annotations

from typing import Annotated

import strawberry

from db.models import ApiLog
from subgraphs.admin.deliveries import service
from subgraphs.admin.deliveries.types import (
    WebhookDelivery,
    WebhookRetryInput,
    WebhookRetryPayload,
    WebhookRetryUserError,
)
from subgraphs.admin.loaders import AdminInfo
from subgraphs.kit.graphql.mutations import run_mutation
from subgraphs.kit.graphql.node import local_id
from subgraphs.kit.permissions import Capability


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Queue a failed webhook delivery again, due now, with a fresh set of "
        "attempts (audited). Done, pending and redacted deliveries cannot be retried. Needs "
        "the retry_webhooks capability."
    )
    async def webhook_retry(
        self,
        info: AdminInfo,
        input: Annotated[
            WebhookRetryInput,
            strawberry.argument(description="The failed delivery to queue again."),
        ],
    ) -> WebhookRetryPayload:
        async def respond(row: ApiLog) -> WebhookRetryPayload:
            # After the commit, so the worker finds the row pending.
            await service.enqueue_retry(info.context.resources.redis, row.merchant_id, row.id)
            return WebhookRetryPayload(delivery=WebhookDelivery.from_row(row), user_errors=[])

        return await run_mutation(
            info,
            capability=Capability.RETRY_WEBHOOKS,
            perform=lambda scope: service.retry_delivery(
                scope.write, local_id(input.id, "WebhookDelivery")
            ),
            respond=respond,
            payload=WebhookRetryPayload,
            user_error=WebhookRetryUserError,
        )
