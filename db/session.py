"""Engine, sessions and the unit of work.

Two kinds of unit of work:
- ``tenant_unit_of_work``: switches to the ``loyalnest_app`` role (subject to row-level
  security) and sets ``app.merchant_id`` for the transaction, so Postgres itself refuses rows
  of other merchants whatever a query asks for.
- ``system_unit_of_work``: runs as the connecting (owner) role, for work that is not one
  tenant's: resolving a shop domain to a merchant, seeding, partition maintenance.
Neither commits behind the caller's back: the transaction commits when the block exits
cleanly and rolls back on any exception.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

APP_ROLE = "loyalnest_app"

_ENTER_TENANT = text(
    "SELECT set_config('role', :role, true), set_config('app.merchant_id', :merchant_id, true)"
)


def to_async_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs (what users and pgserver hand out)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    return create_async_engine(
        to_async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        echo=echo,
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def tenant_unit_of_work(
    sessions: async_sessionmaker[AsyncSession], merchant_id: str
) -> AsyncIterator[AsyncSession]:
    async with sessions() as session, session.begin():
        await session.execute(_ENTER_TENANT, {"role": APP_ROLE, "merchant_id": merchant_id})
        yield session


@asynccontextmanager
async def system_unit_of_work(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with sessions() as session, session.begin():
        yield session
