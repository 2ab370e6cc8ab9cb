"""One benchmark run, the same for every scenario: scratch directory and Postgres, a migrated
scratch database for the scenario, its child processes stopped after it, then the floor on
a second scratch database, and the report."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop

# The project's code: this path moves with it.
from db.migrate import upgrade_async

from .floor import add_floor_arguments, measure_floor
from .processes import Processes
from .report import Report
from .servers import (
    Server,
    postgres_server,
    scratch_databases,
    scratch_directory,
    server_version,
)


@dataclass
class Bench:
    """What a scenario is given."""

    # The scenario's database, migrated to head.
    url: str
    # Removed at exit.
    scratch: Path
    # Stopped when the scenario returns or fails, before the floor is measured.
    processes: Processes
    report: Report


Scenario = Callable[[Bench, argparse.Namespace], Awaitable[None]]


def scenario_parser(doc: str | None) -> argparse.ArgumentParser:
    """A scenario's option parser, described by the first paragraph of its docstring (pass the
    scenario module's ``__doc__``); ``run`` adds the floor's options to it."""
    return argparse.ArgumentParser(description=(doc or "").split("\n\n", 1)[0])


def run(name: str, parser: argparse.ArgumentParser, scenario: Scenario, *, floor: str) -> None:
    """Parse the options (``parser``'s and the floor's), run ``scenario``, measure the floor
    and print the report; ``floor`` is the floor's section label in it."""
    add_floor_arguments(parser)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        with scratch_directory() as scratch, postgres_server(scratch) as server:
            # On the loop our processes serve on (subgraphs, edge and worker run uvloop): what a
            # scenario runs in this process (the ledger's awards, read_cpu's requests) costs
            # here what it costs there.
            report = uvloop.run(_run(name, server, scratch, scenario, args, floor))
            report.print()
    except KeyboardInterrupt:
        # The finally blocks have stopped our processes and dropped the scratch databases.
        raise SystemExit("interrupted") from None


async def _run(
    name: str,
    server: Server,
    scratch: Path,
    scenario: Scenario,
    args: argparse.Namespace,
    floor: str,
) -> Report:
    report = Report(f"LoyalNest {name} benchmark", server.description, floor)
    async with scratch_databases(server, f"bench_{name}", "bench_pgbench") as (url, tpcb_url):
        await upgrade_async(url)
        report.version = await server_version(url)
        processes = Processes(scratch)
        try:
            await scenario(Bench(url, scratch, processes, report), args)
        finally:
            processes.stop_all()
        # After the scenario's processes have stopped: idle, they would still not share the
        # CPU for free.
        report.floor = await asyncio.to_thread(measure_floor, server.pgbench, tpcb_url, args)
    return report


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    # Unwinds through the finally blocks, which stop our processes and drop the databases;
    # the scratch directory goes at exit.
    raise SystemExit(128 + signum)
