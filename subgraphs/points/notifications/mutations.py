"""Editing notification settings and templates, and sending a test message."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from db.ids import new_id
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.notifications import sending, service
from subgraphs.points.notifications.message_types import MessageType
from subgraphs.points.notifications.types import (
    EmailTemplate,
    EmailTemplatesUpdateInput,
    EmailTemplatesUpdatePayload,
    NotificationDelivery,
    NotificationSettings,
    NotificationSettingsUpdateInput,
    NotificationSettingsUpdatePayload,
    NotificationTestInput,
    NotificationTestPayload,
)
from subgraphs.points.user_errors import points_mutation


@strawberry.mutation(
    description="Change how notifications go out; omitted fields keep their value. The API "
    "key is stored encrypted and never returned; a provider needs one."
)
async def notification_settings_update(
    info: PointsInfo,
    input: Annotated[
        NotificationSettingsUpdateInput,
        strawberry.argument(description="The changes, and optionally the version they are on."),
    ],
) -> NotificationSettingsUpdatePayload:
    return await points_mutation(
        info,
        NotificationSettingsUpdatePayload,
        lambda scope: service.update_notification_settings(
            scope.write, scope.resources.cipher, input.to_changes()
        ),
        lambda view: NotificationSettingsUpdatePayload(
            notification_settings=NotificationSettings.from_view(view)
        ),
    )


@strawberry.mutation(
    description="Replace a message type's templates in every locale at once. Each must use "
    "the type's required placeholders and no unknown one; nothing is saved otherwise."
)
async def email_templates_update(
    info: PointsInfo,
    input: Annotated[
        EmailTemplatesUpdateInput,
        strawberry.argument(description="The message type and its text per locale."),
    ],
) -> EmailTemplatesUpdatePayload:
    texts = {str(template.locale): template.to_template() for template in input.templates}
    return await points_mutation(
        info,
        EmailTemplatesUpdatePayload,
        lambda scope: service.update_email_templates(
            scope.write, MessageType(input.message_type), texts
        ),
        lambda views: EmailTemplatesUpdatePayload(
            email_templates=[EmailTemplate.from_view(view) for view in views]
        ),
    )


@strawberry.mutation(
    description="Send a message type (its template in use, sample values) to an address of "
    "yours through the provider, and log it. FAILED deliveries say why."
)
async def notification_test(
    info: PointsInfo,
    input: Annotated[
        NotificationTestInput,
        strawberry.argument(description="The message, its language and where to send it."),
    ],
) -> NotificationTestPayload:
    return await points_mutation(
        info,
        NotificationTestPayload,
        lambda scope: sending.send_test_message(
            info.context.unit_of_work,
            scope.merchant_id,
            scope.resources.cipher,
            sending.TestMessage(
                message_type=MessageType(input.message_type),
                locale=str(input.locale),
                email=input.email,
                phone=input.phone,
            ),
            event_id=f"test:{new_id()}",
            actor_id=scope.actor_id,
            now=scope.now,
        ),
        lambda row: NotificationTestPayload(delivery=NotificationDelivery.from_row(row)),
        transaction=False,
    )


NotificationMutation = create_type(
    "NotificationMutation",
    [notification_settings_update, email_templates_update, notification_test],
)
