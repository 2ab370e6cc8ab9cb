"""The edge app served by a real uvicorn on a free port, over the test Postgres and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from gateway.edge.app import create_edge_app
from subgraphs.kit.resources import Resources
from tests.conftest import served_over_http


async def serve_edge(resources: Resources) -> AsyncIterator[str]:
    async with served_over_http(create_edge_app(resources=resources), lifespan="on") as url:
        yield url


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def edge_url(resources: Resources) -> AsyncIterator[str]:
    async for url in serve_edge(resources):
        yield url


@pytest_asyncio.fixture(loop_scope="session")
async def edge(edge_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge_url, timeout=30) as http:
        yield http
