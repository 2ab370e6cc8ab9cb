"""wrk, the load generator (a C program: it costs the machine far less per request than any
Python client), and what its report says."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("this benchmark needs wrk (Debian: apt-get install wrk)")
    return found


async def start_wrk(
    script: Path,
    url: str,
    *,
    threads: int,
    connections: int,
    seconds: float,
    timeout_seconds: float | None = None,
) -> asyncio.subprocess.Process:
    """wrk running ``script`` against ``url``, its report (with latency percentiles) on its
    stdout; ``timeout_seconds``: how long a request may take before wrk counts it as a
    timeout (wrk's default, 2 s, when None)."""
    timeout = [] if timeout_seconds is None else ["--timeout", f"{timeout_seconds:.0f}s"]
    return await asyncio.create_subprocess_exec(
        wrk_path(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:.0f}s",
        "--latency",
        *timeout,
        "-s",
        str(script),
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def latency_percentiles(output: str) -> dict[str, float]:
    """The percentiles of ``wrk --latency`` in milliseconds, by name ("50", "99", ...)."""
    # wrk pads a value in seconds with a trailing space ("1.92s ").
    found = re.findall(r"^\s+(\d+(?:\.\d+)?)%\s+(\S+)\s*$", output, re.M)
    return {percent: _ms(value) for percent, value in found}


def errors(output: str) -> int:
    """Non-2xx answers and socket errors wrk counted."""
    count = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    return count + sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
