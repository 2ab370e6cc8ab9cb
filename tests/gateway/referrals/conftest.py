"""The edge app over real HTTP, as the webhook tests serve it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from subgraphs.kit.resources import Resources
from tests.gateway.webhooks.conftest import serve_edge


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def clicks_edge_url(resources: Resources) -> AsyncIterator[str]:
    async for url in serve_edge(resources):
        yield url


@pytest_asyncio.fixture(loop_scope="session")
async def edge(clicks_edge_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=clicks_edge_url, timeout=30) as http:
        yield http
