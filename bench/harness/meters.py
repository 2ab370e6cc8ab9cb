"""What a phase costs: CPU seconds by process (read from /proc; Linux, local server only), write
transactions and connections opened (read from Postgres), and SQL statements sent (counted on
a SQLAlchemy engine in this process)."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# --- SQL statements -------------------------------------------------------------------------


@dataclass
class Statements:
    count: int = 0


@contextmanager
def count_statements(engine: AsyncEngine) -> Iterator[Statements]:
    """Every statement ``engine`` sends inside the block, whoever sends it."""
    statements = Statements()

    def count(*_args: Any) -> None:
        statements.count += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


# --- CPU, from /proc ------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on: the command name may contain spaces."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def _ticks(fields: list[str], first: int, last: int) -> float:
    return sum(int(value) for value in fields[first:last]) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float | None:
    """User + system time of a process, plus that of its children it has reaped."""
    fields = _stat_fields(pid)
    return None if fields is None else _ticks(fields, 11, 15)


def tree_cpu_seconds(pid: int) -> float | None:
    """A process and its live children: Postgres backends are children of the postmaster,
    and the ones that exit are added to its reaped-children time."""
    total = process_cpu_seconds(pid)
    if total is None:
        return None
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and fields[1] == str(pid):
                total += _ticks(fields, 11, 13)
    return total


# --- a phase's cost -------------------------------------------------------------------------


@dataclass
class Cost:
    """What one phase cost: write transactions, connections opened, CPU seconds by process."""

    transactions: int = 0
    connections: int = 0
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)

    def lines(self, per: int, unit: str) -> list[str]:
        """The report's lines, per ``unit`` (``per`` of them in the phase)."""
        if not per:
            return []
        lines = [
            f"    write transactions/{unit:<9}{self.transactions / per:6.2f}"
            f"   ({self.connections} Postgres connections opened)"
        ]
        if self.cpu:
            spent = ", ".join(f"{name} {cpu / per * 1000:.2f}" for name, cpu in self.cpu.items())
            total = sum(self.cpu.values())
            busy = total / (self.seconds * (os.cpu_count() or 1)) if self.seconds else 0.0
            lines.append(
                f"    CPU ms/{unit:<17}{total / per * 1000:6.2f}   ({spent}; CPUs {busy:.0%} busy)"
            )
        return lines


@dataclass
class Meter:
    """Measures phases over ``connection``, an autocommit connection to the benchmarked
    database, and the processes it is told to watch ("client" is this process, with the
    children it waited for: a load generator such as wrk)."""

    connection: AsyncConnection
    # name -> (pid, with its children)
    processes: dict[str, tuple[int, bool]] = field(default_factory=dict)

    def watch(self, name: str, pid: int) -> None:
        self.processes[name] = (pid, False)

    async def watch_postmaster(self) -> None:
        """The local postmaster and its backends, when the server runs on this machine and
        we may ask where."""
        try:
            directory = await self.connection.scalar(text("SHOW data_directory"))
            first_line = (Path(str(directory)) / "postmaster.pid").read_text().split("\n", 1)[0]
            pid = int(first_line)
        except (OSError, ValueError, DBAPIError):
            return
        if _stat_fields(pid) is not None:
            self.processes["postgres"] = (pid, True)

    async def _sessions(self) -> int:
        """Connections opened to this database so far. Postgres counts one as soon as the new
        backend first goes idle, and the ones that closed again are counted too."""
        value = await self.connection.scalar(
            text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        )
        return int(value or 0)

    async def _next_xid(self) -> int:
        # xmax of a snapshot is the next transaction id to be assigned: reading it assigns
        # none, and every transaction that writes takes exactly one (no savepoints here).
        value = await self.connection.scalar(
            text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
        )
        return int(value)

    def _cpu(self, names: list[str]) -> dict[str, float]:
        readings = {}
        for name in names:
            if name == "client":
                children = resource.getrusage(resource.RUSAGE_CHILDREN)
                readings[name] = time.process_time() + children.ru_utime + children.ru_stime
            elif name in self.processes:
                pid, tree = self.processes[name]
                value = tree_cpu_seconds(pid) if tree else process_cpu_seconds(pid)
                if value is not None:
                    readings[name] = value
        return readings

    @asynccontextmanager
    async def measure(self, names: list[str]) -> AsyncIterator[Cost]:
        """The cost of the block; ``names``: the processes whose CPU time to report."""
        cost = Cost()
        sessions, xid = await self._sessions(), await self._next_xid()
        cpu = self._cpu(names)
        started = time.perf_counter()
        yield cost
        cost.seconds = time.perf_counter() - started
        cost.transactions = await self._next_xid() - xid
        cost.connections = await self._sessions() - sessions
        after = self._cpu(names)
        cost.cpu = {name: after[name] - cpu[name] for name in after if name in cpu}
