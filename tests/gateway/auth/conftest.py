"""The auth routes in a tiny Starlette app over the session's real Postgres and Redis, the way
the edge app mounts them (handlers read ``app.state.resources``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from starlette.applications import Starlette

from gateway.edge.auth.routes import auth_routes
from subgraphs.kit.resources import Resources


@pytest_asyncio.fixture(loop_scope="session")
async def auth_http(resources: Resources) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=auth_routes())
    app.state.resources = resources
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://loyalnest.test") as http:
        yield http
