"""The worker serves its Prometheus metrics on a port of its own, when told to."""

from __future__ import annotations

import socket
from typing import Any

import httpx

from subgraphs.kit.settings import Settings
from worker.settings import _shutdown, _startup


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_worker_serves_its_metrics_while_it_runs(settings: Settings) -> None:
    port = _free_port()
    ctx: dict[str, Any] = {"settings": settings.model_copy(update={"worker_metrics_port": port})}
    await _startup(ctx)
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/metrics")
        assert response.status_code == 200
        assert "loyalnest_worker_queue_delay_seconds_bucket" in response.text
        assert "loyalnest_worker_batch_size_bucket" in response.text
        assert "loyalnest_worker_inbox_listening" in response.text
    finally:
        await _shutdown(ctx)
    # Stopped with the worker: the port is free again (SO_REUSEADDR: the scrape's own
    # connection may linger in TIME_WAIT).
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
