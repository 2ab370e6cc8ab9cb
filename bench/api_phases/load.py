"""Load with wrk: ``--connections`` keep-alive connections for ``seconds``, every request a POST
whose balance bound varies (so neither a cache nor the router's deduplication can answer it),
the throughput and latency percentiles read from wrk's report."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.wrk import errors, latency_percentiles, start_wrk

LUA = """
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer {token}"
-- Each wrk thread has its own Lua state: seeded alike, the threads would send the same bounds
-- in lockstep, and a router's deduplication of identical in-flight requests would answer
-- one thread's requests with another's (it did, until 2026-12-02). One seed per thread.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("seed", 7 + threads)
end
function init(args)
  math.randomseed(seed)
end
request = function()
  return wrk.format(nil, nil, nil, string.format([[{body}]], math.random(0, {max_bound})))
end
"""


@dataclass(frozen=True)
class Load:
    label: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int

    def line(self) -> str:
        errors = f", {self.errors} non-2xx/socket errors" if self.errors else ""
        return (
            f"    {self.label:<34} {self.requests_per_second:8.0f} req/s   "
            f"p50 {self.p50_ms:6.1f} ms  p99 {self.p99_ms:6.1f} ms{errors}"
        )


async def run_wrk(
    label: str,
    url: str,
    *,
    body: str,
    token: str,
    max_bound: int,
    scratch: Path,
    seconds: float,
    connections: int,
) -> Load:
    """``body`` has one ``%d``: the balance bound, drawn from 0..``max_bound`` per request."""
    script = scratch / f"wrk-{re.sub(r'[^a-z0-9]+', '-', label.lower())}.lua"
    script.write_text(LUA.format(token=token, body=body, max_bound=max_bound))
    process = await start_wrk(
        script, url, threads=min(2, connections), connections=connections, seconds=seconds
    )
    output = (await process.communicate())[0].decode()
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    percentiles = latency_percentiles(output)
    if rate is None or not {"50", "99"} <= set(percentiles):
        raise RuntimeError(f"wrk said:\n{output}")
    return Load(label, float(rate.group(1)), percentiles["50"], percentiles["99"], errors(output))
