"""A pooled connection whose server side died (a Postgres restart, a failover, an idle
timeout) costs nothing but a fresh connection: the pool no longer pings on every checkout, and
a unit of work whose first statement meets a dead connection starts again on a new one."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from db.session import (
    create_engine,
    create_session_factory,
    system_unit_of_work,
    tenant_unit_of_work,
)
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant


@pytest.mark.parametrize("kind", ["tenant", "system"])
async def test_a_unit_of_work_survives_its_pooled_connection_dying(
    resources: Resources, tenant: Tenant, kind: str
) -> None:
    assert resources.settings.database_url
    engine = create_engine(resources.settings.database_url, pool_size=1)
    sessions = create_session_factory(engine)

    def unit_of_work() -> AbstractAsyncContextManager[AsyncSession]:
        if kind == "tenant":
            return tenant_unit_of_work(sessions, tenant.merchant_id)
        return system_unit_of_work(sessions)

    try:
        async with unit_of_work() as session:
            first_pid = await session.scalar(text("SELECT pg_backend_pid()"))
        # The pooled connection dies on the server's side (as in a restart).
        async with system_unit_of_work(resources.sessions) as admin:
            killed = await admin.scalar(
                text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid}
            )
        assert killed

        async with unit_of_work() as session:
            second_pid = await session.scalar(text("SELECT pg_backend_pid()"))
            merchants = await session.scalar(text("SELECT count(*) FROM merchants"))
    finally:
        await engine.dispose()

    assert second_pid != first_pid
    assert merchants is not None
