"""The edge app served by a real uvicorn on a free port, over the test Postgres and Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
import uvicorn

from cli.embedded import free_port
from gateway.edge.app import create_edge_app
from subgraphs.kit.resources import Resources


async def serve_edge(resources: Resources) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_edge_app(resources=resources),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def edge_url(resources: Resources) -> AsyncIterator[str]:
    async for url in serve_edge(resources):
        yield url


@pytest_asyncio.fixture(loop_scope="session")
async def edge(edge_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge_url, timeout=30) as http:
        yield http
