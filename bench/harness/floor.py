"""The floor every benchmark is divided by: pgbench TPC-B on a scratch database of the same
server, in the same run, so that ratios compare across machines."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

TPS_LINE = re.compile(r"^tps = ([0-9.]+)", re.MULTILINE)


def add_floor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--pgbench-clients", type=int, default=8)
    parser.add_argument("--pgbench-threads", type=int, default=2)


@dataclass(frozen=True)
class Floor:
    tps: float
    clients: int
    threads: int
    seconds: int

    def lines(self, label: str) -> list[str]:
        return [
            f"{label} pgbench TPC-B, scale 1: -c {self.clients} -j {self.threads} "
            f"-T {self.seconds}",
            f"    TPS                  {self.tps:10.1f}",
        ]

    def ratio(self, rate: float) -> str:
        return f"{rate / self.tps:.3f}" if self.tps else "n/a"


def _connection(url: str) -> tuple[list[str], dict[str, str]]:
    """pgbench options and environment for a postgresql:// URL (TCP or a unix socket dir)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or ""])[0]
    options = ["-U", unquote(parts.username or "postgres")]
    if host:
        options += ["-h", host]
    if parts.port:
        options += ["-p", str(parts.port)]
    env = {**os.environ}
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    return options, env


def measure_floor(pgbench: str, url: str, args: argparse.Namespace) -> Floor:
    """``pgbench -i -s 1`` into the (empty) database at ``url``, then a timed TPC-B run."""
    options, env = _connection(url)
    database = urlsplit(url).path.lstrip("/")
    floor = Floor(0.0, args.pgbench_clients, args.pgbench_threads, args.pgbench_seconds)
    subprocess.run(
        [pgbench, *options, "-i", "-s", "1", "-q", database],
        env=env,
        check=True,
        capture_output=True,
    )
    timed = ["-c", str(floor.clients), "-j", str(floor.threads), "-T", str(floor.seconds)]
    run = subprocess.run(
        [pgbench, *options, *timed, database],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    match = TPS_LINE.search(run.stdout)
    if match is None:
        raise RuntimeError(f"no tps line in pgbench output:\n{run.stdout}\n{run.stderr}")
    return Floor(float(match.group(1)), floor.clients, floor.threads, floor.seconds)
