"""Real Postgres and Redis for every test: embedded ones by default, started once per run.

Set DATABASE_URL / REDIS_URL to test against other servers (the database is migrated, never
dropped, in that case). Isolation: each test installs its own merchant, and row-level security
makes every other test's rows invisible to it, exactly as it does for real tenants.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
import pytest_asyncio
import uvicorn
from sqlalchemy import event

from cli.embedded import free_port
from cli.stack import StackEnvironment, resolve_environment
from db.crypto import generate_key
from db.migrate import upgrade
from db.session import system_unit_of_work, tenant_unit_of_work
from gateway.edge.auth.session_tokens import mint_session_token
from subgraphs.admin.merchants.service import install_merchant
from subgraphs.kit.graphql.app import create_subgraph_app
from subgraphs.kit.resources import Resources, open_resources
from subgraphs.kit.settings import Settings
from subgraphs.points.customers.service import register_customer
from subgraphs.points.ledger.service import AdjustCommand, adjust

TEST_DATABASE = "loyalnest_test"
TEST_APP_SECRET = "test-app-secret"
TEST_API_KEY = "test-api-key"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackEnvironment]:
    base = Settings(
        LOYALNEST_DATA_DIR=tmp_path_factory.mktemp("loyalnest-data"),
        SHOPIFY_API_SECRET=TEST_APP_SECRET,
        SHOPIFY_API_KEY=TEST_API_KEY,
        # Fresh keys per session, unless the environment names them: a database that outlives
        # the session (DATABASE_URL; bench/mutants.py runs one pytest session per mutant on
        # one server) holds rows of earlier sessions, which every session must decrypt.
        LOYALNEST_ENCRYPTION_KEYS=os.environ.get("LOYALNEST_ENCRYPTION_KEYS")
        or f"test1:{generate_key()}",
        LOYALNEST_BLIND_INDEX_KEY=os.environ.get("LOYALNEST_BLIND_INDEX_KEY") or generate_key(),
        LOYALNEST_DB_POOL_SIZE=5,
    )
    resolved = resolve_environment(base, database=TEST_DATABASE)
    if resolved.postgres is not None:
        resolved.postgres.without_durability()
        resolved.postgres.drop_database(TEST_DATABASE)
        resolved.postgres.ensure_database(TEST_DATABASE)
    assert resolved.settings.database_url
    upgrade(resolved.settings.database_url)
    yield resolved
    resolved.stop()


@pytest.fixture(scope="session")
def settings(stack: StackEnvironment) -> Settings:
    return stack.settings


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def resources(settings: Settings) -> AsyncIterator[Resources]:
    async with open_resources(settings) as opened:
        yield opened


@dataclass
class Tenant:
    merchant_id: str
    shop_domain: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


def token_for(shop_domain: str, **overrides: Any) -> str:
    return mint_session_token(
        shop_domain=shop_domain, app_secret=TEST_APP_SECRET, api_key=TEST_API_KEY, **overrides
    )


async def new_tenant(resources: Resources) -> Tenant:
    shop = f"t{uuid.uuid4().hex[:12]}.myshopify.com"
    async with system_unit_of_work(resources.sessions) as session:
        merchant = await install_merchant(session, shop)
    return Tenant(merchant_id=merchant.id, shop_domain=shop, token=token_for(shop))


@pytest_asyncio.fixture(loop_scope="session")
async def tenant(resources: Resources) -> Tenant:
    return await new_tenant(resources)


@pytest_asyncio.fixture(loop_scope="session")
async def other_tenant(resources: Resources) -> Tenant:
    return await new_tenant(resources)


async def add_customer(
    resources: Resources, tenant: Tenant, *, email: str | None = None, points: int = 0
) -> str:
    email = email or f"{uuid.uuid4().hex[:10]}@example.com"
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        customer_id = await register_customer(
            session, tenant.merchant_id, resources.cipher, email=email
        )
        if points:
            await adjust(
                session,
                tenant.merchant_id,
                AdjustCommand(customer_id, points, "opening balance", f"open:{customer_id}"),
                now=datetime.now(UTC),
            )
    return customer_id


@asynccontextmanager
async def served_over_http(
    app: Any, *, lifespan: Literal["auto", "on", "off"] = "off"
) -> AsyncIterator[str]:
    """``app`` served by a real uvicorn on a free port (for WebSockets and real HTTP), as
    ``http://127.0.0.1:<port>``; stopped on exit."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # it failed to start: raise why
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def served_subgraph(name: str, resources: Resources) -> AsyncIterator[str]:
    """One subgraph app over real uvicorn, as its WebSocket URL ``ws://…/graphql``."""
    schema_module = importlib.import_module(f"subgraphs.{name}.schema")
    loaders_module = importlib.import_module(f"subgraphs.{name}.loaders")
    app = create_subgraph_app(
        name=name,
        schema=schema_module.schema,
        loaders_factory=getattr(loaders_module, f"build_{name}_loaders"),
        resources=resources,
    )
    async with served_over_http(app) as url:
        yield url.replace("http://", "ws://", 1) + "/graphql"


class SubgraphClient:
    """Talks GraphQL to one subgraph app in-process, over its real ASGI interface."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        tenant: Tenant | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={**(tenant.headers if tenant else {}), **(headers or {})},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def _subgraph_client_fixture(name: str) -> Any:
    @pytest_asyncio.fixture(loop_scope="session", name=f"{name}_client")
    async def fixture(resources: Resources) -> AsyncIterator[SubgraphClient]:
        schema_module = importlib.import_module(f"subgraphs.{name}.schema")
        loaders_module = importlib.import_module(f"subgraphs.{name}.loaders")
        factory = getattr(loaders_module, f"build_{name}_loaders")
        app = create_subgraph_app(
            name=name, schema=schema_module.schema, loaders_factory=factory, resources=resources
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://subgraph") as http:
            yield SubgraphClient(http)

    return fixture


points_client = _subgraph_client_fixture("points")
referrals_client = _subgraph_client_fixture("referrals")
analytics_client = _subgraph_client_fixture("analytics")
admin_client = _subgraph_client_fixture("admin")


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)

    @property
    def count(self) -> int:
        # Transaction bookkeeping (BEGIN, set_config) is not what an N+1 regression adds.
        return sum(1 for s in self.statements if "set_config" not in s)


@pytest.fixture
def count_statements(resources: Resources) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    engine = resources.engine.sync_engine
    event.listen(engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine, "before_cursor_execute", counter)


REPO_ROOT = Path(__file__).resolve().parent.parent
