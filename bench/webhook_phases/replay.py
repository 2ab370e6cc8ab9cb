"""(a)'s load generator: wrk replaying pre-signed deliveries, each sent once.

The Python senders cost 1.2-1.9 ms of CPU per delivery on the machine under test, CPU the
shim then did not get; wrk costs a few hundredths of that, so (a) measures the shim. The
deliveries are written out as raw HTTP requests, NUL-separated; each wrk thread sends every
n-th one, in turn, then its share again from the start until wrk is interrupted (its report
then comes at once), as soon as every delivery is in the inbox. The second round is
duplicates, answered 200 and stored once, save a delivery wrk lost: it drops the first request
one thread makes. The rate is
read from the rows: from the first delivery stored to the last, as (b) reads the worker's.
"""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

from harness.wrk import errors, latency_percentiles, start_wrk

from .deliveries import WEBHOOK_PATH, Delivery, SendResult
from .inbox import Inbox

THREADS = 2

LUA = """
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local requests = {}
local sent = 0

function init(args)
  local file = io.open("%(requests)s", "rb")
  local data = file:read("*a")
  file:close()
  local n = 0
  for request in string.gmatch(data, "([^%%z]+)%%z") do
    if n %% %(threads)d == id then
      table.insert(requests, request)
    end
    n = n + 1
  end
end

function request()
  sent = sent + 1
  return requests[(sent - 1) %% #requests + 1]
end
"""


def raw_request(delivery: Delivery, host: str) -> bytes:
    headers = {"host": host, **delivery.headers, "content-length": str(len(delivery.body))}
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"POST {WEBHOOK_PATH} HTTP/1.1\r\n{head}\r\n".encode() + delivery.body


async def replay(
    deliveries: list[Delivery], base_url: str, inbox: Inbox, *, connections: int, scratch: Path
) -> tuple[SendResult, dict[str, float]]:
    """Send every delivery once over ``connections`` keep-alive connections: the deliveries
    stored and over how long (first to last), what wrk counted as errors, and its latency
    percentiles in milliseconds."""
    host = base_url.removeprefix("http://")
    requests = scratch / "wrk-deliveries.bin"
    requests.write_bytes(b"".join(raw_request(d, host) + b"\0" for d in deliveries))
    script = scratch / "wrk-deliveries.lua"
    script.write_text(LUA % {"requests": requests, "threads": THREADS})
    since = await inbox.now()
    process = await start_wrk(
        script,
        base_url,
        threads=THREADS,
        connections=max(connections, THREADS),
        # An upper bound: wrk is interrupted once every delivery is stored.
        seconds=max(30, len(deliveries) // 20),
        timeout_seconds=30,
    )
    report = asyncio.ensure_future(process.communicate())
    while not report.done():
        stored = await inbox.stored_since(since)
        if stored.count >= len(deliveries):
            process.send_signal(signal.SIGINT)
            break
        await asyncio.sleep(0.1)
    output = (await report)[0].decode()
    if re.search(r"\d+ requests in", output) is None:
        raise RuntimeError(f"wrk said:\n{output}")
    stored = await inbox.stored_since(since)
    result = SendResult(accepted=stored.count, seconds=stored.seconds)
    result.rejected = errors(output)
    if result.rejected:
        result.first_error = f"wrk counted {result.rejected} errors:\n{output}"
    return result, latency_percentiles(output)
