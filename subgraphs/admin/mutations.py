"""Write entry points of the admin subgraph."""

from __future__ import annotations

import strawberry
import structlog

from db.ids import new_id
from subgraphs.admin.loaders import AdminInfo
from subgraphs.admin.types import (
    WebhookDelivery,
    WebhookRetryInput,
    WebhookRetryPayload,
    WebhookRetryUserError,
)
from subgraphs.admin.webhooks import WebhookRetryError, retry_delivery
from subgraphs.kit.jobs import enqueue_webhook_delivery, job_queue
from subgraphs.kit.permissions import Capability, require

log = structlog.get_logger(__name__)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Queue a failed webhook delivery again, due now, with a fresh set of "
        "attempts (audited). Done, pending and redacted deliveries cannot be retried. Needs "
        "the retry_webhooks capability."
    )
    async def webhook_retry(self, info: AdminInfo, input: WebhookRetryInput) -> WebhookRetryPayload:
        viewer = require(info.context.viewer, Capability.RETRY_WEBHOOKS)
        resources = info.context.resources
        try:
            async with info.context.unit_of_work() as session:
                row = await retry_delivery(
                    session, viewer.merchant_id, str(input.id), actor_id=viewer.user_id
                )
        except WebhookRetryError as error:
            return WebhookRetryPayload(
                delivery=None, user_errors=[WebhookRetryUserError.from_error(error)]
            )
        # After the commit, so the worker finds the row pending. If Redis is away the sweeper
        # picks the row up anyway: it is pending and already due. The job id follows the
        # shim's `webhook:<delivery id>` naming, made unique per retry so no earlier job's
        # kept result can swallow it.
        if not await enqueue_webhook_delivery(
            job_queue(resources.redis),
            viewer.merchant_id,
            row.id,
            job_id=f"webhook:{row.id}:manual:{new_id()}",
        ):
            log.info("webhook_retry_left_to_sweeper", delivery_id=row.id)
        return WebhookRetryPayload(delivery=WebhookDelivery.from_row(row), user_errors=[])
