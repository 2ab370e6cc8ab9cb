"""A pooled connection whose server side died (a Postgres restart, a failover, an idle
timeout) costs nothing but a fresh connection: the pool no longer pings on every checkout, and
a unit of work whose first statement meets a dead connection starts again on a new one. And
the other way round: a client that died mid-statement lets go of its locks within seconds."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from contextlib import AbstractAsyncContextManager

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from cli.stack import REPO_ROOT
from db.session import (
    create_engine,
    create_session_factory,
    system_unit_of_work,
    tenant_unit_of_work,
)
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant

# A process that takes a transaction's advisory lock through our engine, says so, then runs
# a statement that would last a minute.
_LOCK_HOLDER = """
import asyncio, sys
from sqlalchemy import text
from db.session import create_engine, create_session_factory, system_unit_of_work

async def main() -> None:
    sessions = create_session_factory(create_engine(sys.argv[1], pool_size=1))
    async with system_unit_of_work(sessions) as session:
        await session.execute(text("SELECT pg_advisory_xact_lock(4242)"))
        print("locked", flush=True)
        await session.execute(text("SELECT pg_sleep(60)"))

asyncio.run(main())
"""


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


def _start_lock_holder(database_url: str) -> subprocess.Popen[bytes]:
    holder = subprocess.Popen(
        [sys.executable, "-c", _LOCK_HOLDER, database_url], stdout=subprocess.PIPE, cwd=REPO_ROOT
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == b"locked"
    return holder


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.stdout is not None
    process.stdout.close()


async def test_a_process_killed_mid_statement_lets_go_of_its_locks_within_seconds(
    resources: Resources,
) -> None:
    """A worker killed (SIGKILL, OOM) while its import's long statement runs: without the
    connection check, Postgres finishes that statement before it notices, and the import
    stays locked (no other worker can take it over) for as long as the statement lasts."""
    assert resources.settings.database_url
    holder = _start_lock_holder(resources.settings.database_url)
    try:
        # Killed while the server runs its statement (not between two statements, when the
        # backend waits on the socket and sees it close at once).
        while True:
            async with system_unit_of_work(resources.sessions) as session:
                sleeping = await session.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE state = 'active' AND query = 'SELECT pg_sleep(60)'"
                    )
                )
            if sleeping:
                break
            await asyncio.sleep(0.05)
    finally:
        _kill(holder)
    killed_at = time.monotonic()
    while True:
        async with system_unit_of_work(resources.sessions) as session:
            if await session.scalar(text("SELECT pg_try_advisory_xact_lock(4242)")):
                break
        assert time.monotonic() - killed_at < 10, "the dead client still holds its lock"
        await asyncio.sleep(0.1)
