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

from sqlalchemy import TextClause, text
from sqlalchemy.exc import DBAPIError
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


# Postgres notices a client that died (a worker killed, its host gone) only when it next
# talks to it: a backend in a long statement runs it to the end, holding the transaction's
# locks meanwhile, so a killed worker's import, batch or export stays locked for as long
# as its biggest statement lasts (minutes on a 50,000-row import) and nothing can take it
# over. With this check the backend polls its socket and aborts within a second.
SERVER_SETTINGS = {"client_connection_check_interval": "1000"}


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    # No pre-ping: a `SELECT 1` round trip on every checkout was 9 % of a subgraph's CPU
    # (bench/README.md). A pooled connection that died meanwhile (a Postgres restart, a
    # failover) fails the first statement of its unit of work instead, which starts again on
    # a fresh connection (``_begun``).
    return create_async_engine(
        to_async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        echo=echo,
        connect_args={"server_settings": SERVER_SETTINGS},
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def tenant_unit_of_work(
    sessions: async_sessionmaker[AsyncSession], merchant_id: str
) -> AsyncIterator[AsyncSession]:
    async with _begun(
        sessions, _ENTER_TENANT, {"role": APP_ROLE, "merchant_id": merchant_id}
    ) as session:
        yield session


@asynccontextmanager
async def system_unit_of_work(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with _begun(sessions, _START, {}) as session:
        yield session


# What a system unit of work runs first, so that a dead pooled connection fails where
# starting again is safe (nothing has happened yet).
_START = text("SELECT 1")


@asynccontextmanager
async def _begun(
    sessions: async_sessionmaker[AsyncSession], first: TextClause, params: dict[str, str]
) -> AsyncIterator[AsyncSession]:
    """A session in a transaction that has run ``first``: on a connection the pool found dead
    (SQLAlchemy invalidates it), once more on a fresh one. Commits when the block exits
    cleanly, rolls back on any exception."""
    async with sessions() as session:
        for attempt in range(2):
            await session.begin()
            try:
                # On the connection: a statement that returns nothing the ORM would map.
                await (await session.connection()).execute(first, params)
                break
            except DBAPIError as error:
                await session.rollback()
                if attempt or not error.connection_invalidated:
                    raise
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
