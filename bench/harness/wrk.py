"""wrk, the load generator (a C program: it costs the machine far less per request than any
Python client), and what its report says."""

from __future__ import annotations

import re
import shutil


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("this benchmark needs wrk (Debian: apt-get install wrk)")
    return found


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
