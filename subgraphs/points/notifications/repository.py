"""Every SQL statement on ``notification_settings``, ``email_templates``,
``notification_deliveries``, ``notification_cursors`` and ``klaviyo_profile_states``: the
merchant's sender, channels and message types, their own templates, the log of every message
sent, failed or skipped, how far each flow has read the domain events, and what each Klaviyo
profile was last sent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from db.ids import new_id
from db.models import (
    EmailTemplate,
    KlaviyoProfileState,
    NotificationCursor,
    NotificationDelivery,
    NotificationSettings,
)
from subgraphs.kit.integrations.notification_templates import Template
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.repository import TenantRepository, any_of


class NotificationSettingsRepository(TenantRepository[NotificationSettings]):
    model = NotificationSettings

    async def settings(self, *, for_update: bool = False) -> NotificationSettings | None:
        query = self._select()
        if for_update:
            query = query.with_for_update()
        result = await self._session.scalars(query)
        return result.one_or_none()

    async def save(
        self,
        *,
        sender_name: str | None,
        sender_email: str | None,
        channels: Sequence[str],
        message_types: Mapping[str, str],
        profile_sync: bool,
    ) -> NotificationSettings:
        """Insert or replace the row (its version bumped)."""
        values = {
            "sender_name": sender_name,
            "sender_email": sender_email,
            "channels": list(channels),
            "message_types": dict(message_types),
            "profile_sync": profile_sync,
        }
        statement = pg_insert(NotificationSettings).values(merchant_id=self._merchant_id, **values)
        upsert = statement.on_conflict_do_update(
            index_elements=[NotificationSettings.merchant_id],
            set_={**values, "version": NotificationSettings.version + 1, "updated_at": func.now()},
        ).returning(NotificationSettings)
        result = await self._session.scalars(
            select(NotificationSettings).from_statement(upsert),
            execution_options={"populate_existing": True},
        )
        row: NotificationSettings = result.one()
        return row


class EmailTemplateRepository(TenantRepository[EmailTemplate]):
    model = EmailTemplate

    async def templates(self, message_type: str | None = None) -> list[EmailTemplate]:
        conditions = [] if message_type is None else [EmailTemplate.message_type == message_type]
        result = await self._session.scalars(
            self._select(*conditions).order_by(EmailTemplate.message_type, EmailTemplate.locale)
        )
        return list(result)

    async def template(self, message_type: str, locale: str) -> EmailTemplate | None:
        result = await self._session.scalars(
            self._select(EmailTemplate.message_type == message_type, EmailTemplate.locale == locale)
        )
        return result.one_or_none()

    async def replace(self, message_type: str, texts: Mapping[str, Template]) -> None:
        """The type's template in every locale of ``texts``, in one statement."""
        statement = pg_insert(EmailTemplate).values(
            [
                {
                    "merchant_id": self._merchant_id,
                    "id": new_id(),
                    "message_type": message_type,
                    "locale": locale,
                    "subject": text.subject,
                    "body": text.body,
                }
                for locale, text in texts.items()
            ]
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["merchant_id", "message_type", "locale"],
                set_={
                    "subject": statement.excluded.subject,
                    "body": statement.excluded.body,
                    "updated_at": func.now(),
                },
            )
        )


@dataclass(frozen=True, slots=True)
class NewDelivery:
    message_type: str
    event_id: str
    customer_id: str | None
    provider: str
    locale: str | None
    status: str
    reason: str | None
    at: datetime


class DeliveryRepository(TenantRepository[NotificationDelivery]):
    model = NotificationDelivery

    async def delivery_of(self, message_type: str, event_id: str) -> NotificationDelivery | None:
        result = await self._session.scalars(
            self._select(
                NotificationDelivery.message_type == message_type,
                NotificationDelivery.event_id == event_id,
            )
        )
        return result.one_or_none()

    async def record(self, delivery: NewDelivery) -> NotificationDelivery:
        """Log the outcome of a message; a second outcome of the same event (a resend after a
        crash) replaces the first, so the log says how it ended."""
        values = {
            "provider": delivery.provider,
            "locale": delivery.locale,
            "status": delivery.status,
            "reason": delivery.reason,
            "sent_at": delivery.at if delivery.status == "sent" else None,
        }
        statement = (
            pg_insert(NotificationDelivery)
            .values(
                merchant_id=self._merchant_id,
                id=new_id(),
                message_type=delivery.message_type,
                event_id=delivery.event_id,
                customer_id=delivery.customer_id,
                created_at=delivery.at,
                **values,
            )
            .on_conflict_do_update(
                index_elements=["merchant_id", "message_type", "event_id"],
                set_={**values, "attempts": NotificationDelivery.attempts + 1},
            )
            .returning(NotificationDelivery)
        )
        result = await self._session.scalars(
            select(NotificationDelivery).from_statement(statement),
            execution_options={"populate_existing": True},
        )
        row: NotificationDelivery = result.one()
        return row

    async def deliveries_of(
        self, message_type: str, event_ids: Sequence[str]
    ) -> dict[str, NotificationDelivery]:
        """The log rows of these events of the type, by event id (one statement)."""
        if not event_ids:
            return {}
        result = await self._session.scalars(
            self._select(
                NotificationDelivery.message_type == message_type,
                NotificationDelivery.event_id == any_of(event_ids),
            )
        )
        return {row.event_id: row for row in result}

    async def deliveries_page(self, page: PageRequest) -> Page[NotificationDelivery]:
        """Newest first, along ix_notification_deliveries_merchant_created."""
        return await self.paginate(
            page,
            keyset=(NotificationDelivery.created_at, NotificationDelivery.id),
            descending=True,
        )


class NotificationCursorRepository(TenantRepository[NotificationCursor]):
    model = NotificationCursor

    async def positions(self) -> dict[str, datetime]:
        result = await self._session.scalars(self._select())
        return {row.stream: row.position for row in result}

    async def move(self, stream: str, position: datetime) -> None:
        statement = pg_insert(NotificationCursor).values(
            merchant_id=self._merchant_id, stream=stream, position=position
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["merchant_id", "stream"],
                set_={"position": position, "updated_at": func.now()},
            )
        )


class KlaviyoProfileStateRepository(TenantRepository[KlaviyoProfileState]):
    model = KlaviyoProfileState

    async def digests(self, customer_ids: Sequence[str]) -> dict[str, str]:
        """What each of these customers' profiles was last sent (a digest), by customer."""
        if not customer_ids:
            return {}
        result = await self._session.execute(
            select(KlaviyoProfileState.customer_id, KlaviyoProfileState.properties_digest).where(
                self._mine, KlaviyoProfileState.customer_id == any_of(customer_ids)
            )
        )
        return {str(row[0]): str(row[1]) for row in result}

    async def save(self, digests: Mapping[str, str], now: datetime) -> None:
        """Record what was pushed, in one statement."""
        if not digests:
            return
        statement = pg_insert(KlaviyoProfileState).values(
            [
                {
                    "merchant_id": self._merchant_id,
                    "customer_id": customer_id,
                    "properties_digest": digest,
                    "pushed_at": now,
                }
                for customer_id, digest in digests.items()
            ]
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["merchant_id", "customer_id"],
                set_={
                    "properties_digest": statement.excluded.properties_digest,
                    "pushed_at": statement.excluded.pushed_at,
                },
            )
        )
