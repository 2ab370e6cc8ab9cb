"""Settings a merchant keeps as one versioned JSON document (the points program, the referral
program, the RFM thresholds): the SQL of such a table, and the one way a new version is saved.

The document is stored whole and always read back through the domain's pydantic model, so a
document written by an older release is validated (and defaulted) like a new one. Every save
bumps ``version``; an editor who names the version it read (``expectedVersion``) cannot
overwrite a save it never saw; every save is audited, which keeps the history of changes.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from db.models.base import Base
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.domain import DomainError
from subgraphs.kit.repository import TenantRepository
from subgraphs.kit.write_context import WriteContext

ModelT = TypeVar("ModelT", bound=Base)
DocumentT = TypeVar("DocumentT", bound=BaseModel)

# The current document (None before the merchant's first save) -> the whole new document.
ApplyChanges = Callable[[dict[str, Any] | None], DocumentT | Awaitable[DocumentT]]


class VersionedDocumentRepository(TenantRepository[ModelT]):
    """The SQL of a table holding one document per merchant: ``merchant_id`` its key,
    ``config`` (JSONB) the document, ``version`` bumped by every save."""

    async def document(self, *, for_update: bool = False) -> tuple[dict[str, Any] | None, int]:
        """The stored document and its version; (None, 0) before the merchant's first save.
        ``for_update`` locks the row, so concurrent saves take turns."""
        columns = self.model.__table__.c
        query = select(columns.config, columns.version).where(self._mine)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).one_or_none()
        return (None, 0) if row is None else (row.config, row.version)

    async def save_document(self, document: dict[str, Any]) -> int:
        """Insert or replace the document; returns its new version."""
        columns = self.model.__table__.c
        statement = (
            pg_insert(self.model)
            .values(merchant_id=self._merchant_id, config=document)
            .on_conflict_do_update(
                index_elements=[columns.merchant_id],
                set_={"config": document, "version": columns.version + 1},
            )
            .returning(columns.version)
        )
        return int((await self._session.execute(statement)).scalar_one())


async def save_new_version(
    write: WriteContext,
    repository: VersionedDocumentRepository[Any],
    *,
    changes: Mapping[str, Any],
    apply: ApplyChanges[DocumentT],
    expected_version: int | None,
    stale: Callable[[int], DomainError],
    action: AuditAction,
    audit_details: Mapping[str, object] | None = None,
) -> tuple[DocumentT, int]:
    """Save the next version of the document in ``write``'s transaction, and its new version.

    Locks the current version and refuses it, with ``stale(current_version)``, when the
    caller named another ``expected_version``; then ``apply`` builds the whole new document
    from the current one (the domain's merge, defaults and validation: it raises the domain's
    error for an invalid result, and nothing is written). The audit entry names the changed
    fields, the new version and ``audit_details``.
    """
    current, version = await repository.document(for_update=True)
    if expected_version is not None and expected_version != version:
        raise stale(version)
    applied = apply(current)
    document = await applied if inspect.isawaitable(applied) else applied
    new_version = await repository.save_document(document.model_dump(mode="json"))
    await write.audit.record(
        action, {"changed": sorted(changes), **(audit_details or {}), "version": new_version}
    )
    return document, new_version
