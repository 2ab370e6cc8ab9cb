"""Where a run's data lives: a scratch directory, the Postgres server (embedded pgserver, or the
one DATABASE_URL names) and scratch databases on it, all removed when the run ends."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

# The project's code: these paths move with it.
from cli.embedded import start_postgres
from db.session import to_async_url


@contextmanager
def scratch_directory() -> Iterator[Path]:
    """A temporary directory for the embedded servers, logs and data of one run."""
    path = Path(tempfile.mkdtemp(prefix="loyalnest-bench-"))
    # Removed at exit, not when the block ends: registered before pgserver registers its own
    # exit handler, it runs after it, and that handler still touches a lock file under the
    # runtime directory that postgres_server puts in here.
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    yield path


@dataclass
class Server:
    """A Postgres server and the URL of a database on it to create scratch databases from."""

    admin_url: str
    description: str
    pgbench: str

    def url(self, database: str) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path=f"/{database}"))


def _bundled_pgbench() -> str:
    import pgserver

    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pgbench"
    if bundled.exists():
        return str(bundled)
    found = shutil.which("pgbench")
    if found is None:
        raise SystemExit("pgbench not found: install pgserver or PostgreSQL client tools")
    return found


@contextmanager
def postgres_server(scratch: Path) -> Iterator[Server]:
    """DATABASE_URL's server if set, else an embedded pgserver under ``scratch``, stopped after."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield Server(configured, "DATABASE_URL", _bundled_pgbench())
        return
    # pgserver asks platformdirs for a runtime directory (when first imported) and warns when
    # none is set.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(scratch / "run"))
    (scratch / "run").mkdir(mode=0o700, exist_ok=True)
    embedded = start_postgres(scratch)
    try:
        yield Server(
            embedded.url("postgres"), f"embedded pgserver in {scratch}", _bundled_pgbench()
        )
    finally:
        embedded.server.cleanup()


@asynccontextmanager
async def autocommit_connection(url: str) -> AsyncIterator[AsyncConnection]:
    """One connection outside any transaction: to watch from the side, or CREATE DATABASE."""
    engine = create_async_engine(to_async_url(url), isolation_level="AUTOCOMMIT", pool_size=1)
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


async def _execute(url: str, statement: str) -> Any:
    """The first value of the first row, if the statement returns rows."""
    async with autocommit_connection(url) as connection:
        result = await connection.execute(text(statement))
        return result.scalar() if result.returns_rows else None


@asynccontextmanager
async def scratch_databases(server: Server, *names: str) -> AsyncIterator[list[str]]:
    """Empty databases ``<name>_<random>`` on ``server``, dropped afterwards (the role needs
    CREATEDB); yields their URLs."""
    suffix = uuid.uuid4().hex[:8]
    created: list[str] = []
    try:
        for name in names:
            await _execute(server.admin_url, f'CREATE DATABASE "{name}_{suffix}"')
            created.append(f"{name}_{suffix}")
        yield [server.url(database) for database in created]
    finally:
        for database in created:
            await _execute(server.admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def server_version(url: str) -> str:
    return str(await _execute(url, "SHOW server_version"))
