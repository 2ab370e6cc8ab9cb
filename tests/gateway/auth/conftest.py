"""The auth routes in a tiny Starlette app over the session's real Postgres and Redis, the way
the edge app mounts them (handlers read ``app.state.resources``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
import respx
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


@pytest.fixture
def shopify() -> Iterator[respx.MockRouter]:
    """Shopify's Admin API (the OAuth token endpoint), mocked: it is third-party HTTP."""
    with respx.mock(assert_all_called=False) as router:
        yield router
