"""Read entry points of customer notifications."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.kit.graphql.relay import Connection, paged, to_connection
from subgraphs.kit.integrations.notification_templates import Template
from subgraphs.kit.pagination import PageRequest, time_ordered_page, time_ordered_position
from subgraphs.kit.permissions import Capability, require
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.notifications import service
from subgraphs.points.notifications.message_types import MessageType
from subgraphs.points.notifications.repository import DeliveryRepository
from subgraphs.points.notifications.types import (
    EmailTemplate,
    EmailTemplatePreview,
    NotificationDelivery,
    NotificationLocale,
    NotificationMessageType,
    NotificationSettings,
)
from subgraphs.points.user_errors import bad_user_input


@strawberry.field(
    description="How customer notifications go out: provider, whether an API key is stored "
    "(never the key), sender and channels."
)
async def notification_settings(info: PointsInfo) -> NotificationSettings:
    require(info.context.viewer, Capability.READ_PROGRAM)
    async with info.context.unit_of_work() as session:
        view = await service.notification_settings(
            session, info.context.viewer.merchant_id, info.context.resources.cipher
        )
    return NotificationSettings.from_view(view)


@strawberry.field(
    description="The templates of every message type (or one) in every supported locale: the "
    "merchant's own text where they wrote one, else the built-in one."
)
async def email_templates(
    info: PointsInfo,
    message_type: Annotated[
        NotificationMessageType | None,  # type: ignore[valid-type]
        strawberry.argument(description="Only this message type."),
    ] = None,
) -> list[EmailTemplate]:
    require(info.context.viewer, Capability.READ_PROGRAM)
    async with info.context.unit_of_work() as session:
        views = await service.email_templates(
            session,
            info.context.viewer.merchant_id,
            None if message_type is None else MessageType(message_type),
        )
    return [EmailTemplate.from_view(view) for view in views]


@strawberry.field(
    description="A message rendered with sample values: the template in use, or a draft "
    "(checked like an update, stored nowhere). A draft that does not validate is "
    "BAD_USER_INPUT, with the reason."
)
async def email_template_preview(
    info: PointsInfo,
    message_type: Annotated[
        NotificationMessageType,  # type: ignore[valid-type]
        strawberry.argument(description="The message type."),
    ],
    locale: Annotated[
        NotificationLocale,  # type: ignore[valid-type]
        strawberry.argument(description="The language."),
    ],
    subject: Annotated[
        str | None, strawberry.argument(description="A draft subject (with `body`).")
    ] = None,
    body: Annotated[
        str | None, strawberry.argument(description="A draft body (with `subject`).")
    ] = None,
) -> EmailTemplatePreview:
    require(info.context.viewer, Capability.READ_PROGRAM)
    draft = None
    if subject is not None or body is not None:
        draft = Template(subject=subject or "", body=body or "")
    with bad_user_input():
        async with info.context.unit_of_work() as session:
            message = await service.preview_email_template(
                session,
                info.context.viewer.merchant_id,
                MessageType(message_type),
                str(locale),
                draft,
            )
    return EmailTemplatePreview.from_message(message)


@strawberry.field(
    description="The delivery log: every notification sent, failed or skipped, newest first."
)
@paged(time_ordered_page)
async def notification_deliveries(
    info: PointsInfo, *, paging: PageRequest
) -> Connection[NotificationDelivery]:
    require(info.context.viewer, Capability.READ_PROGRAM)
    async with info.context.unit_of_work() as session:
        page = await DeliveryRepository(session, info.context.viewer.merchant_id).deliveries_page(
            paging
        )
    return to_connection(page, position=time_ordered_position, node=NotificationDelivery.from_row)


NotificationQuery = create_type(
    "NotificationQuery",
    [notification_settings, email_templates, email_template_preview, notification_deliveries],
)
