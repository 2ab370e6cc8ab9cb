"""The live admin stream.

The socket's context outlives any request, so each audit entry is read in its own unit of
work and the request loaders are never used.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from db.session import tenant_unit_of_work
from subgraphs.admin.audit.repository import AuditLogRepository
from subgraphs.admin.audit.service import WebhookEvent, admin_events
from subgraphs.admin.audit.types import AuditAction, AuditLogEvent
from subgraphs.admin.loaders import AdminInfo
from subgraphs.kit.permissions import Capability, require

ActionsArgument = Annotated[
    list[AuditAction] | None,  # type: ignore[valid-type]
    strawberry.argument(
        description="Only these actions (such as WEBHOOK_RETRY, WEBHOOK_FAILED); all when omitted."
    ),
]


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The merchant's audit entries as they are committed, and its webhook inbox "
        "events (WEBHOOK_RECEIVED, WEBHOOK_RETRYING, WEBHOOK_DONE, WEBHOOK_FAILED) as "
        "they happen. Needs the read_audit_log capability."
    )
    async def audit_log_appended(
        self, info: AdminInfo, actions: ActionsArgument = None
    ) -> AsyncGenerator[AuditLogEvent, None]:
        viewer = require(info.context.viewer, Capability.READ_AUDIT_LOG)
        resources = info.context.resources
        merchant_id = viewer.merchant_id
        wanted = None if actions is None else frozenset(actions)
        async with admin_events(resources, merchant_id) as events:
            async for event in events:
                if isinstance(event, WebhookEvent):
                    if wanted is None or event.action in wanted:
                        yield AuditLogEvent.from_webhook_event(event)
                    continue
                async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
                    row = await AuditLogRepository(session, merchant_id).entry(
                        event.id, event.created_at, actions=wanted
                    )
                entry = None if row is None else AuditLogEvent.from_row(row)
                if entry is not None:
                    yield entry
