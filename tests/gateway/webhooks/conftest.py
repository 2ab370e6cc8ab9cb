"""The edge app served by a real uvicorn on a free port, over the test Postgres and Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest_asyncio

from db.channels import WEBHOOK_INBOX
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


@pytest_asyncio.fixture(loop_scope="session")
async def inbox_wakeups(resources: Resources) -> AsyncIterator[asyncio.Queue[str]]:
    """The merchant ids the inbox notifies the worker of, as a worker hears them (a
    connection of its own, LISTENing on ``db.channels.WEBHOOK_INBOX``)."""
    heard: asyncio.Queue[str] = asyncio.Queue()
    engine = resources.engine
    _, arguments = engine.dialect.create_connect_args(engine.url)
    connection = await asyncpg.connect(**arguments)
    try:
        await connection.add_listener(WEBHOOK_INBOX, lambda *args: heard.put_nowait(args[3]))
        yield heard
    finally:
        await connection.close()
