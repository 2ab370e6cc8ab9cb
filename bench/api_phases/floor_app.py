"""The floor of bench/api.py: the least a server can do for the benchmark's query, with the
same libraries and the same work as the points subgraph — verify the HS256 session token, open
one tenant transaction under row-level security (``set_config`` of role and merchant), run the
same SELECT, answer JSON with orjson — and nothing else (no GraphQL, no ORM, no loaders).

    LOYALNEST settings in the environment; uvicorn bench.api_phases.floor_app:app
"""

from __future__ import annotations

from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# The project's code: these paths move with it.
from db.session import APP_ROLE
from subgraphs.kit.auth import bearer_token, shop_domain_from_token
from subgraphs.kit.settings import get_settings

_settings = get_settings()
_state: dict[str, Any] = {}
# Shop domain -> merchant id: the subgraphs cache it too.
_merchants: dict[str, str] = {}

ENTER_TENANT = "SELECT set_config('role', $1, true), set_config('app.merchant_id', $2, true)"
PAGE = """
SELECT id, points_balance FROM customers
WHERE merchant_id = $1 AND points_balance <= $2
ORDER BY id LIMIT $3
"""


async def _pool() -> asyncpg.Pool:
    if "pool" not in _state:
        assert _settings.database_url
        dsn = _settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
        _state["pool"] = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
    pool: asyncpg.Pool = _state["pool"]
    return pool


async def page(request: Request) -> Response:
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        return Response(status_code=401)
    shop, _ = shop_domain_from_token(
        token, app_secret=_settings.shopify_api_secret, api_key=_settings.shopify_api_key
    )
    body = orjson.loads(await request.body())
    pool = await _pool()
    async with pool.acquire() as connection:
        merchant_id = _merchants.get(shop)
        if merchant_id is None:
            merchant_id = await connection.fetchval(
                "SELECT id FROM merchants WHERE shop_domain = $1", shop
            )
            _merchants[shop] = merchant_id
        async with connection.transaction():
            await connection.execute(ENTER_TENANT, APP_ROLE, merchant_id)
            rows = await connection.fetch(PAGE, merchant_id, int(body["k"]), int(body["first"]))
    nodes = [{"id": row["id"], "pointsBalance": str(row["points_balance"])} for row in rows]
    return Response(
        orjson.dumps({"data": {"customers": {"nodes": nodes}}}), media_type="application/json"
    )


app = Starlette(routes=[Route("/graphql", page, methods=["POST"])])
