"""Every SQL statement on ``program_settings``: one merchant's settings document, and (in a
system unit of work, across tenants) which merchants' settings turn expiry or reminders on;
and on ``program_versions``, the counter its triggers bump (migration 0025)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Row,
    ScalarSelect,
    bindparam,
    event,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from db.models import ProgramSettings, ProgramVersion
from subgraphs.kit.versioned_documents import VersionedDocumentRepository

# Values of the JSON settings document (``program.service``): only merchants with a stored
# document can have turned expiry or notifications on.
_EXPIRING_KINDS = ("after_earning", "inactivity")
_PROVIDERS = ("klaviyo", "postscript")


class ProgramRepository(VersionedDocumentRepository[ProgramSettings]):
    """The settings document (``document`` / ``save_document``), and the provider's API key
    stored encrypted beside it."""

    model = ProgramSettings

    async def _settings(self, *columns: Any, for_update: bool = False) -> Row[Any] | None:
        query = select(*columns).where(self._mine)
        if for_update:
            query = query.with_for_update()
        return (await self._session.execute(query)).one_or_none()

    async def config(self) -> dict[str, Any] | None:
        row = await self._settings(ProgramSettings.config)
        return None if row is None else row.config

    async def notification_api_key(self) -> str | None:
        row = await self._settings(ProgramSettings.notification_api_key_encrypted)
        return None if row is None else row.notification_api_key_encrypted

    async def save_notification_api_key(
        self, encrypted: str, *, default_config: dict[str, Any]
    ) -> None:
        """Store the (encrypted) provider key; a merchant who never saved settings gets
        ``default_config`` as their document, as a first save would."""
        insert = pg_insert(ProgramSettings).values(
            merchant_id=self._merchant_id,
            config=default_config,
            notification_api_key_encrypted=encrypted,
        )
        await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=[ProgramSettings.merchant_id],
                set_={"notification_api_key_encrypted": encrypted, "updated_at": func.now()},
            )
        )


def program_version_of(merchant_id: BindParameter[str]) -> ScalarSelect[int]:
    """The merchant's program version as a subquery, for the statement that locks a customer
    for a ledger write (``ledger.repository``): 0 before any settings, campaign or tier."""
    return (
        select(func.coalesce(func.max(ProgramVersion.version), 0))
        .where(ProgramVersion.merchant_id == merchant_id)
        .scalar_subquery()
    )


# The program version the transaction's last customer lock read, by merchant (``seen``): an
# order's award asks the settings before it locks (is it awarded on this topic?), and in a
# worker batch the previous order's lock, a few milliseconds before, answers that without a
# statement. The lock itself always reads the version again, and the award is calculated at
# that one. A change of the program committed meanwhile is one the check could have missed
# anyway (it and the lock are two statements); the settings' own writes in the transaction
# forget it, and so does any rollback.
_VERSIONS_SEEN = "loyalnest.program_versions_seen"


def saw_program_version(session: AsyncSession, merchant_id: str, version: int) -> None:
    session.info.setdefault(_VERSIONS_SEEN, {})[merchant_id] = version


def forget_program_versions(session: AsyncSession) -> None:
    session.info.pop(_VERSIONS_SEEN, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_versions(session: Session, _previous: object) -> None:
    session.info.pop(_VERSIONS_SEEN, None)


async def program_version(session: AsyncSession, merchant_id: str, *, seen: bool = False) -> int:
    """The merchant's program version (``program_version_of``) on its own; with ``seen``, the
    one this transaction's last customer lock read, if any."""
    if seen:
        known = session.info.get(_VERSIONS_SEEN, {}).get(merchant_id)
        if known is not None:
            return int(known)
    merchant: BindParameter[str] = bindparam("merchant_id", merchant_id)
    version = await session.scalar(select(program_version_of(merchant)))
    return int(version or 0)


async def _merchants_whose(
    session: AsyncSession, setting: ColumnElement[bool], *, after: str | None, limit: int
) -> list[str]:
    query = select(ProgramSettings.merchant_id).where(setting)
    if after is not None:
        query = query.where(ProgramSettings.merchant_id > after)
    result = await session.scalars(query.order_by(ProgramSettings.merchant_id).limit(limit))
    return list(result)


async def merchants_with_expiry(session: AsyncSession, after: str | None, limit: int) -> list[str]:
    """Merchants whose points can expire, by id, one page after ``after``."""
    kind = func.jsonb_extract_path_text(ProgramSettings.config, "expiry", "kind")
    return await _merchants_whose(session, kind.in_(_EXPIRING_KINDS), after=after, limit=limit)


async def merchants_with_notifications(
    session: AsyncSession, after: str | None, limit: int
) -> list[str]:
    """Merchants that notify customers through a provider, by id, one page after ``after``."""
    provider = func.jsonb_extract_path_text(ProgramSettings.config, "notifications")
    return await _merchants_whose(session, provider.in_(_PROVIDERS), after=after, limit=limit)
