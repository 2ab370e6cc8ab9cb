"""Merchant API keys for third-party tools: create (the plaintext is shown once), revoke, check.

A key is ``lnk_<merchant id>_<secret>`` with a 256-bit random secret. Carrying the merchant id
lets a check run inside that merchant's tenant transaction, under row-level security, by
(merchant_id, key_hash); the id is not a secret, and a wrong id only finds no key. Only the
SHA-256 of the whole key is stored: with that much entropy a slow password hash adds nothing.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.ids import new_id
from db.session import tenant_unit_of_work
from subgraphs.kit import auth_repository
from subgraphs.kit.auth import API_KEY_PREFIX, Viewer, ViewerKind
from subgraphs.kit.errors import UnauthenticatedError
from subgraphs.kit.permissions import Capability

_SECRET_BYTES = 32
_MIN_SECRET_CHARS = 40  # token_urlsafe(32) gives 43
_DISPLAY_PREFIX_CHARS = 6
_MERCHANT_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_MAX_LABEL_CHARS = 100


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    id: str
    # The only time the key exists in plaintext: hand it to the merchant, then forget it.
    key: str
    display_prefix: str
    scopes: frozenset[Capability]


def api_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_api_key(
    session: AsyncSession,
    merchant_id: str,
    *,
    label: str,
    scopes: Iterable[Capability],
    created_by: str | None = None,
) -> CreatedApiKey:
    """Mint a key for the merchant (tenant unit of work). Raises ValueError on a bad request."""
    granted = frozenset(scopes)
    label = label.strip()
    if not granted:
        raise ValueError("an API key needs at least one scope")
    if not label or len(label) > _MAX_LABEL_CHARS:
        raise ValueError(f"an API key label has 1 to {_MAX_LABEL_CHARS} characters")
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    key = f"{API_KEY_PREFIX}{merchant_id}_{secret}"
    key_id = new_id()
    await auth_repository.insert_api_key(
        session,
        merchant_id=merchant_id,
        key_id=key_id,
        label=label,
        display_prefix=secret[:_DISPLAY_PREFIX_CHARS],
        key_hash=api_key_hash(key),
        scopes=sorted(capability.value for capability in granted),
        created_by=created_by,
    )
    return CreatedApiKey(
        id=key_id, key=key, display_prefix=secret[:_DISPLAY_PREFIX_CHARS], scopes=granted
    )


async def revoke_api_key(session: AsyncSession, merchant_id: str, key_id: str) -> datetime | None:
    """Revoke at once (the next request with it fails); ``None`` if the merchant has no such
    key. Revoking twice keeps the first time."""
    return await auth_repository.revoke_api_key(session, merchant_id, key_id)


async def viewer_for_api_key(sessions: async_sessionmaker[AsyncSession], key: str) -> Viewer:
    merchant_id = _merchant_id_of(key)
    async with tenant_unit_of_work(sessions, merchant_id) as session:
        active = await auth_repository.active_api_key(session, merchant_id, api_key_hash(key))
        if active is None:
            raise UnauthenticatedError(
                "invalid API key: unknown, revoked, or its shop has uninstalled LoyalNest"
            )
        await auth_repository.touch_api_key(session, merchant_id, active.id)
    return Viewer(
        merchant_id=merchant_id,
        shop_domain=active.shop_domain,
        user_id=f"api_key:{active.id}",
        kind=ViewerKind.API_CLIENT,
        roles=frozenset(active.scopes),
    )


def _merchant_id_of(key: str) -> str:
    merchant_id, _, secret = key.removeprefix(API_KEY_PREFIX).partition("_")
    if not _MERCHANT_ID.match(merchant_id) or len(secret) < _MIN_SECRET_CHARS:
        raise UnauthenticatedError("invalid API key: malformed")
    return merchant_id
