"""The Starlette app every subgraph serves: /graphql (HTTP + WebSocket), /health, /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import orjson
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.federation import Schema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage
from strawberry.types.unset import UnsetType

from subgraphs.kit.collector import settle_after_startup
from subgraphs.kit.errors import UnauthenticatedError
from subgraphs.kit.graphql.context import Context, LoadersFactory
from subgraphs.kit.graphql.shared_subscriptions import SharedSubscriptionsHandler
from subgraphs.kit.permissions import may_subscribe
from subgraphs.kit.resources import Resources, open_resources
from subgraphs.kit.settings import Settings, get_settings

log = structlog.get_logger(__name__)

# The router multiplexes every subscription carrying the same token onto one upstream socket,
# so one connection here may carry a whole shop's live dashboards. Strawberry's default (100)
# refused the 101st with DOWNSTREAM_SERVICE_ERROR at the router. Only the router reaches a
# subgraph, so the bound is set for it: generous, still finite.
SUBSCRIPTIONS_PER_CONNECTION = 10_000


# graphql-transport-ws close codes for a refused connection_init, as HTTP's 401 and 403:
# a client can tell "get a token" from "this token may not". Strawberry closes every refusal
# with 4403; the handler below lets the refusal choose.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


class _ConnectionRefusedError(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _TransportWSHandler(SharedSubscriptionsHandler):
    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        # Refused at once, well within the connection-init timeout: the socket is closed
        # with the refusal's code, and nothing was acknowledged.
        try:
            await super().handle_connection_init(message)
        except _ConnectionRefusedError as refusal:
            await self.websocket.close(code=refusal.code, reason=refusal.reason)


class _SubgraphView(GraphQL[Context[Any], None]):
    def __init__(self, name: str, schema: Schema, loaders_factory: LoadersFactory[Any]) -> None:
        self.subgraph_name = name
        super().__init__(
            schema,
            graphql_ide=None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            max_subscriptions_per_connection=SUBSCRIPTIONS_PER_CONNECTION,
        )
        self._loaders_factory = loaders_factory
        self.resources: Resources | None = None

    graphql_transport_ws_handler_class = _TransportWSHandler

    def encode_json(self, data: object) -> str:
        # orjson: the standard encoder was a tenth of a 100-row page's CPU. Text, not bytes:
        # Strawberry sends bytes over a WebSocket as binary frames, which graphql-ws clients
        # do not read. Whatever orjson cannot encode (an int past 64 bits) takes the slow way.
        try:
            return orjson.dumps(data).decode()
        except TypeError:
            encoded = super().encode_json(data)
            return encoded if isinstance(encoded, str) else encoded.decode()

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context[Any]:
        assert self.resources is not None, "resources are opened by the app's lifespan"
        context = Context(
            resources=self.resources,
            request=request,
            response=response,
            loaders_factory=self._loaders_factory,
        )
        if isinstance(request, Request):
            await context.authenticate(request.headers.get("authorization"))
        return context

    async def on_ws_connect(self, context: Context[Any]) -> UnsetType | dict[str, object] | None:
        # Browsers cannot set headers on a WebSocket: the token travels in connection_init.
        params = context.connection_params or {}
        authorization = params.get("Authorization") or params.get("authorization")
        await context.authenticate(authorization if isinstance(authorization, str) else None)
        try:
            viewer = context.viewer
        except UnauthenticatedError as exc:
            raise _ConnectionRefusedError(CLOSE_UNAUTHENTICATED, "Unauthorized") from exc
        if not may_subscribe(viewer):
            raise _ConnectionRefusedError(CLOSE_FORBIDDEN, "Forbidden")
        return None


def create_subgraph_app(
    *,
    name: str,
    schema: Schema,
    loaders_factory: LoadersFactory[Any],
    settings: Settings | None = None,
    resources: Resources | None = None,
) -> Starlette:
    """``resources`` lets tests share one pool across apps; otherwise the lifespan opens them."""
    view = _SubgraphView(name, schema, loaders_factory)
    view.resources = resources

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if resources is not None:
            yield
            return
        async with open_resources(settings or get_settings()) as opened:
            view.resources = opened
            settle_after_startup()
            log.info("subgraph_started", subgraph=name)
            yield

    async def health(_: Request) -> Response:
        checks = {"postgres": False, "redis": False}
        current = view.resources
        if current is not None:
            try:
                async with current.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                checks["postgres"] = True
            except (SQLAlchemyError, OSError):
                pass
            with suppress(RedisError, OSError):
                checks["redis"] = bool(await current.redis.ping())
        # Redis is a cache and a bus: without it we still answer, degraded.
        healthy = checks["postgres"]
        return JSONResponse(
            {"status": "ok" if healthy else "unavailable", "subgraph": name, "checks": checks},
            status_code=200 if healthy else 503,
        )

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),
            Route("/health", health),
            Route("/metrics", metrics),
        ],
        lifespan=lifespan,
    )
